// The helper thread (engine/parallel.hpp's SerialWorker): tasks run in order, an exception drops one task
// and not the next, and the thread blocks every signal (the backend's own signals stay the backend's).
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <stdexcept>
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
