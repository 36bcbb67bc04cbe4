#include "engine/parallel.hpp"

#include <algorithm>
#include <chrono>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "engine/signals.hpp"

namespace dendrite::engine {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

// How long a thread spins on an atomic before it sleeps: long enough to bridge the serial work between two
// batches (the gradients' sum and the optimizer's step) on an idle machine. On a busy one the thread waited
// for is often off its core for a whole time slice, and a spinning thread takes a core from it or from the
// rest of the server (a training took 30 % longer beside one busy process): a pool spins only while its
// recent waits were shorter than this (WorkerPool::spin).
constexpr int64_t kMaxSpinNanoseconds = 50000;

int64_t nanoseconds_now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Spins until done() or `nanoseconds` have passed; true when done() was seen.
template <typename Done>
bool spin_until(Done done, int64_t nanoseconds) {
    const int64_t deadline = nanoseconds_now() + nanoseconds;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
            cpu_relax();
        }
        if (nanoseconds_now() >= deadline) return done();
    }
}

}  // namespace

template <typename Done>
bool WorkerPool::spin(Done done) {
    // Spin while the pool's recent waits were short (an idle machine: the other thread is on its core), or
    // on every 16th wait to find out whether they are short again; wait times are a moving average.
    const int64_t start = nanoseconds_now();
    const int64_t average = recent_wait_nanoseconds_.load(std::memory_order_relaxed);
    const bool probe = (waits_.fetch_add(1, std::memory_order_relaxed) & 15) == 0;
    const bool seen = (average < kMaxSpinNanoseconds || probe) && spin_until(done, kMaxSpinNanoseconds);
    if (seen) note_wait(nanoseconds_now() - start);
    return seen;
}

void WorkerPool::note_wait(int64_t nanoseconds) {
    const int64_t average = recent_wait_nanoseconds_.load(std::memory_order_relaxed);
    // Racy between threads: the average is a hint. A long idle time counts as a few spins' worth, so that
    // the pool's first batches after it are not held to it.
    const int64_t capped = std::min(nanoseconds, 4 * kMaxSpinNanoseconds);
    recent_wait_nanoseconds_.store(average + (capped - average) / 8, std::memory_order_relaxed);
}

namespace {
std::atomic<int> thread_limit_setting{0};  // set_thread_limit's
}

int WorkerPool::hardware_threads() {
    const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
    const int limit = thread_limit_setting.load(std::memory_order_relaxed);
    return limit > 0 ? std::min(hardware, limit) : hardware;
}

void WorkerPool::set_thread_limit(int limit) noexcept {
    thread_limit_setting.store(std::max(limit, 0), std::memory_order_relaxed);
}

int WorkerPool::thread_limit() noexcept { return thread_limit_setting.load(std::memory_order_relaxed); }

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
            stopping_.store(true);
        }
        start_.notify_all();
        for (auto& worker : workers_) worker.join();
        throw;
    }
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_.store(true);
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
    auto ready = [&] {
        return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    for (;;) {
        const int64_t waited_from = nanoseconds_now();
        if (!spin(ready)) {
            std::unique_lock<std::mutex> lock(mutex_);
            ++sleeping_;
            start_.wait(lock, ready);
            --sleeping_;
            note_wait(nanoseconds_now() - waited_from);
        }
        if (stopping_.load(std::memory_order_acquire)) return;
        seen = generation_.load(std::memory_order_acquire);
        run_share(worker);
        // The last worker to finish wakes run, should it sleep (it checks busy_ under the mutex).
        if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> lock(mutex_);
            done_.notify_one();
        }
    }
}

void WorkerPool::run(int count, const std::function<void(int)>& task) {
    if (workers_.empty() || count <= 1) {
        for (int i = 0; i < count; ++i) task(i);
        return;
    }
    bool wake;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        task_ = &task;
        count_ = count;
        error_ = nullptr;
        busy_.store(int(workers_.size()), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);  // publishes the task to spinning workers
        wake = sleeping_ > 0;  // a worker that sleeps after this sees the generation under the mutex
    }
    if (wake) start_.notify_all();
    run_share(0);
    auto finished = [&] { return busy_.load(std::memory_order_acquire) == 0; };
    const int64_t waited_from = nanoseconds_now();
    if (!spin(finished)) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, finished);
        note_wait(nanoseconds_now() - waited_from);
    }
    std::lock_guard<std::mutex> lock(mutex_);
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
