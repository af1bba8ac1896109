import AxleTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory for one test's files, removed when the test ends.
final class TestDirectory {
    let path: String

    init() throws {
        path = try AxleProcess.makeTemporaryDirectory()
    }

    deinit {
        _ = system("rm -rf " + AxleProcess.shellQuote(path))
    }

    var databasePath: String { path + "/commands.db" }
}
