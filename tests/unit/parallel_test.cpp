// The engine's threads (engine/parallel.hpp). SerialWorker: tasks run in order, an exception drops one task
// and not the next, and the thread blocks every signal (the backend's own signals stay the backend's).
// WorkerPool: every task of a run once, its writes seen when run returns, whether its workers were spinning
// or asleep when it began; a task's exception comes back from run and the pool goes on. Run under TSan
// (scripts/test.sh): the hand-over between runs is lock-free while the threads spin.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/parallel.hpp"

using namespace dendrite::engine;

TEST(SerialWorker, RunsTasksInOrderAndWaits) {
    SerialWorker worker;
    std::vector<int> order;
    std::atomic<int> done{0};
    for (int i = 0; i < 200; ++i)
        worker.submit([&, i] {
            order.push_back(i);  // only the worker's thread touches it until the wait below
            if (i == 7) throw std::runtime_error("dropped, and the next tasks still run");
            ++done;
        });
    ASSERT_TRUE(worker.wait_until_unfinished_at_most(0, 60 * 1000000LL));
    EXPECT_EQ(worker.unfinished(), 0u);
    EXPECT_EQ(done.load(), 199);
    ASSERT_EQ(order.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(order[size_t(i)], i);
}

TEST(SerialWorker, BlocksEverySignal) {
    SerialWorker worker;
    std::atomic<bool> all_blocked{false};
    worker.submit([&] {
        sigset_t mask;
        pthread_sigmask(SIG_SETMASK, nullptr, &mask);
        all_blocked = sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGTERM) == 1 &&
                      sigismember(&mask, SIGALRM) == 1 && sigismember(&mask, SIGUSR1) == 1;
    });
    ASSERT_TRUE(worker.wait_until_unfinished_at_most(0, 60 * 1000000LL));
    EXPECT_TRUE(all_blocked.load());
}

TEST(WorkerPool, RunsEveryTaskOnceWhetherItsThreadsSpinOrSleep) {
    for (int threads : {2, 3}) {
        WorkerPool pool(threads);
        std::vector<int> runs_of(13, 0);  // plain ints: run's return must make every task's write visible
        for (int run = 0; run < 600; ++run) {
            // Back to back the workers are still spinning; after a pause longer than the spin they sleep.
            if (run % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            const int count = 1 + run % 13;
            pool.run(count, [&](int i) { ++runs_of[size_t(i)]; });
            int total = 0;
            for (int i = 0; i < 13; ++i) total += runs_of[size_t(i)];
            int expected = 0;
            for (int r = 0; r <= run; ++r) expected += 1 + r % 13;
            ASSERT_EQ(total, expected) << "run " << run << " with " << threads << " threads";
        }
    }
}

TEST(WorkerPool, HandsBackATaskErrorAndGoesOn) {
    WorkerPool pool(2);
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.run(8,
                          [&](int i) {
                              ++ran;
                              if (i == 5) throw std::runtime_error("task 5");
                          }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 8);  // the other tasks still ran
    ran = 0;
    pool.run(8, [&](int) { ++ran; });
    EXPECT_EQ(ran.load(), 8);
}

TEST(WorkerPool, DestroyedRightAfterARun) {
    for (int i = 0; i < 200; ++i) {
        int sum = 0;
        std::vector<int> parts(4, 0);
        {
            WorkerPool pool(2);
            pool.run(4, [&](int t) { parts[size_t(t)] = t + 1; });
        }
        for (int part : parts) sum += part;
        ASSERT_EQ(sum, 10);
    }
}

TEST(WorkerPool, AThreadLimitCapsEveryCore) {
    const int every_core = int(std::max(1u, std::thread::hardware_concurrency()));
    WorkerPool::set_thread_limit(1);
    EXPECT_EQ(WorkerPool::hardware_threads(), 1);
    EXPECT_EQ(WorkerPool::thread_limit(), 1);
    EXPECT_EQ(WorkerPool(0).size(), 1);  // "every core" is one
    EXPECT_EQ(WorkerPool(2).size(), 2);  // an explicit count is not capped
    WorkerPool::set_thread_limit(every_core + 5);
    EXPECT_EQ(WorkerPool::hardware_threads(), every_core);
    WorkerPool::set_thread_limit(0);
    EXPECT_EQ(WorkerPool::hardware_threads(), every_core);
    EXPECT_EQ(WorkerPool::thread_limit(), 0);
}
