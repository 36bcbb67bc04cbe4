#include <gtest/gtest.h>

#include "engine/error.hpp"
#include "engine/generator.hpp"

using namespace dendrite::engine;

TEST(Generator, RealisticAndDeterministic) {
    GeneratorOptions options;
    options.days = 40;  // 2000 customers, 4000 terminals: ~160k rows
    const auto a = generate_transactions(options);
    const auto b = generate_transactions(options);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GT(a.size(), 2000u * 40u);  // ~2 transactions a customer a day
    size_t frauds = 0, by_scenario[4] = {0, 0, 0, 0}, online = 0, weekend = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].transaction_id, int64_t(i));
        if (i > 0) {
            EXPECT_LE(a[i - 1].seconds, a[i].seconds);
        }
        EXPECT_EQ(a[i].amount, b[i].amount);
        EXPECT_GT(a[i].amount, 0.0);
        EXPECT_EQ(a[i].online, a[i].ipv4 != 0);
        frauds += a[i].fraud;
        by_scenario[int(a[i].scenario)]++;
        online += a[i].online;
        weekend += (a[i].seconds / 86400) % 7 >= 5;
    }
    const double rate = double(frauds) / double(a.size());
    EXPECT_GT(rate, 0.004);
    EXPECT_LT(rate, 0.03);
    EXPECT_GT(by_scenario[1], 0u);
    EXPECT_GT(by_scenario[2], 0u);
    EXPECT_GT(by_scenario[3], 0u);
    EXPECT_GT(online, a.size() / 20);
    EXPECT_GT(weekend, a.size() / 5);
}

TEST(Generator, ValidatesOptions) {
    GeneratorOptions options;
    options.days = 0;
    EXPECT_THROW(generate_transactions(options), Error);
    options.days = 10;
    options.customers = -1;
    EXPECT_THROW(generate_transactions(options), Error);
}
