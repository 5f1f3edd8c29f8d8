// Reads FILE whole in THREADS threads at once while a signal handler installed
// without SA_RESTART runs every 100 µs. Reads and closes of a regular file are
// never interrupted: prints how many failed with EINTR (0 natively) and one
// checksum when every thread read the same bytes.
//
// usage: eintr FILE THREADS
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *path;
static volatile long ticks;
static long interrupted;
static pthread_mutex_t counting = PTHREAD_MUTEX_INITIALIZER;

static void tick(int sig) { (void)sig; ticks++; }

static void *reader(void *result) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror("open"); exit(1); }
    uint64_t sum = 1469598103934665603u;  // FNV-1a
    char buffer[3000];
    long eintr = 0;
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) { eintr++; continue; }
        if (n < 0) { perror("read"); exit(1); }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) sum = (sum ^ (unsigned char)buffer[i]) * 1099511628211u;
    }
    while (close(fd) < 0) {
        if (errno != EINTR) { perror("close"); exit(1); }
        eintr++;
        break;  // the number is gone either way (Linux)
    }
    pthread_mutex_lock(&counting);
    interrupted += eintr;
    pthread_mutex_unlock(&counting);
    *(uint64_t *)result = sum;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: eintr FILE THREADS\n"); return 2; }
    path = argv[1];
    int count = atoi(argv[2]);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = tick;  // no SA_RESTART
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &every, NULL);
    pthread_t threads[64];
    uint64_t sums[64];
    for (int i = 0; i < count && i < 64; i++) pthread_create(&threads[i], NULL, reader, &sums[i]);
    for (int i = 0; i < count && i < 64; i++) pthread_join(threads[i], NULL);
    struct itimerval never = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &never, NULL);
    int same = 1;
    for (int i = 1; i < count && i < 64; i++) same &= sums[i] == sums[0];
    printf("eintr %ld, %s %016llx\n", interrupted, same ? "same bytes" : "DIFFERENT bytes", (unsigned long long)sums[0]);
    fprintf(stderr, "%ld signals\n", ticks);
    return 0;
}
