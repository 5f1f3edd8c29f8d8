#if canImport(Glibc)
import Glibc
#endif

/// The one thread that makes every ptrace and waitpid call: ptrace belongs to
/// the thread that attached, so the tracer must never hop threads.
enum TracerThread {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func run<T>(_ body: @escaping () -> T) -> T {
        var result: T?
        let job = Job { result = body() }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(rc == 0, "cannot create the tracer thread")
        pthread_join(thread, nil)
        return result!
    }
}
