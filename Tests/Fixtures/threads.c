// Each thread creates, writes, reads back and unlinks its own files.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { THREADS = 6, ROUNDS = 200 };

static void *work(void *arg) {
    long id = (long)arg;
    char name[64], data[128], back[128];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(name, sizeof name, "thread-%ld-%d.txt", id, i % 7);
        int n = snprintf(data, sizeof data, "thread %ld round %d\n", id, i);
        int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0 || write(fd, data, n) != n || close(fd) < 0) return (void *)1;
        fd = open(name, O_RDONLY);
        if (fd < 0 || read(fd, back, sizeof back) != n || close(fd) < 0) return (void *)2;
        if (memcmp(data, back, n) != 0 || unlink(name) < 0) return (void *)3;
    }
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, work, (void *)i);
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join(threads[i], &result);
        if (result) { printf("thread %d failed: %ld\n", i, (long)result); failures++; }
    }
    printf("%d threads, %d failures\n", THREADS, failures);
    return failures ? 1 : 0;
}
