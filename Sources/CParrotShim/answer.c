// Answered calls: the filter sends the data path of virtual descriptors to a
// seccomp user-notification listener instead of a ptrace stop. The caller
// sleeps in the kernel until the agent answers; no registers change hands, so
// a call costs two context switches and two ioctls instead of a full stop.
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int parrot_socketpair_cloexec(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0;
}

int parrot_receive_listener(int socket) {
    char byte;
    struct iovec io = { &byte, 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr message = { 0 };
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    ssize_t n = recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return -errno;
    if (n == 0) return -EAGAIN;  // the child closed its end: it runs with the traps only
    // A byte without its descriptor: the child runs with the listener's
    // filter and this process could not take the listener (out of fds).
    if (message.msg_flags & MSG_CTRUNC) return -EMFILE;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS
        || header->cmsg_len != CMSG_LEN(sizeof(int))) return -EPROTO;
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

int parrot_listener_sync_wakeup(int listener) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) < 0 ? -errno : 0;
}

int parrot_listener_wait(int listener, int stop_fd, uint64_t deadline_ns) {
    struct pollfd fds[2] = { { listener, POLLIN, 0 }, { stop_fd, POLLIN, 0 } };
    for (;;) {
        struct timespec left, *timeout = NULL;
        if (deadline_ns) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
            uint64_t wait = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
            left.tv_sec = (time_t)(wait / 1000000000u);
            left.tv_nsec = (long)(wait % 1000000000u);
            timeout = &left;
        }
        int n = ppoll(fds, 2, timeout, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return 0;
        if (fds[1].revents) return 2;
        if (fds[0].revents & POLLIN) return 1;
        return 3;  // POLLHUP: every task under the filter is gone
    }
}

int parrot_listener_receive(int listener, struct parrot_notification *out) {
    struct seccomp_notif request;
    memset(&request, 0, sizeof request);  // the kernel insists
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) < 0) return -errno;
    out->id = request.id;
    out->tid = (pid_t)request.pid;
    out->nr = request.data.nr;
    out->arch = request.data.arch;
    out->ip = request.data.instruction_pointer;
    memcpy(out->args, request.data.args, sizeof out->args);
    return 0;
}

int parrot_listener_id_valid(int listener, uint64_t id) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0 ? -errno : 0;
}

int parrot_listener_answer(int listener, uint64_t id, int64_t value, int32_t error, int proceed) {
    struct seccomp_notif_resp response;
    memset(&response, 0, sizeof response);
    response.id = id;
    if (proceed) {
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (error < 0) {
        response.error = error;
    } else {
        response.val = value;
    }
    // A taken call waits killably: an answer lost to a signal here would
    // leave it waiting for good.
    int rc;
    do rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}
