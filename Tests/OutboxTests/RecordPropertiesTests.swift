import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Records keep what MQTT needs besides topic, QoS and payload (the retain flag, Content Type, Correlation Data), so
/// that command answers and the retained feature state can wait in the outbox (docs/outbox.md, schema 2).
@Suite("Record properties and the schema 2 upgrade")
struct RecordPropertiesTests {
    private let answer = RecordProperties(
        retain: false, contentType: "application/json", correlationData: Array("3f1c0f7e-command-id".utf8))

    private func answerDraft(_ properties: RecordProperties, payload: String = #"{"status":"SUCCEEDED"}"#) -> RecordDraft {
        RecordDraft(
            priority: .critical, createdAtMillis: 1_700_000_000_000, expiresAtMillis: nil, topic: "axle/v1/car/cmd/res",
            qos: 1, properties: properties, payload: { _ in Array(payload.utf8) })
    }

    @Test("properties come back as appended, also after reopening; records without them have none")
    func propertiesRoundTrip() throws {
        let directory = try TestDirectory()
        let configuration = OutboxConfiguration(path: directory.databasePath)
        let store = try OutboxStore(configuration: configuration)
        let retained = RecordProperties(retain: true, contentType: "application/json")
        try store.append([answerDraft(answer), answerDraft(retained), draft(.telemetry)])
        store.close()

        let reopened = try OutboxStore(configuration: configuration)
        defer { reopened.close() }
        let records = try reopened.nextRecords(limit: 10, classes: allClasses, excluding: [])
        #expect(records.map(\.properties) == [answer, retained, .none])
        #expect(records.first?.payload == Array(#"{"status":"SUCCEEDED"}"#.utf8))
    }

    @Test("a dead-lettered answer keeps its properties")
    func deadLetterKeepsProperties() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath))
        defer { store.close() }
        let sequences = try store.append([answerDraft(answer)])
        try store.deadLetter(sequence: sequences[0], reason: "broker refused the message: reason code 0x87")
        let letters = try store.deadLetters(limit: 10)
        #expect(letters.map(\.record.properties) == [answer])
    }

    // Needs Debian's sqlite3 shell to write a version 1 file as the previous Axle did.
    @Test(
        "a version 1 outbox is upgraded in place: its records stay, with no properties; new ones keep theirs",
        .enabled(if: fileExists("/usr/bin/sqlite3"), "the sqlite3 shell is not installed"))
    func versionOneFileIsUpgraded() throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        // The layout of schema 1, and one telemetry record (sequence 7) waiting in it.
        let versionOne = """
            PRAGMA journal_mode=WAL;
            CREATE TABLE records(position INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, expires_at INTEGER,
                topic TEXT NOT NULL, qos INTEGER NOT NULL, payload BLOB NOT NULL);
            CREATE INDEX records_by_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;
            CREATE TABLE classes(priority INTEGER PRIMARY KEY, records INTEGER NOT NULL DEFAULT 0,
                payload_bytes INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,
                refused INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0);
            INSERT INTO classes(priority) VALUES (0), (1), (2), (3);
            CREATE TABLE dead_letters(sequence INTEGER PRIMARY KEY, priority INTEGER NOT NULL,
                created_at INTEGER NOT NULL, expires_at INTEGER, topic TEXT NOT NULL, qos INTEGER NOT NULL,
                payload BLOB NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
            CREATE TABLE drops(id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, first INTEGER NOT NULL,
                last INTEGER NOT NULL, count INTEGER NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL,
                reported INTEGER NOT NULL DEFAULT 0, delivered_mark INTEGER NOT NULL);
            CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO meta(key, value) VALUES ('last_sequence', 7), ('cap_bytes', 0);
            INSERT INTO records VALUES ((2 << 56) | 7, 1700000000000, NULL, 'axle/v1/car/telemetry', 1, x'0102');
            UPDATE classes SET records = 1, payload_bytes = 2 WHERE priority = 2;
            PRAGMA application_id=1096305733;
            PRAGMA user_version=1;
            """
        let script = directory.path + "/v1.sql"
        _ = try AxleProcess.writeFile(script, versionOne)
        #expect(system("sqlite3 \(path) < \(script) >/dev/null 2>&1") == 0)

        let store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        #expect(store.openReport == .opened)
        let sequences = try store.append([answerDraft(answer)])
        #expect(sequences == [8])
        let records = try store.nextRecords(limit: 10, classes: allClasses, excluding: [])
        #expect(records.map(\.sequence) == [8, 7])
        #expect(records.map(\.properties) == [answer, .none])
        #expect(records.last?.payload == [1, 2])
        store.close()

        let version = try ChildProcess.run("/usr/bin/sqlite3", [path, "PRAGMA user_version"])
        #expect(version.output.split(separator: "\n").first == "2", "\(version.output)")
    }
}
