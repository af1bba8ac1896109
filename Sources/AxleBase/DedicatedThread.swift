#if canImport(Glibc)
import Glibc
#endif

/// Starts `body` on a new OS thread: blocking I/O (CAN reads, SQLite, the MQTT loop) must not occupy the Swift
/// concurrency pool, whose few threads the rest of the agent shares.
public func startDedicatedThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        let box = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue() as! Box
        // (The name is for debuggers; Glibc's pthread_setname_np does not import into Swift without _GNU_SOURCE.)
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
