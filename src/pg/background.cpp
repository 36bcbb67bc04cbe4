#include "pg/background.hpp"

#include "pg/boundary.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
}

namespace dendrite::pg {

namespace {

engine::SerialWorker* worker = nullptr;
bool exit_callback_registered = false;

void stop_at_exit(int, Datum) { stop_background_worker(); }

}  // namespace

engine::SerialWorker* background_worker() {
    if (worker) return worker;
    if (!exit_callback_registered) {
        on_proc_exit(stop_at_exit, Datum(0));
        exit_callback_registered = true;
    }
    engine_call([&] { worker = new engine::SerialWorker(); });
    return worker;
}

engine::SerialWorker* running_background_worker() { return worker; }

void drain_background_work() {
    if (!worker) return;
    while (!worker->wait_until_unfinished_at_most(0, 1000000)) {
    }
}

void wait_for_background_work(size_t most) {
    if (!worker) return;
    while (!worker->wait_until_unfinished_at_most(most, 10000)) CHECK_FOR_INTERRUPTS();
}

void stop_background_worker() noexcept {
    if (!worker) return;
    engine::SerialWorker* stopping = worker;
    worker = nullptr;
    try {
        delete stopping;  // runs what is queued, then joins
    } catch (...) {
        // join() failing leaves a thread we can do nothing more about; nothing may reach PostgreSQL.
    }
}

}  // namespace dendrite::pg
