// The cheapest possible tracer: it resumes every stop and does nothing else.
// Run as `floor_tracer parrot filter -- workload ...`: parrot installs the real
// filter and execs the workload, so each trapped call costs exactly one seccomp
// stop plus one PTRACE_CONT. That is the floor the agent's trapped calls are
// measured against (the agent adds decoding, path resolution and bookkeeping).
//
// usage: floor_tracer COMMAND [ARGS...]; exits with COMMAND's status.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

// Pids already seen. An auto-attached child (fork/vfork/clone) first reports a
// SIGSTOP that the tracer must swallow; we recognise that stop as the first one
// from a pid we do not know yet. Few tracees live at once, so a scan is enough.
static pid_t *known;
static size_t known_count, known_cap;

static int is_known(pid_t pid) {
    for (size_t i = 0; i < known_count; i++)
        if (known[i] == pid) return 1;
    return 0;
}

static void remember(pid_t pid) {
    if (known_count == known_cap) {
        known_cap = known_cap ? known_cap * 2 : 64;
        known = realloc(known, known_cap * sizeof *known);
        if (!known) { perror("floor_tracer: realloc"); exit(125); }
    }
    known[known_count++] = pid;
}

static void forget(pid_t pid) {
    for (size_t i = 0; i < known_count; i++)
        if (known[i] == pid) { known[i] = known[--known_count]; return; }
}

static void resume(pid_t pid, int sig) {
    // ESRCH: the tracee was killed meanwhile; its exit is reported later.
    if (ptrace(PTRACE_CONT, pid, 0L, (long)sig) < 0 && errno != ESRCH)
        fprintf(stderr, "floor_tracer: PTRACE_CONT %d: %s\n", pid, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }

    pid_t child = fork();
    if (child < 0) { perror("floor_tracer: fork"); return 125; }
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0L, 0L) < 0) { perror("floor_tracer: PTRACE_TRACEME"); _exit(125); }
        raise(SIGSTOP);  // wait here until the parent has set the options
        execvp(argv[1], argv + 1);
        fprintf(stderr, "floor_tracer: %s: %s\n", argv[1], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status)) {
        fprintf(stderr, "floor_tracer: child did not stop (status %#x)\n", status);
        return 125;
    }
    // EXITKILL: if we die, no tracee is left running under a filter whose
    // traps nobody serves.
    long options = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
                 | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL
                 | PTRACE_O_TRACESYSGOOD;
    if (ptrace(PTRACE_SETOPTIONS, child, 0L, options) < 0) {
        perror("floor_tracer: PTRACE_SETOPTIONS");
        kill(child, SIGKILL);
        return 125;
    }
    remember(child);
    resume(child, 0);

    int child_status = 0;
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            if (errno != ECHILD) perror("floor_tracer: waitpid");
            break;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) child_status = status;
            forget(pid);
            continue;
        }
        if (!WIFSTOPPED(status)) continue;

        int sig = WSTOPSIG(status);
        int event = (unsigned)status >> 16;
        if (!is_known(pid)) {
            // A new auto-attached tracee: its first stop is the attach SIGSTOP.
            remember(pid);
            resume(pid, sig == SIGSTOP ? 0 : sig);
            continue;
        }
        if (event != 0 || sig == (SIGTRAP | 0x80)) {
            // seccomp, fork/vfork/clone, exec and event stops: just go on.
            resume(pid, 0);
            continue;
        }
        if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
            // A stopping signal is either being delivered (has siginfo) or has
            // already stopped the group (GETSIGINFO fails): only the former is
            // re-injected; a group stop is simply resumed.
            siginfo_t info;
            if (ptrace(PTRACE_GETSIGINFO, pid, 0L, &info) < 0) {
                resume(pid, 0);
                continue;
            }
        }
        resume(pid, sig);  // signal-delivery stop: deliver the signal
    }

    if (WIFSIGNALED(child_status)) return 128 + WTERMSIG(child_status);
    return WEXITSTATUS(child_status);
}
