// The cheapest possible ptrace agent for remote calls: the floor that Figure
// 5.2's agent column is measured against. It traces COMMAND (normally `parrot
// filter -- chirp_workload rlatency ...`, so the real filter decides what
// stops), lets every stop through, and serves itself, each with exactly the
// requests the agent makes, on one connection:
//   - newfstatat of a path under /chirp/127.0.0.1:PORT/: one `stat`, the
//     reply's numbers written into the program's struct stat;
//   - openat (read-only) of such a path: one `open`, whose remote fd comes
//     back in the virtual range (2^30 and up) that the filter traps;
//   - pread64 and close of such a descriptor: one `pread` (its data written
//     into the program's buffer) or one `close`.
// Each served call is skipped with its result set. Nothing else: no path
// resolution, no descriptor table, no errors beyond -EIO. The difference
// between this and the raw client is what the stops cost; the difference
// between the agent and this is what the agent adds.
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

#define VIRTUAL_BASE (1L << 30)
static char data[1 << 16];

// The remote part of a path argument, or NULL when it names no such path.
static const char *remote_path(pid_t pid, unsigned long address, char *path, size_t size) {
    struct iovec local = {path, size - 1}, remote = {(void *)address, size - 1};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    size_t plen = strlen(prefix);
    if (n <= (ssize_t)plen) return NULL;
    path[n] = 0;
    return strncmp(path, prefix, plen) ? NULL : path + plen - 1;
}

static int copy_out(pid_t pid, unsigned long address, const void *bytes, size_t len) {
    struct iovec local = {(void *)bytes, len}, remote = {(void *)address, len};
    return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

// Serves the call when it is one of ours (returns 1 with *result set).
static int serve(pid_t pid, const struct __ptrace_syscall_info *info, long *answer) {
    const __uint64_t *a = info->seccomp.args;
    char path[1024];
    const char *name;
    switch (info->seccomp.nr) {
    case SYS_newfstatat: {
        if (!(name = remote_path(pid, a[1], path, sizeof path))) return 0;
        request(NULL, 0, "stat %s\n", name);
        long long r = result();
        struct stat st;
        *answer = r < 0 ? -ENOENT : parse_stat(line(), &st) ? -EIO : copy_out(pid, a[2], &st, sizeof st);
        return 1;
    }
    case SYS_openat: {
        if ((a[2] & O_ACCMODE) != O_RDONLY || !(name = remote_path(pid, a[1], path, sizeof path))) return 0;
        request(NULL, 0, "open %s r 0\n", name);
        long long fd = result();
        if (fd >= 0) line();  // the file's stat
        *answer = fd < 0 ? -ENOENT : VIRTUAL_BASE + fd;
        return 1;
    }
    case SYS_pread64: {
        if ((long)a[0] < VIRTUAL_BASE) return 0;
        size_t want = a[2] < sizeof data ? a[2] : sizeof data;
        request(NULL, 0, "pread %ld %zu %lld\n", (long)a[0] - VIRTUAL_BASE, want, (long long)a[3]);
        long long n = result();
        if (n > 0) payload(data, (size_t)n);
        *answer = n < 0 ? -EIO : n > 0 && copy_out(pid, a[1], data, (size_t)n) ? -EFAULT : n;
        return 1;
    }
    case SYS_close:
        if ((long)a[0] < VIRTUAL_BASE) return 0;
        request(NULL, 0, "close %ld\n", (long)a[0] - VIRTUAL_BASE);
        *answer = result() < 0 ? -EIO : 0;
        return 1;
    }
    return 0;
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
            long served;
            if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info) > 0 &&
                info.op == PTRACE_SYSCALL_INFO_SECCOMP && serve(pid, &info, &served)) {
                ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, orig_rax), -1L);
                ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, rax), served);
            }
            signal = 0;
        } else if (event || signal == SIGTRAP) {
            signal = 0;
        }
        ptrace(PTRACE_CONT, pid, 0, signal);
    }
    return 0;
}
