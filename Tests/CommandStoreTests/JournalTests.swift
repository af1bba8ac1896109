import AxleTestSupport
import CommandStore
import RemoteCommands
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Journal")
struct JournalTests {
    static func verified(id: String = CommandRequest.newID(), counter: UInt64, keyID: String = "fleet-1", received: Int64 = 1000)
        -> VerifiedCommand
    {
        VerifiedCommand(
            request: CommandRequest(
                id: id, vehicle: "VIN123", name: "trunk.open", issuedAtMillis: received, expiresAtMillis: received + 30_000,
                counter: counter),
            keyID: keyID, receivedAtMillis: received, monotonicDeadline: 30)
    }

    @Test func aClaimedCommandIsAReplayBySameIDOrSameKeyAndCounter() throws {
        let directory = try TestDirectory()
        let journal = try CommandJournal(path: directory.databasePath)
        let command = Self.verified(counter: 5)
        let reply = ReplyAddress(responseTopic: "fleet/replies/1", correlationData: [1, 2, 3])
        #expect(try journal.claim(command, reply: reply) == .claimed)

        guard case .replay(let byID) = try journal.claim(command, reply: ReplyAddress()) else {
            Issue.record("the same id was claimed twice")
            return
        }
        #expect(byID.id == command.request.id)
        #expect(byID.status == .accepted)
        #expect(byID.reply == reply)

        // Same key and counter under a new id: the same signed intent re-wrapped.
        guard case .replay(let byCounter) = try journal.claim(Self.verified(counter: 5), reply: ReplyAddress()) else {
            Issue.record("the same key and counter were claimed twice")
            return
        }
        #expect(byCounter.id == command.request.id)
        // The same counter under another key is a different command.
        #expect(try journal.claim(Self.verified(counter: 5, keyID: "fleet-2"), reply: ReplyAddress()) == .claimed)
    }

    @Test func replaysAreRecognisedAfterReopeningTheFile() throws {
        let directory = try TestDirectory()
        let command = Self.verified(counter: 9)
        do {
            let journal = try CommandJournal(path: directory.databasePath)
            #expect(try journal.claim(command, reply: ReplyAddress()) == .claimed)
            try journal.markStarted(id: command.request.id, atMillis: 1001)
            try journal.finish(id: command.request.id, status: .succeeded, reason: nil, text: nil, atMillis: 1002)
        }
        let reopened = try CommandJournal(path: directory.databasePath)
        #expect(reopened.interruptedAtOpen.isEmpty)
        guard case .replay(let entry) = try reopened.claim(command, reply: ReplyAddress()) else {
            Issue.record("claimed again after a restart")
            return
        }
        #expect(entry.status == .succeeded)
        #expect(entry.updatedAtMillis == 1002)
    }

    @Test func unfinishedCommandsBecomeInterruptedOnceAtTheNextOpen() throws {
        let directory = try TestDirectory()
        let accepted = Self.verified(counter: 1, received: 1000)
        let started = Self.verified(counter: 2, received: 2000)
        let done = Self.verified(counter: 3, received: 3000)
        do {
            let journal = try CommandJournal(path: directory.databasePath)
            for command in [accepted, started, done] { _ = try journal.claim(command, reply: ReplyAddress()) }
            try journal.markStarted(id: started.request.id, atMillis: 2001)
            try journal.markStarted(id: done.request.id, atMillis: 3001)
            try journal.finish(id: done.request.id, status: .timedOut, reason: .noConfirmation, text: "no feedback", atMillis: 3002)
        }
        let second = try CommandJournal(path: directory.databasePath)
        #expect(second.interruptedAtOpen.map(\.id) == [accepted.request.id, started.request.id])
        #expect(second.interruptedAtOpen.allSatisfy { $0.status == .interrupted && $0.reason == .agentRestarted })
        #expect(second.interruptedAtOpen[0].text?.contains("it was not run") == true)
        #expect(second.interruptedAtOpen[1].text?.contains("not run again") == true)
        #expect(try second.entry(id: started.request.id)?.status == .interrupted)
        #expect(try second.entry(id: done.request.id)?.status == .timedOut)
        // An interrupted command is never run again: it stays a replay.
        guard case .replay = try second.claim(started, reply: ReplyAddress()) else {
            Issue.record("an interrupted command could be claimed again")
            return
        }
        let third = try CommandJournal(path: directory.databasePath)
        #expect(third.interruptedAtOpen.isEmpty)
    }

    @Test func pruningForgetsOldCommandsButKeepsTheirCountersAsAFloor() throws {
        let directory = try TestDirectory()
        let journal = try CommandJournal(path: directory.databasePath)
        let old = Self.verified(counter: 10, received: 1000)
        let running = Self.verified(counter: 11, received: 1500)
        let recent = Self.verified(counter: 20, received: 5000)
        for command in [old, running, recent] { _ = try journal.claim(command, reply: ReplyAddress()) }
        try journal.finish(id: old.request.id, status: .succeeded, reason: nil, text: nil, atMillis: 1001)
        try journal.markStarted(id: running.request.id, atMillis: 1501)
        try journal.finish(id: recent.request.id, status: .succeeded, reason: nil, text: nil, atMillis: 5001)

        try journal.prune(receivedBeforeMillis: 2000)
        #expect(try journal.entry(id: old.request.id) == nil)
        #expect(try journal.entry(id: running.request.id)?.status == .inProgress)  // unfinished: kept
        #expect(try journal.recent(limit: 10).map(\.id) == [recent.request.id, running.request.id])

        // The forgotten command, and any lower counter of its key, is still a replay.
        for counter: UInt64 in [10, 3] {
            let again = Self.verified(id: counter == 10 ? old.request.id : CommandRequest.newID(), counter: counter)
            guard case .replay(let entry) = try journal.claim(again, reply: ReplyAddress()) else {
                Issue.record("counter \(counter) was claimed after pruning")
                continue
            }
            #expect(entry.reason == .replay)
            #expect(entry.text?.contains("at or below 10") == true)
        }
        #expect(try journal.claim(Self.verified(counter: 12), reply: ReplyAddress()) == .claimed)
        // Another key has no floor.
        #expect(try journal.claim(Self.verified(counter: 3, keyID: "fleet-9"), reply: ReplyAddress()) == .claimed)

        // Floors survive a reopen, and counters beyond Int64 compare as unsigned.
        let huge = Self.verified(counter: UInt64.max - 1, received: 100)
        _ = try journal.claim(huge, reply: ReplyAddress())
        try journal.finish(id: huge.request.id, status: .succeeded, reason: nil, text: nil, atMillis: 101)
        try journal.prune(receivedBeforeMillis: 2000)
        let reopened = try CommandJournal(path: directory.databasePath)
        guard case .replay = try reopened.claim(Self.verified(counter: 1 << 63), reply: ReplyAddress()) else {
            Issue.record("a counter below a huge floor was claimed")
            return
        }
        #expect(try reopened.claim(Self.verified(counter: UInt64.max), reply: ReplyAddress()) == .claimed)
    }

    @Test func updatingAnUnknownCommandIsAnError() throws {
        let directory = try TestDirectory()
        let journal = try CommandJournal(path: directory.databasePath)
        do {
            try journal.markStarted(id: "nope", atMillis: 1)
            Issue.record("marked an unknown command")
        } catch {
            #expect(error.description.contains("no command nope"))
        }
    }

    @Test func concurrentClaimsOfOneCommandClaimItOnce() throws {
        let directory = try TestDirectory()
        let journal = try CommandJournal(path: directory.databasePath)
        let command = Self.verified(counter: 1)
        let claims = Mutex(0)
        let replays = Mutex(0)
        DispatchlessThreads.run(count: 4) {
            for _ in 0..<25 {
                switch try? journal.claim(command, reply: ReplyAddress()) {
                case .claimed: claims.withLock { $0 += 1 }
                case .replay: replays.withLock { $0 += 1 }
                case nil: break
                }
            }
        }
        #expect(claims.withLock { $0 } == 1)
        #expect(replays.withLock { $0 } == 99)
    }

    @Test func journalAndEntitlementsShareOneFileAndOneConnection() throws {
        let directory = try TestDirectory()
        do {
            let journal = try CommandJournal(path: directory.databasePath)
            let store = EntitlementStore(journal: journal)
            _ = try journal.claim(Self.verified(counter: 1), reply: ReplyAddress())
            try store.grant(Entitlement(feature: "heated-seats", commandID: "c"))
            _ = try journal.claim(Self.verified(counter: 2), reply: ReplyAddress())
            #expect(try store.all().map(\.feature) == ["heated-seats"])
            #expect(try journal.recent(limit: 5).count == 2)
            // One connection: the process has commands.db open once (a second connection opens it again).
            #expect(Self.openDescriptors(of: directory.databasePath) == 1)
        }
        // Both were written to the one file.
        let reopened = try CommandJournal(path: directory.databasePath)
        #expect(try EntitlementStore(journal: reopened).all().map(\.feature) == ["heated-seats"])
        #expect(try reopened.recent(limit: 5).count == 2)
    }

    /// How many of this process's file descriptors refer to `path` (/proc/self/fd).
    static func openDescriptors(of path: String) -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var target = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
            guard length > 0 else { continue }
            if String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) == path { count += 1 }
        }
        return count
    }
}

/// Runs `body` on `count` threads at once and waits for all of them (pthreads: no Foundation, no Dispatch).
enum DispatchlessThreads {
    static func run(count: Int, _ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            // Handed to one thread only, through pthread_create's argument.
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var threads: [pthread_t] = []
        for _ in 0..<count {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(Box(body)).toOpaque()
            pthread_create(&thread, nil, { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                box.body()
                return nil
            }, box)
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
    }
}
