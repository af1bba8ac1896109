#if canImport(Glibc)
import Glibc
#endif

/// Starts `body` on a new OS thread: blocking I/O (CAN reads, SQLite, the MQTT loop) must not occupy the Swift
/// concurrency pool, whose few threads the rest of the agent shares. `name` says what the thread is for at the call
/// site; it is not given to the OS (Glibc's pthread_setname_np does not import into Swift without _GNU_SOURCE).
public func startDedicatedThread(name: String, _ body: @escaping @Sendable () -> Void) {
    // The closure travels through pthread_create's void* argument in a retained box, released by the thread.
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(body: @escaping @Sendable () -> Void) {
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        let box = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue() as! Box
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
