import AxleTestSupport

/// A test's temporary directory (AxleTestSupport), with the database file this target's tests use.
typealias TestDirectory = TemporaryDirectory

extension TemporaryDirectory {
    var databasePath: String { path + "/commands.db" }
}
