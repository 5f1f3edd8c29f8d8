// Path syscalls a namespace must translate, against a tree mounted at argv[1]
// holding a file "f" ("hello\n"), a directory "sub" and an executable "script.sh".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static void show(const char *what, long r) {
    if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void show_file(const char *what, int fd) {
    char buf[64] = { 0 };
    if (fd < 0) { show(what, -1); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %zd %s", what, n, buf);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "/data";
    char path[4096], buf[4096];
    snprintf(path, sizeof path, "%s/f", root);

    struct open_how how = { .flags = O_RDONLY };
    show_file("openat2 absolute", syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
    int dirfd = open(root, O_RDONLY | O_DIRECTORY);
    show("open dir", dirfd >= 0 ? 0 : -1);
    show_file("openat2 dirfd", syscall(SYS_openat2, dirfd, "f", &how, sizeof how));
    show_file("openat dirfd ..", openat(dirfd, "sub/../f", O_RDONLY));

    struct statx sx;
    show("statx absolute", statx(AT_FDCWD, path, 0, STATX_SIZE, &sx) == 0 ? (long)sx.stx_size : -1);
    show("statx dirfd dir", statx(dirfd, "sub", 0, STATX_TYPE, &sx) == 0 ? (long)S_ISDIR(sx.stx_mode) : -1);
    int fd = open(path, O_RDONLY);
    show("statx empty path", statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx) == 0 ? (long)sx.stx_size : -1);
    struct stat st;
    show("fstat", fstat(fd, &st) == 0 ? (long)st.st_size : -1);
    show("newfstatat dirfd", fstatat(dirfd, "f", &st, 0) == 0 ? (long)st.st_size : -1);
    show("newfstatat nofollow missing", fstatat(dirfd, "missing", &st, AT_SYMLINK_NOFOLLOW));
    show("faccessat2", syscall(SYS_faccessat2, AT_FDCWD, path, R_OK, AT_EACCESS));
    show("fchdir", fchdir(dirfd));
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : strerrorname_np(errno));
    ssize_t n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
    printf("readlink cwd: %.*s\n", (int)(n < 0 ? 0 : n), buf);
    show_file("open relative after fchdir", open("sub/../f", O_RDONLY));
    show("chdir sub", chdir("sub"));
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : strerrorname_np(errno));
    fflush(stdout);
    char *args[] = { "script.sh", "via-execveat", NULL };
    syscall(SYS_execveat, dirfd, "script.sh", args, environ, 0);
    show("execveat", -1);
    return 1;
}
