// Calls that must never pass the agent unchecked. Prints one line per probe.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static int tracer_pid(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int pid = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &pid) == 1) break;
    if (f) fclose(f);
    return pid;
}

static char stack[65536];
static int child_main(void *arg) {
    (void)arg;
    printf("untraced child traced: %s\n", tracer_pid() > 0 ? "yes" : "no");
    fflush(stdout);
    return 0;
}

int main(void) {
    report("x32 getpid", syscall(0x40000000 | SYS_getpid));
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");  // i386 getpid
    errno = r < 0 ? -r : 0;
    report("int 0x80 getpid", r < 0 ? -1 : 0);
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    struct clone_args args = { .exit_signal = SIGCHLD };
    long c = syscall(SYS_clone3, &args, sizeof args);
    if (c == 0) _exit(0);
    if (c > 0) waitpid(c, NULL, 0);
    report("clone3", c);
    report("syscall 1000", syscall(1000));
    fflush(stdout);
    pid_t child = clone(child_main, stack + sizeof stack, CLONE_UNTRACED | SIGCHLD, NULL);
    int status;
    waitpid(child, &status, 0);
    printf("done\n");
    return 0;
}
