// What one emulated call costs under each way the agent can take it: a ptrace
// stop (PTRACE_EVENT_SECCOMP, result poked into the registers) or a seccomp
// user notification (answered with SECCOMP_IOCTL_NOTIF_SEND, with and without
// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP). The child makes N preads of 8 KiB on a
// descriptor that does not exist; the filter sends each one to this process,
// which writes 8 KiB into the child's buffer and answers 8192, as the agent
// does for a remote read. Prints microseconds per call.
//
// usage: stop_cost native|ptrace|answer|answer-sync [N]   (pin with taskset)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

enum { MISSING_FD = 12345, SIZE = 8192 };
static char buffer[SIZE], data[SIZE];
static long calls = 200000;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// pread64 -> action, everything else runs; returns the listener or 0.
static int install(unsigned action) {
    struct sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pread64, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = { sizeof program / sizeof program[0], program };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { perror("prctl"); exit(1); }
    unsigned flags = action == SECCOMP_RET_USER_NOTIF ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    int rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (rc < 0) { perror("seccomp"); exit(1); }
    return rc;
}

static void workload(int expect_success) {
    double start = now();
    for (long i = 0; i < calls; i++) {
        if (pread(MISSING_FD, buffer, SIZE, 0) != SIZE && expect_success) {
            fprintf(stderr, "stop_cost: call %ld: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    printf("%.2f us per call\n", (now() - start) / calls * 1e6);
    fflush(stdout);
}

static void copy_out(pid_t pid, unsigned long address) {
    struct iovec local = { data, SIZE }, remote = { (void *)address, SIZE };
    process_vm_writev(pid, &local, 1, &remote, 1, 0);
}

static int run_ptrace(void) {
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        install(SECCOMP_RET_TRACE);
        workload(1);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, child, 0, 0);
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
        if (status >> 16 == PTRACE_EVENT_SECCOMP) {
            struct __ptrace_syscall_info info;
            ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info);
            copy_out(pid, info.seccomp.args[1]);
            ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, orig_rax), -1L);
            ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, rax), (long)SIZE);
        }
        ptrace(PTRACE_CONT, pid, 0, 0);
    }
    return 0;
}

static int run_answered(int sync) {
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    char byte = 0;
    struct iovec io = { &byte, 1 };
    struct msghdr message = { .msg_iov = &io, .msg_iovlen = 1,
                              .msg_control = control.space, .msg_controllen = sizeof control.space };
    pid_t child = fork();
    if (child == 0) {
        int listener = install(SECCOMP_RET_USER_NOTIF);
        memset(&control, 0, sizeof control);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &listener, sizeof listener);
        sendmsg(pair[1], &message, 0);
        close(listener);
        read(pair[1], &byte, 1);  // until the answerer is ready
        workload(1);
        _exit(0);
    }
    if (recvmsg(pair[0], &message, 0) != 1) { perror("recvmsg"); return 1; }
    int listener;
    memcpy(&listener, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof listener);
    if (sync && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1UL, 0) < 0) perror("SYNC_WAKE_UP (Linux 6.6+)");
    write(pair[0], &byte, 1);
    for (;;) {
        struct seccomp_notif request;
        memset(&request, 0, sizeof request);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) < 0) break;
        copy_out(request.pid, request.data.args[1]);
        struct seccomp_notif_resp response = { .id = request.id, .val = SIZE };
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
        if (waitpid(child, NULL, WNOHANG) == child) break;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: stop_cost native|ptrace|answer|answer-sync [N]\n");
        return 2;
    }
    if (argc > 2) calls = atol(argv[2]);
    if (!strcmp(argv[1], "native")) { workload(0); return 0; }
    if (!strcmp(argv[1], "ptrace")) return run_ptrace();
    if (!strcmp(argv[1], "answer")) return run_answered(0);
    if (!strcmp(argv[1], "answer-sync")) return run_answered(1);
    fprintf(stderr, "stop_cost: unknown mode '%s'\n", argv[1]);
    return 2;
}
