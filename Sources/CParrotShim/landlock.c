// Landlock system calls (no libc wrappers exist). The ruleset is built in the
// agent; only parrot_landlock_enter runs in the forked child, and it is
// async-signal-safe: two raw syscalls.
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// Kernel ABI (include/uapi/linux/landlock.h), spelled out because the installed
// headers may predate the fields this file uses.
enum { LL_CREATE_RULESET = 444, LL_ADD_RULE = 445, LL_RESTRICT_SELF = 446 };
enum { LL_RULE_PATH_BENEATH = 1, LL_RULE_NET_PORT = 2 };
enum { LL_CREATE_RULESET_VERSION = 1 };

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;  // ABI 4
    uint64_t scoped;              // ABI 6
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

int parrot_landlock_abi(void) {
    long r = syscall(LL_CREATE_RULESET, NULL, 0, LL_CREATE_RULESET_VERSION);
    return r < 0 ? -errno : (int)r;
}

int parrot_landlock_create(uint64_t fs, uint64_t net, uint64_t scoped) {
    struct ll_ruleset_attr attr = { fs, net, scoped };
    // Older kernels accept the larger struct as long as the fields they do not
    // know are zero; the caller masks them by ABI.
    long r = syscall(LL_CREATE_RULESET, &attr, sizeof attr, 0);
    return r < 0 ? -errno : (int)r;
}

int parrot_landlock_allow_path(int ruleset, int fd, uint64_t access) {
    struct ll_path_beneath_attr attr = { access, fd };
    return syscall(LL_ADD_RULE, ruleset, LL_RULE_PATH_BENEATH, &attr, 0) < 0 ? -errno : 0;
}

int parrot_landlock_allow_port(int ruleset, uint64_t port, uint64_t access) {
    struct ll_net_port_attr attr = { access, port };
    return syscall(LL_ADD_RULE, ruleset, LL_RULE_NET_PORT, &attr, 0) < 0 ? -errno : 0;
}

int parrot_landlock_enter(int ruleset, uint32_t flags) {
    // landlock_restrict_self requires no_new_privs (or CAP_SYS_ADMIN).
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -errno;
    if (syscall(LL_RESTRICT_SELF, ruleset, flags) < 0) {
        // Kernels before ABI 7 reject the logging flags: enter without them.
        if (errno != EINVAL || flags == 0 || syscall(LL_RESTRICT_SELF, ruleset, 0) < 0) return -errno;
    }
    return 0;
}
