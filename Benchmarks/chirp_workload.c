// The program side of Figures 5.1 and 5.2: plain system calls on whatever
// directory it is given, a local one natively or /chirp/HOST:PORT/DIR under
// the agent. Prints `NAME VALUE UNIT` like workload.c.
//
// usage:
//   chirp_workload latency DIR ITERATIONS
//       mean latency of stat, open+close, an 8 KiB pread and an 8 KiB pwrite
//       (on descriptors opened once) on DIR/small.dat, created here.
//   chirp_workload stream PATH BLOCK BYTES
//       open PATH (create, truncate), write(2) BYTES in BLOCK-byte calls,
//       close: the streaming path, every write one request on a virtual
//       descriptor (unlike dd, whose output is reopened onto fd 1).
//   chirp_workload rlatency FILE ITERATIONS
//       the read-only part of `latency` on an existing FILE (stat,
//       open+close, an 8 KiB pread), for read-only services such as HTTP
//       and for the floor agent (Benchmarks/floor_chirp_agent.c).
//   chirp_workload readall FILE BLOCK
//       open FILE, read(2) it to the end in BLOCK-byte calls, close; prints
//       the bandwidth including the open (which fetches a cached copy).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMALL 8192

static char small[SMALL];
static char path_small[4096];
static int rfd = -1, wfd = -1;

static void die(const char *what, const char *path) {
    fprintf(stderr, "chirp_workload: %s %s: %s\n", what, path ? path : "", strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void op_stat(void) {
    struct stat st;
    if (stat(path_small, &st) < 0) die("stat", path_small);
}

static void op_open_close(void) {
    int fd = open(path_small, O_RDONLY);
    if (fd < 0) die("open", path_small);
    if (close(fd) < 0) die("close", path_small);
}

static void op_read(void) {
    if (pread(rfd, small, SMALL, 0) != SMALL) die("pread", path_small);
}

static void op_write(void) {
    if (pwrite(wfd, small, SMALL, 0) != SMALL) die("pwrite", "write.tmp");
}

// Warm-up (a tenth), then the mean over n.
static void run(const char *name, void (*op)(void), long n) {
    for (long i = 0; i < n / 10 + 1; i++) op();
    double t = now();
    for (long i = 0; i < n; i++) op();
    printf("%s %.3f us\n", name, (now() - t) / n * 1e6);
    fflush(stdout);
}

static void latency(const char *dir, long n) {
    char path_write[4096];
    snprintf(path_small, sizeof path_small, "%s/small.dat", dir);
    snprintf(path_write, sizeof path_write, "%s/write.tmp", dir);
    memset(small, 'x', SMALL);
    int fd = open(path_small, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, small, SMALL) != SMALL || close(fd) < 0) die("create", path_small);
    if ((rfd = open(path_small, O_RDONLY)) < 0) die("open", path_small);
    if ((wfd = open(path_write, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) die("open", path_write);
    run("stat", op_stat, n);
    run("open_close", op_open_close, n);
    run("read_8k", op_read, n);
    run("write_8k", op_write, n);
    close(rfd);
    close(wfd);
}

static void read_latency(const char *file, long n) {
    snprintf(path_small, sizeof path_small, "%s", file);
    if ((rfd = open(path_small, O_RDONLY)) < 0) die("open", path_small);
    run("stat", op_stat, n);
    run("open_close", op_open_close, n);
    run("read_8k", op_read, n);
    close(rfd);
}

static void read_all(const char *path, size_t block) {
    char *b = malloc(block);
    if (!b) die("malloc", NULL);
    double t = now();
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open", path);
    long long total = 0;
    for (ssize_t r; (r = read(fd, b, block)) != 0; total += r)
        if (r < 0) die("read", path);
    if (close(fd) < 0) die("close", path);
    printf("readall %.1f MB/s\n", total / (now() - t) / 1e6);
    printf("bytes %lld B\n", total);
}

static void stream(const char *path, size_t block, long long bytes) {
    char *b = malloc(block);
    if (!b) die("malloc", NULL);
    for (size_t i = 0; i < block; i++) b[i] = (char)(i * 7 + 3);
    double t = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open", path);
    for (long long done = 0; done < bytes;) {
        size_t k = bytes - done < (long long)block ? (size_t)(bytes - done) : block;
        ssize_t w = write(fd, b, k);
        if (w <= 0) die("write", path);
        done += w;
    }
    if (close(fd) < 0) die("close", path);
    printf("stream %.1f MB/s\n", bytes / (now() - t) / 1e6);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "latency")) {
        latency(argv[2], atol(argv[3]));
    } else if (argc == 5 && !strcmp(argv[1], "stream")) {
        stream(argv[2], (size_t)atoll(argv[3]), atoll(argv[4]));
    } else if (argc == 4 && !strcmp(argv[1], "rlatency")) {
        read_latency(argv[2], atol(argv[3]));
    } else if (argc == 4 && !strcmp(argv[1], "readall")) {
        read_all(argv[2], (size_t)atoll(argv[3]));
    } else {
        fprintf(stderr, "usage: chirp_workload latency DIR N | stream PATH BLOCK BYTES | rlatency FILE N | readall FILE BLOCK\n");
        return 2;
    }
    return 0;
}
