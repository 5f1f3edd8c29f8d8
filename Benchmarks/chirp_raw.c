// A minimal Chirp client, the floor for Figures 5.1 and 5.2: one TCP
// connection to 127.0.0.1, the `address` login, and each operation exactly one
// request and its reply, with nothing else in the loop (no buffering, no
// retries, one writev per request). Prints `NAME VALUE UNIT` like workload.c.
//
// usage:
//   chirp_raw PORT latency DIR ITERATIONS
//       mean latency of stat, open+close, pread 8 KiB and pwrite 8 KiB on
//       DIR/small.dat (created here), the same loops as chirp_workload's.
//   chirp_raw PORT pwrite PATH BLOCK BYTES
//       open PATH (create, truncate), pwrite BYTES in BLOCK-byte requests,
//       close: the floor for a program writing a remote file with write(2).
//   chirp_raw PORT putfile PATH BYTES
//       one putfile of BYTES: the floor for the write-back of a local copy.
//   chirp_raw PORT load CLIENTS BYTES DIR
//       CLIENTS processes at once, each on its own connection: pwrite BYTES
//       in 1 MiB requests to DIR/loadN, read them back with pread and compare,
//       unlink. Prints the number of clients that failed (0 is a pass).
//
// Throughput modes time from the first request to the last reply. The payload
// comes from memory, so nothing but the protocol and the server is measured.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL 8192
#define LOAD_BLOCK (1 << 20)

static int sock = -1;
static char rbuf[1 << 16];
static size_t rpos, rlen;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chirp_raw[%d]: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(void) {
    ssize_t n;
    do n = recv(sock, rbuf, sizeof rbuf, 0); while (n < 0 && errno == EINTR);
    if (n <= 0) fail("connection closed by the server (%s)", n < 0 ? strerror(errno) : "EOF");
    rpos = 0;
    rlen = (size_t)n;
}

// One reply line without its newline.
static char *line(void) {
    static char out[4096];
    size_t k = 0;
    for (;;) {
        if (rpos == rlen) fill();
        char c = rbuf[rpos++];
        if (c == '\n') break;
        if (k + 1 < sizeof out) out[k++] = c;
    }
    out[k] = 0;
    return out;
}

static long long result(void) {
    char *l = line(), *end;
    long long v = strtoll(l, &end, 10);
    if (end == l) fail("malformed reply line '%s'", l);
    return v;
}

static void payload(char *dst, size_t n) {
    while (n > 0) {
        if (rpos == rlen) {
            if (n >= sizeof rbuf) {  // large payloads straight into place
                ssize_t got = recv(sock, dst, n, 0);
                if (got <= 0) fail("short payload");
                dst += got;
                n -= (size_t)got;
                continue;
            }
            fill();
        }
        size_t k = rlen - rpos < n ? rlen - rpos : n;
        memcpy(dst, rbuf + rpos, k);
        rpos += k;
        dst += k;
        n -= k;
    }
}

static void send_all(struct iovec *iov, int cnt) {
    while (cnt > 0) {
        ssize_t n = writev(sock, iov, cnt);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("send: %s", strerror(errno));
        while (cnt > 0 && (size_t)n >= iov->iov_len) { n -= iov->iov_len; iov++; cnt--; }
        if (cnt > 0) { iov->iov_base = (char *)iov->iov_base + n; iov->iov_len -= n; }
    }
}

// Sends a request line, optionally followed at once by a payload.
static void request(const void *data, size_t len, const char *fmt, ...) {
    char req[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    struct iovec iov[2] = {{req, (size_t)n}, {(void *)data, len}};
    send_all(iov, len ? 2 : 1);
}

static void connect_and_login(int port) {
    sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sock < 0 || connect(sock, (struct sockaddr *)&a, sizeof a) < 0)
        fail("connect 127.0.0.1:%d: %s", port, strerror(errno));
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rpos = rlen = 0;
    request(NULL, 0, "address\n");
    // "yes" (will try), "yes" (accepted) ... then "address" and the subject.
    for (int i = 0; i < 5; i++) {
        char *l = line();
        if (!strcmp(l, "no")) fail("the server refused the address method");
        if (!strcmp(l, "address")) { line(); return; }
    }
    fail("unexpected login exchange");
}

static void expect_ok(long long r, const char *what) {
    if (r < 0) fail("%s: chirp error %lld", what, r);
}

static int do_open(const char *path, const char *flags) {
    request(NULL, 0, "open %s %s 420\n", path, flags);
    long long fd = result();
    expect_ok(fd, "open");
    line();  // the stat line
    return (int)fd;
}

static void do_close(int fd) {
    request(NULL, 0, "close %d\n", fd);
    expect_ok(result(), "close");
}

static void do_pwrite(int fd, const char *buf, size_t len, long long off) {
    request(buf, len, "pwrite %d %zu %lld\n", fd, len, off);
    long long r = result();
    if (r != (long long)len) fail("pwrite: %lld of %zu", r, len);
}

static long long do_pread(int fd, char *buf, size_t len, long long off) {
    request(NULL, 0, "pread %d %zu %lld\n", fd, len, off);
    long long r = result();
    expect_ok(r, "pread");
    payload(buf, (size_t)r);
    return r;
}

static char small[SMALL];
static char path_small[1100];
static int rfd, wfd;

static void op_stat(void) {
    request(NULL, 0, "stat %s\n", path_small);
    expect_ok(result(), "stat");
    line();
}
static void op_open_close(void) { do_close(do_open(path_small, "r")); }
static void op_read(void) {
    if (do_pread(rfd, small, SMALL, 0) != SMALL) fail("short pread");
}
static void op_write(void) { do_pwrite(wfd, small, SMALL, 0); }

static void run(const char *name, void (*op)(void), long n) {
    for (long i = 0; i < n / 10 + 1; i++) op();
    double t = now();
    for (long i = 0; i < n; i++) op();
    printf("%s %.3f us\n", name, (now() - t) / n * 1e6);
    fflush(stdout);
}

static void latency(const char *dir, long n) {
    snprintf(path_small, sizeof path_small, "%s/small.dat", dir);
    memset(small, 'x', SMALL);
    int fd = do_open(path_small, "wct");
    do_pwrite(fd, small, SMALL, 0);
    do_close(fd);
    char path_write[1100];
    snprintf(path_write, sizeof path_write, "%s/write.tmp", dir);
    rfd = do_open(path_small, "r");
    wfd = do_open(path_write, "wct");
    run("stat", op_stat, n);
    run("open_close", op_open_close, n);
    run("read_8k", op_read, n);
    run("write_8k", op_write, n);
}

static char *block_of(size_t n) {
    char *b = malloc(n);
    if (!b) fail("malloc %zu", n);
    for (size_t i = 0; i < n; i++) b[i] = (char)(i * 7 + 3);
    return b;
}

static void stream(const char *path, size_t block, long long bytes) {
    char *b = block_of(block);
    double t = now();
    int fd = do_open(path, "wct");
    for (long long off = 0; off < bytes; off += block) {
        size_t k = bytes - off < (long long)block ? (size_t)(bytes - off) : block;
        do_pwrite(fd, b, k, off);
    }
    do_close(fd);
    printf("pwrite %.1f MB/s\n", bytes / (now() - t) / 1e6);
}

static void putfile(const char *path, long long bytes) {
    char *b = block_of(1 << 20);
    double t = now();
    request(NULL, 0, "putfile %s 420 %lld\n", path, bytes);
    expect_ok(result(), "putfile");
    for (long long off = 0; off < bytes; off += 1 << 20) {
        size_t k = bytes - off < (1 << 20) ? (size_t)(bytes - off) : (1 << 20);
        struct iovec iov = {b, k};
        send_all(&iov, 1);
    }
    long long r = result();
    if (r != bytes) fail("putfile stored %lld of %lld", r, bytes);
    printf("putfile %.1f MB/s\n", bytes / (now() - t) / 1e6);
}

// One load client: returns 0 when its data came back intact.
static int load_client(int port, const char *dir, int id, long long bytes) {
    connect_and_login(port);
    char path[1200];
    snprintf(path, sizeof path, "%s/load%d", dir, id);
    char *b = block_of(LOAD_BLOCK), *back = malloc(LOAD_BLOCK);
    b[0] = (char)id;  // each client's file differs
    int fd = do_open(path, "rwct");
    for (long long off = 0; off < bytes; off += LOAD_BLOCK) {
        size_t k = bytes - off < LOAD_BLOCK ? (size_t)(bytes - off) : LOAD_BLOCK;
        do_pwrite(fd, b, k, off);
    }
    for (long long off = 0; off < bytes; off += LOAD_BLOCK) {
        size_t k = bytes - off < LOAD_BLOCK ? (size_t)(bytes - off) : LOAD_BLOCK;
        size_t got = 0;
        while (got < k) {
            long long r = do_pread(fd, back + got, k - got, off + got);
            if (r <= 0) fail("client %d: pread at %lld gave %lld", id, off + got, r);
            got += r;
        }
        if (memcmp(back, b, k)) fail("client %d: data differs at %lld", id, off);
    }
    do_close(fd);
    request(NULL, 0, "unlink %s\n", path);
    expect_ok(result(), "unlink");
    return 0;
}

static void load(int port, int clients, long long bytes, const char *dir) {
    double t = now();
    pid_t *pids = calloc(clients, sizeof *pids);
    for (int i = 0; i < clients; i++) {
        pids[i] = fork();
        if (pids[i] < 0) fail("fork: %s", strerror(errno));
        if (pids[i] == 0) _exit(load_client(port, dir, i, bytes));
    }
    int failed = 0;
    for (int i = 0; i < clients; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    }
    double s = now() - t;
    printf("load_clients %d clients\nload_failed %d clients\nload_seconds %.2f s\n"
           "load_throughput %.1f MB/s\n", clients, failed, s, 2.0 * clients * bytes / s / 1e6);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: chirp_raw PORT latency DIR N | pwrite PATH BLOCK BYTES | "
                        "putfile PATH BYTES | load CLIENTS BYTES DIR\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *mode = argv[2];
    if (!strcmp(mode, "load") && argc == 6) {
        load(port, atoi(argv[3]), atoll(argv[4]), argv[5]);
        return 0;
    }
    connect_and_login(port);
    if (!strcmp(mode, "latency") && argc == 5) latency(argv[3], atol(argv[4]));
    else if (!strcmp(mode, "pwrite") && argc == 6) stream(argv[3], (size_t)atoll(argv[4]), atoll(argv[5]));
    else if (!strcmp(mode, "putfile") && argc == 5) putfile(argv[3], atoll(argv[4]));
    else fail("bad arguments for mode %s", mode);
    return 0;
}
