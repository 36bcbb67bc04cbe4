// A fixed set of worker threads for the engine's maths. The threads never call PostgreSQL (nothing in the
// engine does) and run with every signal blocked, so PostgreSQL's handlers (cancel, timeout, die) always
// run on the backend's own thread, which polls for them between batches.
#pragma once
#include "engine/engine_only.hpp"

#include <condition_variable>
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

    static int hardware_threads();

private:
    void work(int worker);
    void run_share(int thread);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable start_, done_;
    const std::function<void(int)>* task_ = nullptr;
    int count_ = 0;
    long generation_ = 0;
    int busy_ = 0;
    bool stopping_ = false;
    std::exception_ptr error_;
};

}  // namespace dendrite::engine
