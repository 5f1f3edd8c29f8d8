// The cheapest possible ptrace agent for a remote stat: the floor that Figure
// 5.2's agent column is measured against. It traces COMMAND (normally `parrot
// filter -- chirp_workload ...`, so the real filter decides what stops), lets
// every stop through, and serves each newfstatat of a path under
// /chirp/127.0.0.1:PORT/ itself: one `stat` request on one connection, the
// reply's numbers written into the program's struct stat, the call skipped.
// Nothing else: no path resolution, no descriptors, no other calls. The
// difference between this and the raw client is what the stop alone costs;
// the difference between the agent and this is what the agent adds.
//
// usage: floor_chirp_agent PORT COMMAND [ARGS...]; exits with COMMAND's status.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define main chirp_raw_main
#include "chirp_raw.c"
#undef main

static char prefix[64];

// The reply's 13 numbers in the server's order, into the kernel's struct stat.
static int parse_stat(const char *text, struct stat *st) {
    long long v[13];
    const char *p = text;
    for (int i = 0; i < 13; i++) {
        char *end;
        v[i] = strtoll(p, &end, 10);
        if (end == p) return -1;
        p = end;
    }
    memset(st, 0, sizeof *st);
    st->st_dev = v[0];
    st->st_ino = v[1];
    st->st_mode = v[2];
    st->st_nlink = v[3];
    st->st_uid = v[4];
    st->st_gid = v[5];
    st->st_rdev = v[6];
    st->st_size = v[7];
    st->st_blksize = v[8];
    st->st_blocks = v[9];
    st->st_atim.tv_sec = v[10];
    st->st_mtim.tv_sec = v[11];
    st->st_ctim.tv_sec = v[12];
    return 0;
}

// A newfstatat stop: served here when its path is remote, else let through.
static void serve_stat(pid_t pid, const struct __ptrace_syscall_info *info) {
    char path[1024];
    struct iovec local = {path, sizeof path - 1}, remote = {(void *)info->seccomp.args[1], sizeof path - 1};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    size_t plen = strlen(prefix);
    if (n <= (ssize_t)plen) return;
    path[n] = 0;
    if (strncmp(path, prefix, plen) != 0) return;
    request(NULL, 0, "stat %s\n", path + plen - 1);
    long long r = result();
    struct stat st;
    if (r >= 0 && parse_stat(line(), &st) == 0) {
        struct iovec out = {&st, sizeof st}, to = {(void *)info->seccomp.args[2], sizeof st};
        if (process_vm_writev(pid, &out, 1, &to, 1, 0) != sizeof st) r = -EFAULT;
    } else if (r >= 0) {
        r = -EIO;
    } else {
        r = -ENOENT;
    }
    ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, orig_rax), -1L);
    ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, rax), r < 0 ? r : 0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: floor_chirp_agent PORT COMMAND [ARGS...]\n");
        return 2;
    }
    snprintf(prefix, sizeof prefix, "/chirp/127.0.0.1:%s/", argv[1]);
    connect_and_login(atoi(argv[1]));
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[2], argv + 2);
        perror("floor_chirp_agent: exec");
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, child, 0, 0);
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            continue;
        }
        int signal = WSTOPSIG(status), event = status >> 16;
        if (event == PTRACE_EVENT_SECCOMP) {
            struct __ptrace_syscall_info info;
            if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info) > 0 &&
                info.op == PTRACE_SYSCALL_INFO_SECCOMP && info.seccomp.nr == SYS_newfstatat)
                serve_stat(pid, &info);
            signal = 0;
        } else if (event || signal == SIGTRAP) {
            signal = 0;
        }
        ptrace(PTRACE_CONT, pid, 0, signal);
    }
    return 0;
}
