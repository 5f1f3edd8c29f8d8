// Thin wrappers over ptrace and friends; Swift cannot call variadic functions.
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long parrot_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data) {
    long r = ptrace((enum __ptrace_request)request, pid, (void *)addr, (void *)data);
    return r < 0 ? -errno : r;
}

int parrot_get_syscall_info(pid_t pid, struct parrot_syscall_info *out) {
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info) < 0) return -errno;
    memset(out, 0, sizeof *out);
    out->op = info.op;
    out->arch = info.arch;
    out->ip = info.instruction_pointer;
    out->sp = info.stack_pointer;
    switch (info.op) {
    case PTRACE_SYSCALL_INFO_ENTRY:
        out->nr = (int64_t)info.entry.nr;
        memcpy(out->args, info.entry.args, sizeof out->args);
        break;
    case PTRACE_SYSCALL_INFO_SECCOMP:
        out->nr = (int64_t)info.seccomp.nr;
        memcpy(out->args, info.seccomp.args, sizeof out->args);
        out->ret_data = info.seccomp.ret_data;
        break;
    case PTRACE_SYSCALL_INFO_EXIT:
        out->rval = info.exit.rval;
        out->is_error = info.exit.is_error;
        break;
    }
    return 0;
}

static size_t reg_offset(enum parrot_reg reg) {
    switch (reg) {
    case PARROT_REG_RAX: return offsetof(struct user_regs_struct, rax);
    case PARROT_REG_ORIG_RAX: return offsetof(struct user_regs_struct, orig_rax);
    case PARROT_REG_RDI: return offsetof(struct user_regs_struct, rdi);
    case PARROT_REG_RSI: return offsetof(struct user_regs_struct, rsi);
    case PARROT_REG_RDX: return offsetof(struct user_regs_struct, rdx);
    case PARROT_REG_R10: return offsetof(struct user_regs_struct, r10);
    case PARROT_REG_R8: return offsetof(struct user_regs_struct, r8);
    case PARROT_REG_R9: return offsetof(struct user_regs_struct, r9);
    case PARROT_REG_RIP: return offsetof(struct user_regs_struct, rip);
    case PARROT_REG_RSP: return offsetof(struct user_regs_struct, rsp);
    }
    return 0;
}

int parrot_poke_reg(pid_t pid, enum parrot_reg reg, uint64_t value) {
    if (ptrace(PTRACE_POKEUSER, pid, (void *)reg_offset(reg), (void *)value) < 0) return -errno;
    return 0;
}

int parrot_peek_reg(pid_t pid, enum parrot_reg reg, uint64_t *value) {
    errno = 0;
    long r = ptrace(PTRACE_PEEKUSER, pid, (void *)reg_offset(reg), NULL);
    if (r == -1 && errno) return -errno;
    *value = (uint64_t)r;
    return 0;
}

_Static_assert(sizeof(struct user_regs_struct) == PARROT_REGS_SIZE, "user_regs_struct size");

int parrot_get_regs(pid_t pid, void *regs) {
    if (ptrace(PTRACE_GETREGS, pid, NULL, regs) < 0) return -errno;
    return 0;
}

int parrot_set_regs(pid_t pid, const void *regs) {
    if (ptrace(PTRACE_SETREGS, pid, NULL, (void *)regs) < 0) return -errno;
    return 0;
}

uint64_t parrot_regs_get(const void *regs, enum parrot_reg reg) {
    uint64_t value;
    memcpy(&value, (const char *)regs + reg_offset(reg), sizeof value);
    return value;
}

void parrot_regs_put(void *regs, enum parrot_reg reg, uint64_t value) {
    memcpy((char *)regs + reg_offset(reg), &value, sizeof value);
}

enum parrot_reg parrot_arg_reg(int index) {
    static const enum parrot_reg regs[6] = {
        PARROT_REG_RDI, PARROT_REG_RSI, PARROT_REG_RDX,
        PARROT_REG_R10, PARROT_REG_R8, PARROT_REG_R9,
    };
    return regs[index < 0 || index > 5 ? 0 : index];
}

long parrot_read_memory(pid_t pid, uint64_t remote, void *local, size_t len) {
    struct iovec l = { local, len }, r = { (void *)remote, len };
    ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
    return n < 0 ? -errno : n;
}

long parrot_write_memory(pid_t pid, uint64_t remote, const void *local, size_t len) {
    struct iovec l = { (void *)local, len }, r = { (void *)remote, len };
    ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);
    return n < 0 ? -errno : n;
}

int parrot_wifexited(int status) { return WIFEXITED(status); }
int parrot_wexitstatus(int status) { return WEXITSTATUS(status); }
int parrot_wifsignaled(int status) { return WIFSIGNALED(status); }
int parrot_wtermsig(int status) { return WTERMSIG(status); }
int parrot_wifstopped(int status) { return WIFSTOPPED(status); }
int parrot_wstopsig(int status) { return WSTOPSIG(status); }

int parrot_tgkill(pid_t tgid, pid_t tid, int sig) {
    return syscall(SYS_tgkill, tgid, tid, sig) < 0 ? -errno : 0;
}

int parrot_tkill(pid_t tid, int sig) {
    return syscall(SYS_tkill, tid, sig) < 0 ? -errno : 0;
}

int parrot_memfd(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int parrot_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

