// C helpers for what Swift cannot express: the fork-to-exec child, the variadic
// ptrace call, register offsets, and a few syscalls Glibc does not export to Swift.
#ifndef PARROT_SHIM_H
#define PARROT_SHIM_H

#include <stdint.h>
#include <sys/types.h>

// --- spawning -----------------------------------------------------------------

// Where the child failed before running the program (reported through a pipe).
enum parrot_spawn_stage {
    PARROT_STAGE_CHDIR = 1,
    PARROT_STAGE_NNP = 2,
    PARROT_STAGE_SECCOMP = 3,
    PARROT_STAGE_EXEC = 4,
    PARROT_STAGE_LANDLOCK = 5,
};

struct parrot_spawn_failure {
    int32_t stage;
    int32_t error;
};

struct parrot_spawn_request {
    const char *file;          // searched in PATH like execvp
    char *const *argv;
    char *const *envp;
    const char *cwd;           // NULL: inherit
    const void *filter;        // struct sock_filter array
    uint16_t filter_len;       // number of instructions
    uint64_t ignored_signals;  // bit (n-1): signal n stays ignored, others reset to default
    int report_fd;             // write end of a CLOEXEC pipe for a parrot_spawn_failure
    int landlock_fd;           // Landlock ruleset to enter before exec, or -1
    uint32_t landlock_flags;   // landlock_restrict_self flags
    // The same policy with answered calls (SECCOMP_RET_USER_NOTIF), or NULL.
    // The child installs it when the kernel can, sends the listener over
    // `listener_socket` and runs with `filter` otherwise.
    const void *answered_filter;
    uint16_t answered_filter_len;
    int listener_socket;       // unix socket for SCM_RIGHTS, or -1
};

// Forks a child that stops itself (SIGSTOP), waits to be seized, installs the
// filter and executes the program. Returns the pid or -errno.
pid_t parrot_spawn(const struct parrot_spawn_request *req);

// Installs the filter in this process and executes the program, with no tracer
// (the benchmark's floor for untrapped calls). Returns -errno on failure.
int parrot_exec_filtered(const char *file, char *const argv[], const void *filter, uint16_t filter_len);

// --- Landlock (landlock.c) ------------------------------------------------------

// The running kernel's Landlock ABI version, or -errno (EOPNOTSUPP: disabled at
// boot, ENOSYS: not built).
int parrot_landlock_abi(void);
// A ruleset fd (O_CLOEXEC) handling these access rights, or -errno.
int parrot_landlock_create(uint64_t handled_fs, uint64_t handled_net, uint64_t scoped);
// Grants `access` beneath the file or directory open as `fd` (O_PATH). 0 or -errno.
int parrot_landlock_allow_path(int ruleset, int fd, uint64_t access);
// Grants `access` (TCP bind/connect) on one port. 0 or -errno.
int parrot_landlock_allow_port(int ruleset, uint64_t port, uint64_t access);
// Sets no_new_privs and enters the ruleset; async-signal-safe (the forked child). 0 or -errno.
int parrot_landlock_enter(int ruleset, uint32_t flags);

// --- ptrace --------------------------------------------------------------------

long parrot_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data);

// A flat view of PTRACE_GET_SYSCALL_INFO.
struct parrot_syscall_info {
    uint8_t op;          // PTRACE_SYSCALL_INFO_*
    uint32_t arch;       // AUDIT_ARCH_*
    uint64_t ip;
    uint64_t sp;
    int64_t nr;          // entry / seccomp
    uint64_t args[6];
    uint32_t ret_data;   // seccomp: SECCOMP_RET_DATA
    int64_t rval;        // exit
    uint8_t is_error;    // exit
};

// Returns 0 or -errno.
int parrot_get_syscall_info(pid_t pid, struct parrot_syscall_info *out);

enum parrot_reg {
    PARROT_REG_RAX, PARROT_REG_ORIG_RAX,
    PARROT_REG_RDI, PARROT_REG_RSI, PARROT_REG_RDX,
    PARROT_REG_R10, PARROT_REG_R8, PARROT_REG_R9,
    PARROT_REG_RIP, PARROT_REG_RSP,
};

// Returns 0 or -errno.
int parrot_poke_reg(pid_t pid, enum parrot_reg reg, uint64_t value);
int parrot_peek_reg(pid_t pid, enum parrot_reg reg, uint64_t *value);
// The register that carries syscall argument `index` (0..5).
enum parrot_reg parrot_arg_reg(int index);

// All general registers (struct user_regs_struct), kept opaque for Swift:
// saved before the tracer injects calls into a tracee, restored after.
#define PARROT_REGS_SIZE 216
int parrot_get_regs(pid_t pid, void *regs);
int parrot_set_regs(pid_t pid, const void *regs);
// Reads or changes one register in a saved set.
uint64_t parrot_regs_get(const void *regs, enum parrot_reg reg);
void parrot_regs_put(void *regs, enum parrot_reg reg, uint64_t value);

// --- memory and misc -------------------------------------------------------------

// One process_vm_readv / process_vm_writev. Returns bytes moved or -errno.
long parrot_read_memory(pid_t pid, uint64_t remote, void *local, size_t len);
long parrot_write_memory(pid_t pid, uint64_t remote, const void *local, size_t len);

// The wait status decoding macros, which Swift cannot import.
int parrot_wifexited(int status);
int parrot_wexitstatus(int status);
int parrot_wifsignaled(int status);
int parrot_wtermsig(int status);
int parrot_wifstopped(int status);
int parrot_wstopsig(int status);

// waitpid with __WALL (and __WNOTHREAD when asked), polling for up to spin_ns
// before it blocks. Returns pid or -errno; with `wake_ns` (CLOCK_MONOTONIC),
// -ETIMEDOUT when nothing came by then.
pid_t parrot_wait_all(int *status, int nothread, uint64_t spin_ns, uint64_t wake_ns);
// Frees this thread's wake timer, if parrot_wait_all made one.
void parrot_wait_done(void);

// tgkill, not in Glibc's Swift overlay.
int parrot_tgkill(pid_t tgid, pid_t tid, int sig);
// tkill: a signal to one thread when its process id is not at hand.
int parrot_tkill(pid_t tid, int sig);

// pipe2(O_CLOEXEC); returns 0 or -errno.
int parrot_pipe_cloexec(int fds[2]);

// --- answered calls: seccomp user notifications (answer.c) ----------------------

// One notified call, as the kernel's struct seccomp_notif gives it.
struct parrot_notification {
    uint64_t id;
    pid_t tid;
    int32_t nr;
    uint32_t arch;
    uint64_t ip;
    uint64_t args[6];
};

// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC); returns 0 or -errno.
int parrot_socketpair_cloexec(int fds[2]);
// The listener the child sent over `socket`, or -errno (EAGAIN: none was sent,
// the child runs with the traps alone; anything else: it was sent but lost).
int parrot_receive_listener(int socket);
// Asks the kernel to wake answerer and caller on the same CPU (6.6+); 0 or -errno.
int parrot_listener_sync_wakeup(int listener);
// Waits for a notification on `listener` or a byte on `stop_fd`, until
// `deadline_ns` (CLOCK_MONOTONIC, 0: none). Returns 1 notification, 2 stop,
// 3 no caller can remain (hang-up), 0 deadline, -errno.
int parrot_listener_wait(int listener, int stop_fd, uint64_t deadline_ns);
// Receives one notification; 0 or -errno (ENOENT: its caller is gone).
int parrot_listener_receive(int listener, struct parrot_notification *out);
// 0 while the call's task is still waiting for this answer, else -errno (ENOENT).
int parrot_listener_id_valid(int listener, uint64_t id);
// Answers it: `error` < 0 fails the call, `proceed` runs it natively instead.
int parrot_listener_answer(int listener, uint64_t id, int64_t value, int32_t error, int proceed);

// memfd_create for exporting the BPF program; returns fd or -errno.
int parrot_memfd(const char *name);

#endif

// Installs handlers that pass HUP, INT, QUIT, TERM, USR1, USR2 and ALRM on to
// `target` when another process sent them (kill), and drop them when the kernel
// generated them (a terminal already delivered those to the program's group).
void parrot_forward_signals_to(pid_t target);

// Once the program's main process is gone its pid may be reused: signals then
// take their default action on the agent, and PTRACE_O_EXITKILL ends the rest.
void parrot_stop_forwarding(void);
