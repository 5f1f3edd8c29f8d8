import CParrotShim
#if canImport(Glibc)
import Glibc
#endif

/// Serves the calls the filter answers through its seccomp user-notification
/// listener (the data path of virtual descriptors), on a thread of its own:
/// such a caller sleeps in the kernel, not in a ptrace stop, so no ptrace call
/// is ever needed here. The tracer's lock keeps the agent single-threaded.
final class CallAnswerer {
    private let listener: Int32
    private unowned let tracer: Tracer
    /// A byte written here ends the thread.
    private var stopPipe: [Int32] = [-1, -1]
    private var thread = pthread_t()
    private var running = false

    init(listener: Int32, tracer: Tracer) {
        self.listener = listener
        self.tracer = tracer
        // Caller and answerer then hand the CPU to each other directly (6.6+);
        // without it every answer waits for the scheduler to wake a CPU.
        _ = parrot_listener_sync_wakeup(listener)
    }

    /// False when the thread cannot be made (no descriptors, no threads left).
    func start() -> Bool {
        guard parrot_pipe_cloexec(&stopPipe) == 0 else { return false }
        let context = Unmanaged.passRetained(self).toOpaque()
        running = pthread_create(&thread, nil, { context in
            let answerer = Unmanaged<CallAnswerer>.fromOpaque(context!).takeRetainedValue()
            answerer.serve()
            return nil
        }, context) == 0
        if !running { Unmanaged<CallAnswerer>.fromOpaque(context).release() }
        return running
    }

    /// Ends the thread; called on the tracer thread without the lock.
    func stop() {
        if running {
            var byte: UInt8 = 0
            _ = write(stopPipe[1], &byte, 1)
            pthread_join(thread, nil)
            running = false
        }
        for fd in stopPipe where fd >= 0 { close(fd) }
        stopPipe = [-1, -1]
        close(listener)
    }

    private func serve() {
        // The deadline is read while the lock is held anyway: taking it again
        // would often wait for the tracer thread, which the answered caller
        // may already have woken with its next trapped call.
        var deadline = tracer.locked { tracer.handler.wakeDeadline() } ?? 0
        while true {
            switch parrot_listener_wait(listener, stopPipe[0], deadline) {
            case 1:
                var notification = parrot_notification()
                // ENOENT: the caller died (or a signal took it) before this.
                guard parrot_listener_receive(listener, &notification) == 0 else { continue }
                let (value, proceed, next) = tracer.locked {
                    // Its task may have died while the tracer thread held the
                    // lock, and its tid gone to another (a thread's exec takes
                    // the leader's): nothing may touch that task's memory then.
                    guard parrot_listener_id_valid(listener, notification.id) == 0 else {
                        return (Int64(0), true, tracer.handler.wakeDeadline())
                    }
                    let (value, proceed) = tracer.answer(notification)
                    return (value, proceed, tracer.handler.wakeDeadline())
                }
                deadline = next ?? 0
                _ = parrot_listener_answer(listener, notification.id, max(value, 0),
                                           Int32(clamping: min(value, 0)), proceed ? 1 : 0)
            case 0:
                // The tracer thread may have sent what was due; then this finds nothing.
                deadline = tracer.locked {
                    tracer.handler.deadlinePassed()
                    return tracer.handler.wakeDeadline()
                } ?? 0
            default:
                return  // asked to stop, no caller left, or the listener failed
            }
        }
    }
}

/// The agent's lock, shared by the tracer thread (which holds it except while
/// it waits for a stop) and the answerer. First come, first served: with a
/// plain mutex the tracer thread, releasing it only for a waitpid that returns
/// at once while stops keep coming, would take it back before a woken answerer
/// ran, and answered calls would wait behind every trapped one.
final class TracerLock {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let turn = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var nextTicket: UInt64 = 0
    private var serving: UInt64 = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(turn, nil)
    }

    deinit {
        pthread_cond_destroy(turn)
        pthread_mutex_destroy(mutex)
        turn.deallocate()
        mutex.deallocate()
    }

    func lock() {
        pthread_mutex_lock(mutex)
        let ticket = nextTicket
        nextTicket += 1
        while ticket != serving { pthread_cond_wait(turn, mutex) }
        pthread_mutex_unlock(mutex)
    }

    func unlock() {
        pthread_mutex_lock(mutex)
        serving += 1
        let waiting = nextTicket != serving
        pthread_mutex_unlock(mutex)
        if waiting { pthread_cond_broadcast(turn) }
    }
}
