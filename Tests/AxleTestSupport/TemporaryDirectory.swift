/// A new empty directory under /tmp for one test's files, removed with everything in it when the test lets go of it.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        path = try AxleProcess.makeTemporaryDirectory()
    }

    deinit {
        removeTree(path)
    }
}
