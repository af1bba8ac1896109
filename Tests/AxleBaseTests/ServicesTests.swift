import AxleBase
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the services started, in the order they did things.
private final class Journal: Sendable {
    let entries = Mutex<[String]>([])
    func note(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

@Suite("services: stop tokens, joinable threads, groups with one shutdown budget, bounded queues")
struct ServicesTests {
    @Test("a stop request wakes every waiter at once, and waiting after it returns at once")
    func stopTokenWakesWaiters() {
        let token = StopToken()
        #expect(!token.wait(seconds: 0.01))
        let woken = Atomic<Int>(0)
        let waiters = (0..<3).map { index in
            JoinableThread(name: "waiter-\(index)") {
                if token.wait(seconds: 60) { woken.add(1, ordering: .relaxed) }
            }
        }
        token.requestStop()
        token.requestStop()
        for waiter in waiters { #expect(waiter.join(seconds: 10), "a waiter slept through the stop request") }
        #expect(woken.load(ordering: .relaxed) == 3)
        #expect(token.wait(seconds: 60))
    }

    @Test("a group starts services in order and stops them in reverse, each after the one started after it returned")
    func reverseOrder() {
        let journal = Journal()
        let group = ServiceGroup(log: { journal.note("log: \($0)") })
        for name in ["outbox", "uplink", "pipeline"] {
            let started = StopToken()
            group.start(ClosureService(name: name) { stop in
                journal.note("start \(name)")
                started.requestStop()
                while !stop.wait(seconds: 0.05) {}
                journal.note("stop \(name)")
            })
            started.wait(seconds: 10)
        }
        #expect(group.names == ["outbox", "uplink", "pipeline"])
        let results = group.stop(budgetSeconds: 10)
        #expect(results.map(\.name) == ["pipeline", "uplink", "outbox"])
        #expect(results.allSatisfy { !$0.overran })
        #expect(journal.all == ["start outbox", "start uplink", "start pipeline", "stop pipeline", "stop uplink", "stop outbox"])
    }

    @Test("a service that overruns is reported and left behind; the others still stop within the one budget")
    func overrunWithinBudget() {
        let journal = Journal()
        let group = ServiceGroup(log: { journal.note($0) })
        let release = StopToken()
        group.start(ClosureService(name: "quick") { stop in stop.wait(seconds: 60) })
        group.start(ClosureService(name: "stuck") { _ in release.wait(seconds: 60) })
        let started = monotonicSeconds()
        let results = group.stop(budgetSeconds: 0.3)
        let elapsed = monotonicSeconds() - started
        #expect(results.map(\.name) == ["stuck", "quick"])
        #expect(results.map(\.overran) == [true, false])
        #expect(elapsed < 5, "the stop took \(elapsed) s for a budget of 0.3 s")
        #expect(journal.all.contains { $0.contains("stuck did not stop within the shutdown budget") }, "\(journal.all)")
        release.requestStop()
    }

    @Test("interrupt wakes a service blocked where it does not look at its token")
    func interruptUnblocks() {
        let unblock = StopToken()
        let group = ServiceGroup(log: { _ in })
        group.start(ClosureService(name: "accept", interrupt: { unblock.requestStop() }) { _ in unblock.wait(seconds: 60) })
        let results = group.stop(budgetSeconds: 5)
        #expect(results.first?.overran == false)
    }

    @Test("a service that ends by itself is reported, and stopping it later is immediate")
    func earlyExit() {
        let ended = Mutex<[String]>([])
        let reported = StopToken()
        let group = ServiceGroup(log: { _ in }, onEarlyExit: { name in
            ended.withLock { $0.append(name) }
            reported.requestStop()
        })
        group.start(ClosureService(name: "replay") { _ in })
        #expect(reported.wait(seconds: 10))
        #expect(ended.withLock { $0 } == ["replay"])
        #expect(group.stop(budgetSeconds: 1).first?.overran == false)
    }

    @Test("a bounded queue refuses and counts what does not fit, and hands over everything in order")
    func boundedQueue() {
        let queue = BoundedQueue<Int>(capacity: 3)
        #expect(queue.takeAll() == [])
        #expect((1...5).map { queue.offer($0) } == [true, true, true, false, false])
        #expect(queue.count == 3 && queue.dropped == 2)
        #expect(queue.takeAll() == [1, 2, 3])
        #expect(queue.count == 0 && queue.takeAll() == [])
        #expect(queue.offer(6) && queue.takeAll() == [6] && queue.dropped == 2)
    }

    @Test("a bounded queue between threads loses nothing it accepted")
    func boundedQueueAcrossThreads() {
        let queue = BoundedQueue<Int>(capacity: 64)
        let producer = JoinableThread(name: "producer") {
            for value in 0..<10_000 { while !queue.offer(value) { sched_yield() } }
        }
        var received: [Int] = []
        while received.count < 10_000 {
            let batch = queue.takeAll()
            if batch.isEmpty { sched_yield() }
            received += batch
        }
        #expect(producer.join(seconds: 10))
        #expect(received == Array(0..<10_000))
    }
}
