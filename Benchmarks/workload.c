// Micro-benchmark behind Figure 2.1: per-operation latency of a few system
// calls, 1 MiB read bandwidth, and fork+exec+wait, printed as `NAME VALUE UNIT`.
//
// usage: workload DIR [SCALE]
//   DIR    a directory for scratch files; it must already hold big.dat (the
//          runner writes it once, so every configuration reads the same file,
//          which is then in the page cache: bandwidth is a memory-copy figure).
//   SCALE  multiplies every iteration count (default 1; run.py --quick uses less).
//
// Iteration counts are fixed (not time-calibrated) so every configuration makes
// exactly the same calls; they are sized for ~0.2-0.5 s per metric natively.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL_SIZE 8192
#define BLOCK_SIZE (1 << 20)

static double scale = 1.0;
static char small_path[4096], write_path[4096], big_path[4096];
static char small_buf[SMALL_SIZE];

static void die(const char *what, const char *path) {
    fprintf(stderr, "workload: %s %s: %s\n", what, path ? path : "", strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long scaled(long n) {
    long k = (long)(n * scale);
    return k < 1 ? 1 : k;
}

// Each op_* does one operation; run() warms it up (first-touch faults, dentry
// cache, the tracer's per-process state) and then reports the mean latency.
typedef void (*op_fn)(void);

static void run(const char *name, op_fn op, long iterations) {
    long n = scaled(iterations);
    for (long i = 0; i < n / 10 + 1; i++) op();
    double start = now();
    for (long i = 0; i < n; i++) op();
    double elapsed = now() - start;
    printf("%s %.3f us\n", name, elapsed / n * 1e6);
    fflush(stdout);
}

static void op_getpid(void) {
    // The raw syscall: glibc's getpid() is not cached today, but be sure.
    syscall(SYS_getpid);
}

static void op_stat(void) {
    struct stat st;
    if (stat(small_path, &st) < 0) die("stat", small_path);
}

static void op_open_close(void) {
    int fd = open(small_path, O_RDONLY);
    if (fd < 0) die("open", small_path);
    close(fd);
}

static int read_fd = -1, write_fd = -1;

static void op_read(void) {
    if (pread(read_fd, small_buf, SMALL_SIZE, 0) != SMALL_SIZE) die("pread", small_path);
}

static void op_write(void) {
    // Same offset every time: the file stays 8 KiB and no blocks are allocated.
    if (pwrite(write_fd, small_buf, SMALL_SIZE, 0) != SMALL_SIZE) die("pwrite", write_path);
}

static void op_fork_exec(void) {
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) die("waitpid", NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "workload: /bin/true ended with status %#x\n", status);
        exit(1);
    }
}

static void bandwidth(const char *name, long passes) {
    char *block = malloc(BLOCK_SIZE);
    if (!block) die("malloc", NULL);
    memset(block, 0, BLOCK_SIZE);  // fault the buffer in before timing

    long n = scaled(passes);
    double elapsed = 0;
    long long bytes = 0;
    for (long pass = -1; pass < n; pass++) {  // pass -1 is an untimed warm-up
        int fd = open(big_path, O_RDONLY);
        if (fd < 0) die("open", big_path);
        double start = now();
        long long got = 0;
        for (;;) {
            ssize_t r = read(fd, block, BLOCK_SIZE);
            if (r < 0) die("read", big_path);
            if (r == 0) break;
            got += r;
        }
        double t = now() - start;
        close(fd);
        if (got == 0) { errno = EINVAL; die("empty file", big_path); }
        if (pass >= 0) { elapsed += t; bytes += got; }
    }
    printf("%s %.1f MB/s\n", name, bytes / elapsed / 1e6);
    fflush(stdout);
    free(block);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DIR [SCALE]\n", argv[0]);
        return 2;
    }
    if (argc == 3) {
        scale = strtod(argv[2], NULL);
        if (!(scale > 0)) { fprintf(stderr, "workload: bad scale %s\n", argv[2]); return 2; }
    }
    const char *dir = argv[1];
    snprintf(small_path, sizeof small_path, "%s/small.dat", dir);
    snprintf(write_path, sizeof write_path, "%s/write.tmp", dir);
    snprintf(big_path, sizeof big_path, "%s/big.dat", dir);

    memset(small_buf, 'x', SMALL_SIZE);
    int fd = open(small_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, small_buf, SMALL_SIZE) != SMALL_SIZE) die("create", small_path);
    close(fd);
    if ((read_fd = open(small_path, O_RDONLY)) < 0) die("open", small_path);
    if ((write_fd = open(write_path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0) die("open", write_path);

    run("getpid", op_getpid, 2000000);
    run("stat", op_stat, 250000);
    run("open_close", op_open_close, 100000);
    run("read_8k", op_read, 400000);
    run("write_8k", op_write, 300000);
    bandwidth("bandwidth_1m", 8);
    run("fork_exec_wait", op_fork_exec, 400);

    close(read_fd);
    close(write_fd);
    unlink(write_path);
    unlink(small_path);
    return 0;
}
