import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The backend tool signs and watches; it has no database. It links the command envelope and keys
/// (RemoteCommands), not the agent's journal (CommandStore), so no SQLite reaches the operator's machine.
@Suite("axle-fleet's shared libraries")
struct FleetLinkageTests {
    /// `ldd`'s list for a built executable (the dynamic loader's view: what must be installed to run it).
    static func sharedLibraries(_ name: String) throws -> String {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let executable = AxleProcess.builtExecutable(name)
        let output = directory + "/ldd"
        let status = system("ldd \(AxleProcess.shellQuote(executable)) > \(AxleProcess.shellQuote(output)) 2>&1")
        let text = AxleProcess.readText(output)
        try #require(status == 0, "ldd \(executable) failed (build it first: swift build): \(text)")
        return text
    }

    @Test func axleFleetDoesNotLinkSQLite() throws {
        let fleet = try Self.sharedLibraries("axle-fleet")
        #expect(fleet.contains("libc.so"), "\(fleet)")
        #expect(!fleet.contains("sqlite"), "axle-fleet links SQLite:\n\(fleet)")
        // The same check sees SQLite where it is linked: the agent keeps its outbox and journal in it.
        #expect(try Self.sharedLibraries("axled").contains("libsqlite3"))
    }
}
