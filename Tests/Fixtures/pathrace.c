// A second thread flips a path between an allowed and a forbidden file while
// the main thread opens it for writing, ITERATIONS times. Prints how many
// opens reached each file (by inode) and how many were refused, and writes one
// byte into every file it opened. Usage: pathrace ALLOWED FORBIDDEN ITERATIONS
// (the two paths must have the same length, so that every flip is whole).
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4096];
static const char *names[2];
static size_t length;
static atomic_int done;

static void *flip(void *unused) {
    (void)unused;
    for (unsigned long i = 0; !atomic_load_explicit(&done, memory_order_relaxed); i++) {
        memcpy(path, names[i & 1], length);
        // A short pause between flips: the path still changes many times
        // during one tracer stop, without the cache-line storm of a bare loop
        // slowing every open of the main thread.
        for (int spin = 0; spin < 64; spin++) __builtin_ia32_pause();
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 || strlen(argv[1]) != strlen(argv[2])) {
        fprintf(stderr, "usage: pathrace ALLOWED FORBIDDEN ITERATIONS (same length)\n");
        return 2;
    }
    names[0] = argv[1];
    names[1] = argv[2];
    length = strlen(argv[1]) + 1;
    long iterations = atol(argv[3]);
    struct stat forbidden;
    if (stat(argv[2], &forbidden) != 0) { perror(argv[2]); return 2; }
    memcpy(path, names[0], length);
    pthread_t flipper;
    pthread_create(&flipper, NULL, flip, NULL);
    long allowed = 0, reached = 0, refused = 0;
    for (long i = 0; i < iterations; i++) {
        int fd = open(path, O_WRONLY | O_APPEND);
        if (fd < 0) { refused++; continue; }
        struct stat st;
        fstat(fd, &st);
        if (st.st_ino == forbidden.st_ino && st.st_dev == forbidden.st_dev) reached++; else allowed++;
        if (write(fd, "x", 1) != 1) perror("write");
        close(fd);
    }
    atomic_store(&done, 1);
    pthread_join(flipper, NULL);
    printf("allowed %ld forbidden %ld refused %ld\n", allowed, reached, refused);
    return 0;
}
