#include "engine/parallel.hpp"

#include <algorithm>
#include <chrono>

#include "engine/signals.hpp"

namespace dendrite::engine {

int WorkerPool::hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

WorkerPool::WorkerPool(int threads) {
    if (threads <= 0) threads = hardware_threads();
    threads = std::min(threads, 256);
    if (threads == 1) return;
    const SignalsBlocked blocked;  // the workers start with every signal blocked
    try {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
    } catch (...) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        start_.notify_all();
        for (auto& worker : workers_) worker.join();
        throw;
    }
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    start_.notify_all();
    for (auto& worker : workers_) worker.join();
}

// Thread t takes the tasks t, t + size, t + 2 size, ...: a fixed assignment, so nothing depends on timing.
void WorkerPool::run_share(int thread) {
    for (int i = thread; i < count_; i += size()) {
        try {
            (*task_)(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }
}

void WorkerPool::work(int worker) {
    long seen = 0;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) return;
            seen = generation_;
        }
        run_share(worker);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (--busy_ == 0) done_.notify_one();
        }
    }
}

void WorkerPool::run(int count, const std::function<void(int)>& task) {
    if (workers_.empty() || count <= 1) {
        for (int i = 0; i < count; ++i) task(i);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        task_ = &task;
        count_ = count;
        busy_ = int(workers_.size());
        error_ = nullptr;
        ++generation_;
    }
    start_.notify_all();
    run_share(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_ == 0; });
    if (error_) std::rethrow_exception(error_);
}

SerialWorker::SerialWorker() {
    const SignalsBlocked blocked;  // the thread starts with every signal blocked
    thread_ = std::thread([this] { work(); });
}

SerialWorker::~SerialWorker() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_one();
    thread_.join();
}

void SerialWorker::submit(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        tasks_.push_back(std::move(task));
        ++unfinished_;
    }
    queued_.notify_one();
}

size_t SerialWorker::unfinished() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return unfinished_;
}

bool SerialWorker::wait_until_unfinished_at_most(size_t most, int64_t microseconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return finished_.wait_for(lock, std::chrono::microseconds(microseconds), [&] { return unfinished_ <= most; });
}

void SerialWorker::work() {
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            queued_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, with nothing left to run
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        try {
            task();
        } catch (...) {
            // Dropped: tasks keep their own errors (see the class comment).
        }
        task = nullptr;  // its captures go before it counts as finished
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --unfinished_;
        }
        finished_.notify_all();
    }
}

}  // namespace dendrite::engine
