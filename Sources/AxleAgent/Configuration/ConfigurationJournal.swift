import AxleBase
import ConfigBundle

#if canImport(Glibc)
import Glibc
#endif

/// What the configuration service must remember across restarts beside the store's links: the last version received
/// and where it stands, and the bundle hash of each version on disk (for the report). `ROOT/state.json`, written by
/// rename of a fsynced temporary file, so that a crash leaves the old state or the new one.
///
/// ```json
/// {"last":{"version":3,"bundle_sha256":"…","status":"TRIAL"},"bundles":{"2":"…","3":"…"}}
/// ```
struct ConfigurationJournal {
    let path: String
    /// The last version received, and where it stands.
    var last: ConfigurationReport.Received?
    /// Version → the SHA-256 of the bundle it came in.
    var bundles: [UInt64: String] = [:]

    /// Reads the journal at `path`; none (the first start) or an unreadable one is an empty journal, said in `problem`.
    init(path: String) {
        self.path = path
        guard let bytes = try? FileInput.readAll(path: path) else { return }
        guard let value = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)) else {
            problem = "\(path) is not JSON: the last version received is forgotten"
            return
        }
        last = value["last"].flatMap { try? ConfigurationReport.Received.parse($0) }
        if case .object(let members)? = value["bundles"] {
            for (version, digest) in members {
                if let number = UInt64(version), let text = digest.stringValue { bundles[number] = text }
            }
        }
    }

    /// Set when the file could not be read.
    private(set) var problem: String?

    /// Writes the journal durably (temporary file, fsync, rename, directory fsync).
    func save() throws(SystemError) {
        var members: [(String, JSONValue)] = []
        if let last { members.append(("last", last.json)) }
        members.append(("bundles", .object(bundles.sorted { $0.key < $1.key }.map { ("\($0.key)", .string($0.value)) })))
        try DurableFile.write(Array(JSONValue.object(members).rendered().utf8), to: path)
    }

    /// Keeps only the hashes of the versions still on disk.
    mutating func keepBundles(of versions: [UInt64]) {
        bundles = bundles.filter { versions.contains($0.key) }
    }
}
