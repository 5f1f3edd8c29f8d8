// Signal forwarding from the agent to the traced program (async-signal-safe).
#define _GNU_SOURCE
#include "parrot_shim.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static volatile pid_t forward_target;

static void forward(int sig, siginfo_t *info, void *context) {
    (void)context;
    // si_code <= 0: sent by a process (SI_USER, SI_QUEUE, SI_TKILL).
    if (info->si_code <= 0 && forward_target > 0) kill(forward_target, sig);
}

static const int signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM };

void parrot_stop_forwarding(void) {
    forward_target = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
}

void parrot_forward_signals_to(pid_t target) {
    forward_target = target;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = forward;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        sigaction(signals[i], &action, NULL);
        sigaddset(&forwarded, signals[i]);
    }
    // The agent may have inherited a mask that blocks them; the program keeps
    // that mask (it was forked before), so forwarding is what exec would do.
    pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL);
}
