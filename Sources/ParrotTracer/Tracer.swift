import CParrotShim
import ParrotFilter
#if canImport(Glibc)
import Glibc
#endif

/// Spawns a program under ptrace and runs the wait loop until every traced task
/// is gone. All ptrace and waitpid calls happen on the thread that calls `run`.
public final class Tracer {
    let handler: TraceEventHandler
    var tracees: [pid_t: Tracee] = [:]
    /// Children whose initial stop arrived before their parent's creation
    /// event, with the process that made them (as /proc said then).
    var earlyChildren: [pid_t: pid_t] = [:]
    var mainPid: pid_t = 0
    var mainTermination: Termination?
    /// Several tracers in one process must not steal each other's events.
    let waitNoThread: Bool
    /// How long to poll for the next stop before sleeping (see parrot_wait_all).
    public var spinNanoseconds: UInt64 = 50_000
    /// The calls the listener answers: only those are restarted whatever the
    /// handler (see restartInterruptedAnswer); the agent's own waits (locks)
    /// end in ERESTARTSYS that the handler's SA_RESTART decides.
    public var answeredNumbers: Set<UInt64> = []
    /// Held by whichever thread runs the agent: the tracer thread, except while
    /// it waits, or the answerer.
    let lock = TracerLock()
    /// Where the child's listener for answered calls arrives, until it does.
    var listenerSocket: Int32 = -1
    var answerer: CallAnswerer?
    /// The tracee the last seccomp stop left to run, resumed by the loop.
    private var deferredResume: pid_t?
    private var spareAnswer: CallAnswer?
    /// Whether the program's answered calls go to the listener (false: the
    /// kernel could not, and they stop under ptrace like the rest).
    public private(set) var answersCalls = false
    /// Why the run was ended before the program could run as it should.
    var agentFailure: StartFailure?

    public init(handler: TraceEventHandler, sharedProcess: Bool = false) {
        self.handler = handler
        self.waitNoThread = sharedProcess
    }

    var mainExited: () -> Void = {}

    /// Runs `spec` to completion; returns how the main process ended.
    /// `started` is called with the main pid once it is traced (before it runs),
    /// `mainExited` when that process is gone (others may still run).
    public func run(_ spec: SpawnSpec, started: (pid_t) -> Void = { _ in },
                    mainExited: @escaping () -> Void = {}) throws -> Termination {
        self.mainExited = mainExited
        let (pid, reportFd, listenerSocket) = try spawnStopped(spec)
        self.listenerSocket = listenerSocket
        mainPid = pid
        tracees[pid] = Tracee(tid: pid)
        handler.taskCreated(pid, parent: 0, kind: .fork)
        started(pid)
        loop()
        parrot_wait_done()
        answerer?.stop()
        answerer = nil
        if self.listenerSocket >= 0 { close(self.listenerSocket) }
        if let agentFailure { throw agentFailure }
        if let failure = readSpawnFailure(reportFd) { throw failure }
        return mainTermination ?? .exited(0)
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func loop() {
        var status: Int32 = 0
        lock.lock()
        defer { lock.unlock() }
        while true {
            let deadline = handler.wakeDeadline() ?? 0
            let resume = deferredResume
            deferredResume = nil
            lock.unlock()
            // Resumed only once the lock is free: the program's next call,
            // often answered on the other thread, must not find it taken (on
            // one CPU the resumed program runs before this thread lets go,
            // and the answerer would sleep until it did: two more switches).
            if let resume { Ptrace.resume(Ptrace.cont, resume) }
            let pid = parrot_wait_all(&status, waitNoThread ? 1 : 0, spinNanoseconds, deadline)
            lock.lock()
            if pid == -ETIMEDOUT {
                handler.deadlinePassed()
                continue
            }
            if pid < 0 { return }  // ECHILD: nothing left to trace
            if parrot_wifexited(status) != 0 {
                finished(pid, .exited(parrot_wexitstatus(status)))
            } else if parrot_wifsignaled(status) != 0 {
                finished(pid, .signaled(parrot_wtermsig(status)))
            } else if parrot_wifstopped(status) != 0 {
                stopped(pid, signal: parrot_wstopsig(status), event: status >> 16)
            }
        }
    }

    /// The child sent its listener before it executed the program (or ran
    /// with the traps alone): answered calls begin with this first exec.
    private func startAnswering() {
        let listener = parrot_receive_listener(listenerSocket)
        close(listenerSocket)
        listenerSocket = -1
        if listener == -EAGAIN { return }  // the child could not make one: every call traps
        let made = listener >= 0 ? CallAnswerer(listener: listener, tracer: self) : nil
        guard let made, made.start() else {
            // Its answered calls would wait for good (or fail with ENOSYS).
            made?.stop()
            let reason = listener >= 0 ? "cannot start the thread that answers calls" : "lost the child's listener (\(errnoName(-listener)))"
            agentFailure = StartFailure(description: reason + "; --ptrace-only runs without one", status: 125)
            kill(mainPid, SIGKILL)
            return
        }
        answerer = made
        answersCalls = true
    }

    /// A signal that came before the answerer took a call interrupted it
    /// (ERESTARTSYS): without SA_RESTART the program would see EINTR from a
    /// read or close of a file, which a local file never gives and a ptrace
    /// stop never did. Here, before the handler runs, the call is made to
    /// restart whatever the handler's flags (ERESTARTNOINTR).
    private func restartInterruptedAnswer(_ tid: pid_t) {
        var number: UInt64 = 0, result: UInt64 = 0, fd: UInt64 = 0
        let restartSys = UInt64(bitPattern: -512), restartNoIntr = UInt64(bitPattern: -513)
        guard parrot_peek_reg(tid, PARROT_REG_RAX, &result) == 0, result == restartSys,
              parrot_peek_reg(tid, PARROT_REG_ORIG_RAX, &number) == 0, answeredNumbers.contains(number),
              parrot_peek_reg(tid, PARROT_REG_RDI, &fd) == 0, VirtualDescriptor.isVirtual(fd) else { return }
        _ = parrot_poke_reg(tid, PARROT_REG_RAX, restartNoIntr)
    }

    /// An answered call (on the answerer's thread, the lock held): its result,
    /// or proceed to run it natively as it is.
    func answer(_ notification: parrot_notification) -> (value: Int64, proceed: Bool) {
        // A task unknown here, or running calls injected by the agent, makes
        // the call as if untrapped (a virtual number then fails with EBADF).
        guard let tracee = tracees[notification.tid], tracee.injection == nil else { return (0, true) }
        // One answer at a time: the last one's is reused unless a handler kept it.
        var answer = spareAnswer ?? CallAnswer()
        spareAnswer = nil
        answer.value = nil
        let resume = try? handler.handleSyscall(SyscallStop(notification: notification, answer: answer), tracee: tracee)
        let value = answer.value
        if isKnownUniquelyReferenced(&answer) { spareAnswer = answer }
        if let value { return (value, false) }
        if case .proceed? = resume { return (0, true) }
        if resume == nil { return (0, true) }  // the handler failed: unchanged, as at a stop
        return (-Int64(ENOSYS), false)  // injections need a ptrace stop: never asked for here
    }

    private func finished(_ pid: pid_t, _ how: Termination) {
        guard tracees.removeValue(forKey: pid) != nil else { return }
        earlyChildren.removeValue(forKey: pid)
        if pid == mainPid {
            mainTermination = how
            mainExited()
        }
        adoptOrphans(of: pid)
        handler.taskExited(pid, how: how)
    }

    /// A process killed while it forked never reports the child it made:
    /// held for that report, the child would stay stopped, and the agent wait
    /// for it, for ever. It goes on as the dead process's child (a thread of
    /// it dies with it and is reported so).
    /// Children held for an untraced maker go on too: when the kill came
    /// before the child's first stop was seen, /proc already named the
    /// process it was handed to (init, a subreaper). A maker that is alive
    /// (CLONE_PARENT names the untraced parent) reports late: its state is
    /// then given to the child again (see stopped).
    private func adoptOrphans(of process: pid_t) {
        for (child, parent) in earlyChildren where parent == process || tracees[parent] == nil {
            earlyChildren.removeValue(forKey: child)
            handler.taskCreated(child, parent: parent, kind: .fork)
            Ptrace.resume(Ptrace.cont, child)
        }
    }

    /// The process that made `tid`: its thread group for a thread, else its parent.
    private static func creator(of tid: pid_t) -> pid_t {
        guard let status = ProcStatus(tid: tid) else { return 0 }
        let tgid = status["Tgid"].flatMap { pid_t($0) } ?? 0, ppid = status["PPid"].flatMap { pid_t($0) } ?? 0
        return tgid != tid ? tgid : ppid
    }

    private func stopped(_ pid: pid_t, signal: Int32, event: Int32) {
        guard let tracee = tracees[pid] else {
            // A new task reported before its parent's fork/clone event: hold it
            // stopped until the parent's event tells who it belongs to.
            let parent = Self.creator(of: pid)
            tracees[pid] = Tracee(tid: pid)
            if parent != 0 && tracees[parent] == nil {
                // Handed to an untraced process: its traced maker is dead and
                // will report nothing (or, for CLONE_PARENT, reports late: see
                // adoptOrphans).
                handler.taskCreated(pid, parent: parent, kind: .fork)
                Ptrace.resume(Ptrace.cont, pid)
                return
            }
            earlyChildren[pid] = parent
            return
        }
        if let injection = tracee.injection, event != Ptrace.eventExec {
            injectionStop(tracee, injection, signal: signal, event: event)
            return
        }
        switch event {
        case Ptrace.eventSeccomp:
            seccompStop(tracee)
        case Ptrace.eventFork, Ptrace.eventVfork, Ptrace.eventClone:
            let child = pid_t(truncatingIfNeeded: Ptrace.eventMessage(pid))
            let kind: CreationKind = event == Ptrace.eventClone ? .thread
                : event == Ptrace.eventVfork ? .vfork : .fork
            handler.taskCreated(child, parent: pid, kind: kind)
            if earlyChildren.removeValue(forKey: child) != nil {
                Ptrace.resume(Ptrace.cont, child)
            } else if tracees[child] == nil {  // (else taken on before this late report)
                let task = Tracee(tid: child)
                task.expectingInitialStop = true
                tracees[child] = task
            }
            resume(tracee)
        case Ptrace.eventExec:
            let former = pid_t(truncatingIfNeeded: Ptrace.eventMessage(pid))
            if former != pid, let execer = tracees.removeValue(forKey: former) {
                // A non-leader thread exec'ed and took over the leader's tid.
                tracee.awaitingExit = execer.awaitingExit
                tracee.scratch = execer.scratch
            }
            handler.taskExeced(pid, formerTid: former)
            if listenerSocket >= 0 { startAnswering() }
            resume(tracee)
        case Ptrace.eventStop:
            if tracee.expectingInitialStop {
                tracee.expectingInitialStop = false
                Ptrace.resume(Ptrace.cont, pid)
            } else if [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal) {
                // Group stop: stay stopped (job control) but keep reporting.
                Ptrace.resume(Ptrace.listen, pid)
            } else {
                Ptrace.resume(Ptrace.cont, pid)
            }
        default:
            if signal == SIGTRAP | 0x80 {
                syscallExitStop(tracee)
            } else {
                // Signal-delivery stop: deliver it.
                if answersCalls { restartInterruptedAnswer(pid) }
                Ptrace.resume(Ptrace.cont, pid, signal: signal)
            }
        }
    }

    /// Resumes after an event stop; a call whose exit the agent awaits keeps
    /// PTRACE_SYSCALL so that its exit stop still comes.
    private func resume(_ tracee: Tracee) {
        Ptrace.resume(tracee.awaitingExit ? Ptrace.syscall : Ptrace.cont, tracee.tid)
    }

    private func seccompStop(_ tracee: Tracee) {
        var info = parrot_syscall_info()
        guard parrot_get_syscall_info(tracee.tid, &info) == 0,
              info.op == Ptrace.infoSeccomp else {
            Ptrace.resume(Ptrace.cont, tracee.tid)
            return
        }
        let stop = SyscallStop(tid: tracee.tid, info: info)
        let resume = (try? handler.handleSyscall(stop, tracee: tracee)) ?? .proceed
        switch resume {
        case .proceedToExit:
            tracee.awaitingExit = true
            Ptrace.resume(Ptrace.syscall, tracee.tid)
        case .inject(let injection):
            if (try? injection.begin(tracee.tid)) == true {
                tracee.injection = injection
                Ptrace.resume(Ptrace.syscall, tracee.tid)
            } else {
                Ptrace.resume(Ptrace.cont, tracee.tid)
            }
        case .proceed:
            deferredResume = tracee.tid  // see loop
        }
    }

    /// A stop of a tracee running injected calls: entry and seccomp stops pass,
    /// an exit stop yields the result, a signal waits until the end.
    private func injectionStop(_ tracee: Tracee, _ injection: Injection, signal: Int32, event: Int32) {
        let tid = tracee.tid
        guard event == 0, signal == SIGTRAP | 0x80 else {
            if event == 0 { injection.heldSignals.append(signal) }
            Ptrace.resume(Ptrace.syscall, tid)
            return
        }
        var info = parrot_syscall_info()
        guard parrot_get_syscall_info(tid, &info) == 0, info.op == Ptrace.infoExit else {
            Ptrace.resume(Ptrace.syscall, tid)
            return
        }
        if (try? injection.advance(tid, result: info.rval)) == true {
            Ptrace.resume(Ptrace.syscall, tid)
            return
        }
        tracee.injection = nil
        for held in injection.heldSignals { _ = parrot_tkill(tid, held) }
        Ptrace.resume(Ptrace.cont, tid)
    }

    private func syscallExitStop(_ tracee: Tracee) {
        guard tracee.awaitingExit else { return Ptrace.resume(Ptrace.cont, tracee.tid) }
        tracee.awaitingExit = false
        var info = parrot_syscall_info()
        guard parrot_get_syscall_info(tracee.tid, &info) == 0,
              info.op == Ptrace.infoExit else { return Ptrace.resume(Ptrace.cont, tracee.tid) }
        let stop = SyscallStop(tid: tracee.tid, info: info)
        if let injection = (try? handler.handleSyscallExit(stop, result: info.rval, tracee: tracee)) ?? nil,
           (try? injection.beginAtExit(tracee.tid)) == true {
            tracee.injection = injection
            return Ptrace.resume(Ptrace.syscall, tracee.tid)
        }
        Ptrace.resume(Ptrace.cont, tracee.tid)
    }
}
