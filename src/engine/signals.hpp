// Threads inherit the signal mask of the thread that creates them. Inside a PostgreSQL backend a signal
// (cancel, terminate) must be handled on the backend's own thread, never on a helper thread, so code that
// may start threads (the worker pool, xgboost's OpenMP, CUDA's runtime and cuBLAS) runs inside a
// SignalsBlocked scope; a signal that arrives meanwhile stays pending and is handled when the scope ends.
// Plain POSIX, no Eigen: the CUDA plugin (kernels/) includes it too.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace dendrite::engine {

class SignalsBlocked {
public:
    SignalsBlocked() {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &previous_);
    }
    ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
    SignalsBlocked(const SignalsBlocked&) = delete;
    SignalsBlocked& operator=(const SignalsBlocked&) = delete;

private:
    sigset_t previous_;
};

}  // namespace dendrite::engine
