// The fork-to-exec child: async-signal-safe calls only between fork and exec.
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(int fd, int stage, int error) {
    struct parrot_spawn_failure failure = { stage, error };
    ssize_t ignored = write(fd, &failure, sizeof failure);
    (void)ignored;
    _exit(error == ENOENT ? 127 : 126);
}

static void reset_signals(uint64_t ignored) {
    struct sigaction action = { 0 };
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        action.sa_handler = (ignored & (1ULL << (sig - 1))) ? SIG_IGN : SIG_DFL;
        sigaction(sig, &action, NULL);  // fails harmlessly for glibc-reserved signals
    }
    // The signal mask is left as the agent received it: exec keeps it natively too.
}

// Returns 0, or the stage that failed (errno set).
static int install_filter(const void *filter, uint16_t len) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return PARROT_STAGE_NNP;
    struct sock_fprog prog = { .len = len, .filter = (struct sock_filter *)filter };
    // SPEC_ALLOW: do not impose the speculative-store-bypass mitigation on the
    // program just because it runs under a filter.
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) < 0
        && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return PARROT_STAGE_SECCOMP;
    return 0;
}

int parrot_exec_filtered(const char *file, char *const argv[], const void *filter, uint16_t filter_len) {
    if (install_filter(filter, filter_len)) return -errno;
    execvp(file, argv);
    return -errno;
}

pid_t parrot_spawn(const struct parrot_spawn_request *req) {
    pid_t pid = fork();
    if (pid != 0) return pid < 0 ? -errno : pid;

    // Child. If the tracer thread dies before it seizes us, do not linger.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    reset_signals(req->ignored_signals);
    if (req->cwd && chdir(req->cwd) < 0) report(req->report_fd, PARROT_STAGE_CHDIR, errno);

    // The tracer seizes us (with PTRACE_O_EXITKILL) while we are stopped, so the
    // filter never exists without a tracer to serve its traps.
    raise(SIGSTOP);

    // The sandbox's Landlock domain, entered before the filter so that its
    // syscalls never meet the trap policy; exec itself is then checked by it.
    if (req->landlock_fd >= 0) {
        int rc = parrot_landlock_enter(req->landlock_fd, req->landlock_flags);
        if (rc < 0) report(req->report_fd, PARROT_STAGE_LANDLOCK, -rc);
    }

    int stage = install_filter(req->filter, req->filter_len);
    if (stage) report(req->report_fd, stage, errno);

    execvpe(req->file, req->argv, req->envp);
    report(req->report_fd, PARROT_STAGE_EXEC, errno);
    return -1;  // not reached
}
