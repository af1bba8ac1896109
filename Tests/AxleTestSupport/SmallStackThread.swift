#if canImport(Glibc)
import Glibc
#endif

/// Runs code on a thread with a small, known stack and measures how much of it the code used: the parsers' depth
/// limits must hold on the smallest stack the agent may run them on, in the slowest (debug) build.
public enum SmallStackThread {
    /// A stack smaller than any the agent's threads get: they are created with default attributes, so their stacks are
    /// RLIMIT_STACK in size (8 MiB by default, and under systemd).
    public static let stackSize = 512 * 1024

    /// Runs `body` on a new thread whose stack is `stackSize` bytes, waits for it and returns what it returned and
    /// the most stack it used in bytes (the stack is filled with a pattern first; the deepest overwritten byte marks
    /// the high-water mark). A page below the stack is left inaccessible, so an overflow is a crash rather than
    /// silent damage to other memory.
    public static func run<T>(stackSize: Int = stackSize, _ body: @escaping () -> T) -> (result: T, stackUsed: Int) {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (stackSize + pageSize - 1) / pageSize * pageSize
        guard let mapping = mmap(nil, size + pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapping != MAP_FAILED
        else { fatalError("mmap of a \(size)-byte stack failed: errno \(errno)") }
        defer { munmap(mapping, size + pageSize) }
        // The stack grows down towards the guard page at the lowest address.
        precondition(mprotect(mapping, pageSize, PROT_NONE) == 0, "mprotect failed: errno \(errno)")
        let stack = mapping + pageSize
        let pattern: UInt8 = 0xA5
        memset(stack, Int32(pattern), size)

        // Allocated rather than a local: pthread_attr_t's initializer is not visible from Glibc alone.
        let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)
        defer { attributes.deallocate() }
        pthread_attr_init(attributes)
        defer { pthread_attr_destroy(attributes) }
        precondition(pthread_attr_setstack(attributes, stack, size) == 0, "pthread_attr_setstack failed")
        let outcome = Outcome<T>()
        let thread = ThreadBody { outcome.value = body() }
        var handle = pthread_t()
        let created = pthread_create(&handle, attributes, { context in
            Unmanaged<ThreadBody>.fromOpaque(context!).takeUnretainedValue().run()
            return nil
        }, Unmanaged.passUnretained(thread).toOpaque())
        precondition(created == 0, "pthread_create failed: \(created)")
        pthread_join(handle, nil)

        let bytes = stack.assumingMemoryBound(to: UInt8.self)
        var untouched = 0
        while untouched < size, bytes[untouched] == pattern { untouched += 1 }
        return (outcome.value!, size - untouched)
    }
}

/// What the thread runs; it is joined before `run` returns, so the unretained reference stays valid.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private final class Outcome<T> {
    var value: T?
}
