// A rewritten path syscall interrupted by signals and restarted (SA_RESTART):
// open() of a FIFO under the mount blocks while a timer fires every 2 ms and a
// handler scribbles over the stack below it. argv[1]: the FIFO's path.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int ticks;

static void tick(int sig) {
    (void)sig;
    volatile char scribble[8192];
    memset((char *)scribble, 'X', sizeof scribble);
    ticks++;
}

int main(int argc, char **argv) {
    const char *fifo = argc > 1 ? argv[1] : "/data/fifo";
    pid_t writer = fork();
    if (writer == 0) {
        usleep(300 * 1000);
        int fd = open(fifo, O_WRONLY);
        if (fd < 0 || write(fd, "through\n", 8) != 8) _exit(1);
        _exit(0);
    }
    struct sigaction action = { .sa_handler = tick, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &action, NULL);
    struct itimerval timer = { { 0, 2000 }, { 0, 2000 } };
    setitimer(ITIMER_REAL, &timer, NULL);
    int fd = open(fifo, O_RDONLY);
    timer = (struct itimerval){ 0 };
    setitimer(ITIMER_REAL, &timer, NULL);
    char buf[16] = { 0 };
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    int status;
    waitpid(writer, &status, 0);
    printf("read %zd %s", n, n > 0 ? buf : "\n");
    printf("interrupted %s\n", ticks > 10 ? "many times" : "rarely");
    return fd < 0;
}
