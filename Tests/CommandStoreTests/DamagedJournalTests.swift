import AxleBase
import AxleTestSupport
import CommandStore
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A damaged `commands.db` (docs/commands.md "Journal"): replaced at open, never an agent that cannot start or a
/// journal that fails every command, and replay protection kept across the replacement.
@Suite("Damaged journal")
struct DamagedJournalTests {
    static let pageSize = 4096

    /// A journal file with `count` finished commands (enough for several pages) and one active entitlement, closed
    /// (so that everything is in the main file, not the WAL). Returns the first command.
    static func populatedJournal(at path: String, count: Int = 300) throws -> VerifiedCommand {
        let journal = try CommandJournal(path: path)
        let store = EntitlementStore(journal: journal)
        try store.grant(Entitlement(feature: "heated_seats", commandID: "grant-1", state: .active))
        var first: VerifiedCommand?
        for counter in 1...UInt64(count) {
            let command = JournalTests.verified(counter: counter, received: 1000 + Int64(counter))
            #expect(try journal.claim(command, reply: ReplyAddress(responseTopic: "fleet/replies/\(counter)")) == .claimed)
            try journal.finish(id: command.request.id, status: .succeeded, reason: nil, text: nil, atMillis: 5000)
            first = first ?? command
        }
        return try #require(first)
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) {
        let fd = open(path, O_WRONLY)
        precondition(fd >= 0, "cannot open \(path)")
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        close(fd)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    enum Damage: String, CaseIterable {
        case truncated, randomBytes, threeRandomPages
    }

    static func damage(_ path: String, _ kind: Damage) {
        let size = fileSize(path)
        switch kind {
        case .truncated:
            #expect(truncate(path, off_t(size / 2 + 100)) == 0)
        case .randomBytes:
            overwrite(path, at: 0, with: randomBytes(size))
        case .threeRandomPages:
            // Not page 1 (the header): damage inside the file that opening alone does not notice.
            let pages = size / pageSize
            var chosen = Set<Int>()
            while chosen.count < 3 { chosen.insert(Int.random(in: 2..<pages)) }
            for page in chosen { overwrite(path, at: page * pageSize, with: randomBytes(pageSize)) }
        }
    }

    @Test("a truncated, random or partly overwritten journal is moved aside and replaced", arguments: Damage.allCases)
    func damagedJournalIsReplaced(_ kind: Damage) throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        let old = try Self.populatedJournal(at: path)
        #expect(Self.fileSize(path) > 10 * Self.pageSize)
        Self.damage(path, kind)

        let before = wallClockMillis()
        let journal = try CommandJournal(path: path, clockSkewMillis: 30_000)
        guard case .replacedDamaged(let movedTo, let reason, _, let cutoff) = journal.openReport else {
            Issue.record("the \(kind) journal was not replaced: \(journal.openReport)")
            return
        }
        #expect(movedTo.hasPrefix(path + ".damaged-"))
        #expect(Self.fileSize(movedTo) > 0, "the damaged copy is kept at \(movedTo)")
        #expect(!reason.isEmpty)
        #expect(cutoff >= before + 30_000 && cutoff <= wallClockMillis() + 30_000)
        #expect(try journal.recent(limit: 10).isEmpty)

        // The old command (issued long before the replacement) is refused: the old journal knew it, this one cannot.
        guard case .replay(let refused) = try journal.claim(old, reply: ReplyAddress()) else {
            Issue.record("a command issued before the replacement was claimed again")
            return
        }
        #expect(refused.reason == .replay)
        // Issued just before the cutoff (a backend clock ahead of the vehicle's): still refused.
        let borderline = JournalTests.verified(counter: 1_000_000, received: cutoff - 1)
        #expect(try journal.claim(borderline, reply: ReplyAddress()) != .claimed)
        let fresh = JournalTests.verified(counter: 1_000_001, received: cutoff)
        #expect(try journal.claim(fresh, reply: ReplyAddress()) == .claimed)

        // The entitlements share the new file, and the refusal outlives a restart.
        let store = EntitlementStore(journal: journal)
        #expect(try store.all().isEmpty)
        let reopened = try CommandJournal(path: path)
        #expect(reopened.openReport == .opened)
        #expect(reopened.refusesIssuedBeforeMillis == cutoff)
        #expect(try reopened.claim(JournalTests.verified(counter: 7, received: cutoff - 10), reply: ReplyAddress()) != .claimed)
    }

    @Test("entitlements a readable damaged copy still lists are reported as lost")
    func lostEntitlementsAreListed() throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        _ = try Self.populatedJournal(at: path, count: 3)
        // What a run-time corruption leaves behind (CommandDatabase marks the file when a lookup hits damage).
        _ = try AxleProcess.writeFile(path + ".damaged", "looking up the id failed: database disk image is malformed\n")
        let journal = try CommandJournal(path: path)
        guard case .replacedDamaged(_, let reason, let lost, _) = journal.openReport else {
            Issue.record("a journal marked damaged at run time was kept: \(journal.openReport)")
            return
        }
        #expect(reason.contains("malformed"))
        #expect(lost == ["heated_seats"])
        #expect(Self.fileSize(path + ".damaged") == -1, "the marker is removed with the replacement")
    }

    @Test("a journal that cannot be opened at all refuses every command with the reason")
    func disabledJournalRefusesCommands() throws {
        let journal = try CommandJournal(disabledBecause: "cannot open /data/commands.db: read-only file system")
        #expect(throws: CommandJournalError.self) {
            try journal.claim(JournalTests.verified(counter: 1), reply: ReplyAddress())
        }
        do {
            _ = try journal.claim(JournalTests.verified(counter: 2), reply: ReplyAddress())
        } catch {
            #expect(error.description.contains("read-only file system"))
        }
        #expect(try journal.recent(limit: 5).isEmpty)
    }
}
