// The tracer's wait for its next stop: a short poll, then a sleep that a
// per-thread timer can end at a deadline (work the agent deferred, such as
// gathered writes, must not wait for the program's next trapped call).
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Any real-time signal the agent uses for nothing else; its handler does
// nothing, and without SA_RESTART it ends the sleeping waitpid with EINTR.
#define WAKE_SIGNAL (SIGRTMIN + 6)

static __thread timer_t wake_timer;
static __thread int wake_timer_state;  // 0 not made, 1 made, -1 cannot be made

static void wake_handler(int sig) { (void)sig; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Arms this thread's timer to fire at `deadline_ns`; 0 when it cannot.
static int arm_wake(uint64_t deadline_ns) {
    if (wake_timer_state == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = wake_handler;
        sigemptyset(&action.sa_mask);
        struct sigevent event;
        memset(&event, 0, sizeof event);
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = WAKE_SIGNAL;
        event._sigev_un._tid = gettid();
        sigset_t wake;
        sigemptyset(&wake);
        sigaddset(&wake, WAKE_SIGNAL);
        wake_timer_state = sigaction(WAKE_SIGNAL, &action, NULL) == 0 &&
                           pthread_sigmask(SIG_UNBLOCK, &wake, NULL) == 0 &&
                           timer_create(CLOCK_MONOTONIC, &event, &wake_timer) == 0 ? 1 : -1;
    }
    if (wake_timer_state < 0) return 0;
    struct itimerspec when;
    memset(&when, 0, sizeof when);
    when.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
    when.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
    return timer_settime(wake_timer, TIMER_ABSTIME, &when, NULL) == 0;
}

static void disarm_wake(void) {
    struct itimerspec never;
    memset(&never, 0, sizeof never);
    timer_settime(wake_timer, 0, &never, NULL);
}

pid_t parrot_wait_all(int *status, int nothread, uint64_t spin_ns, uint64_t wake_ns) {
    int flags = __WALL | (nothread ? __WNOTHREAD : 0);
    pid_t r;
    if (spin_ns) {
        // Poll before sleeping: a sleeping tracer lets its CPU idle, and waking an
        // idle virtual CPU costs far more than the stop itself.
        uint64_t deadline = now_ns() + spin_ns;
        do {
            r = waitpid(-1, status, flags | WNOHANG);
            if (r != 0) return r < 0 ? -errno : r;
            // A tracee waiting for this very CPU runs now instead of after the spin.
            sched_yield();
        } while (now_ns() < deadline);
    }
    // The timer runs only while this thread sleeps here, so that its signal
    // interrupts nothing else the agent does.
    int armed = 0;
    if (wake_ns) {
        if (now_ns() >= wake_ns) return -ETIMEDOUT;
        armed = arm_wake(wake_ns);
    }
    for (;;) {
        r = waitpid(-1, status, flags);
        if (r >= 0 || errno != EINTR) break;
        if (armed && now_ns() >= wake_ns) {
            disarm_wake();
            return -ETIMEDOUT;
        }
    }
    int saved = errno;
    if (armed) disarm_wake();
    return r < 0 ? -saved : r;
}

void parrot_wait_done(void) {
    if (wake_timer_state == 1) timer_delete(wake_timer);
    wake_timer_state = 0;
}
