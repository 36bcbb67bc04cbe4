// A fixed set of worker threads for the engine's maths. The threads never call PostgreSQL (nothing in the
// engine does) and run with every signal blocked, so PostgreSQL's handlers (cancel, timeout, die) always
// run on the backend's own thread, which polls for them between batches.
#pragma once
#include "engine/engine_only.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dendrite::engine {

class WorkerPool {
public:
    // threads <= 0: one per hardware thread. The calling thread is one of them.
    explicit WorkerPool(int threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int size() const { return int(workers_.size()) + 1; }

    // Runs task(i) for i in [0, count), spread over the threads, and returns when all are done. The first
    // exception a task throws is rethrown here (the other tasks still finish).
    void run(int count, const std::function<void(int)>& task);

    // One per hardware thread, at most the limit set: what "every core" means to a pool of 0 threads and
    // to the helper threads that run only on more than one core.
    static int hardware_threads();
    // Caps hardware_threads() for this process (0: no cap; the server's dendrite.max_threads).
    static void set_thread_limit(int limit) noexcept;
    static int thread_limit() noexcept;

private:
    void work(int worker);
    void run_share(int thread);
    // Spins until done() for the pool's current spin (see parallel.cpp), and adapts it; true when seen.
    template <typename Done>
    bool spin(Done done);
    void note_wait(int64_t nanoseconds);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable start_, done_;
    // Written by run before it publishes a generation, read by the workers after they see it.
    const std::function<void(int)>* task_ = nullptr;
    int count_ = 0;
    // A worker waits for the next generation, and run for the workers to finish, spinning for up to a few
    // tens of microseconds before sleeping on the condition variables: a training's batches follow each
    // other that fast, and waking a sleeping thread took a third of a small network's training (issue #26).
    std::atomic<long> generation_{0};
    std::atomic<int> busy_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> recent_wait_nanoseconds_{0};  // a moving average of waits (see spin)
    std::atomic<uint32_t> waits_{0};
    int sleeping_ = 0;          // workers asleep on start_ (under mutex_)
    std::exception_ptr error_;  // under mutex_
};

// One helper thread that runs tasks one after the other, in the order they were handed over: work that
// the backend hands off (guard_batch's row capture featurizes and scores an insert's rows on it while the
// backend goes on inserting) and that must still happen as if done at the moment it was handed over.
// Tasks must not throw (what one throws is dropped; catch and keep your own errors) and must touch no
// PostgreSQL state. The thread runs with every signal blocked, as the pool's do.
class SerialWorker {
public:
    SerialWorker();
    ~SerialWorker();  // runs what is queued, then joins
    SerialWorker(const SerialWorker&) = delete;
    SerialWorker& operator=(const SerialWorker&) = delete;

    void submit(std::function<void()> task);
    // Tasks handed over and not finished (queued or running).
    size_t unfinished() const;
    // Waits until at most `most` tasks are unfinished, or for `microseconds` at most; true when reached.
    // A caller that must stay interruptible waits in short steps.
    bool wait_until_unfinished_at_most(size_t most, int64_t microseconds);

private:
    void work();

    mutable std::mutex mutex_;
    std::condition_variable queued_, finished_;
    std::deque<std::function<void()>> tasks_;
    size_t unfinished_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace dendrite::engine
