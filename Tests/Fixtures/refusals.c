// Calls that --sandbox must refuse. Prints "NAME: ERRNO" (or "NAME: ok") per probe.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
    fflush(stdout);
}

int main(void) {
    report("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));

    // Writing a byte of our own parent's memory (outside the sandbox).
    char byte = 0;
    struct iovec local = { &byte, 1 }, remote = { &byte, 1 };
    report("process_vm_writev", syscall(SYS_process_vm_writev, getppid(), &local, 1, &remote, 1, 0));

    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { 1, &allow };
    report("seccomp listener", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));

    struct { unsigned int bytes; int type; unsigned char data[128]; } handle = { 128, 0, { 0 } };
    int mount_fd = open("/", O_RDONLY | O_DIRECTORY);
    int id = 0;
    if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/etc/passwd", &handle, &id, 0) < 0) perror("name_to_handle_at");
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, mount_fd, &handle, O_RDONLY));

    long child = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, NULL, 0);
    report("clone untraced", child);

    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    report("x32 getpid", syscall(0x40000000 | SYS_getpid));
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");  // i386 getpid
    errno = r < 0 ? -r : 0;
    report("int 0x80 getpid", r < 0 ? -1 : 0);
    return 0;
}
