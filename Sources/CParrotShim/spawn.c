// The fork-to-exec child: async-signal-safe calls only between fork and exec.
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

// The answering filter with its listener (5.19+ for WAIT_KILLABLE_RECV: once
// the agent has taken a call, only a fatal signal interrupts it, so an answer
// is never lost after its remote side effect). Returns the listener or -1.
static int install_answering_filter(const void *filter, uint16_t len) {
    struct sock_fprog prog = { .len = len, .filter = (struct sock_filter *)filter };
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | (1UL << 5);  // WAIT_KILLABLE_RECV
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog);
    if (fd < 0) fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    return fd;
}

// Sends the listener to the agent; 0 or -1 (errno set).
static int send_listener(int socket, int listener) {
    char byte = 0;
    struct iovec io = { &byte, 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { 0 };
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &listener, sizeof listener);
    return sendmsg(socket, &message, MSG_NOSIGNAL) == 1 ? 0 : -1;
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

    int listener = -1;
    if (req->answered_filter && req->listener_socket >= 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) report(req->report_fd, PARROT_STAGE_NNP, errno);
        listener = install_answering_filter(req->answered_filter, req->answered_filter_len);
    }
    if (listener >= 0) {
        // Without its listener every answered call would fail with ENOSYS.
        if (send_listener(req->listener_socket, listener) < 0) report(req->report_fd, PARROT_STAGE_SECCOMP, errno);
        close(listener);
    } else {
        int stage = install_filter(req->filter, req->filter_len);
        if (stage) report(req->report_fd, stage, errno);
    }
    if (req->listener_socket >= 0) close(req->listener_socket);

    execvpe(req->file, req->argv, req->envp);
    report(req->report_fd, PARROT_STAGE_EXEC, errno);
    return -1;  // not reached
}
