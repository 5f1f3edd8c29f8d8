// Threads that fork without end (each child exits at once): a kill from
// outside lands, sooner or later, between a child's creation and its
// parent's report of it.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 8 };

static void *forker(void *arg) {
    (void)arg;
    for (;;) {
        pid_t child = fork();
        if (child == 0) _exit(0);
        if (child > 0) waitpid(child, NULL, 0);
    }
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, forker, NULL);
    pthread_join(threads[0], NULL);
    return 0;
}
