// execve from a thread that is not the thread-group leader.
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *run(void *arg) {
    (void)arg;
    execl("/bin/echo", "echo", "exec from a thread", (char *)NULL);
    perror("execl");
    return NULL;
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, run, NULL);
    pthread_join(thread, NULL);
    return 1;  // not reached when the exec works
}
