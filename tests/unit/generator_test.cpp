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

// Card testing from a given day: the days before are the data without it, row for row; from that day, bursts
// of tiny online payments at digital-goods terminals abroad, all fraud, and nothing of the kind before.
TEST(Generator, CardTestingFromADay) {
    GeneratorOptions options;
    options.customers = 1000;
    options.terminals = 2000;
    options.days = 12;
    const auto plain = generate_transactions(options);
    options.card_testing_from_day = 8;
    const auto tested = generate_transactions(options);
    size_t before = 0;
    while (before < plain.size() && plain[before].seconds < 8 * 86400) ++before;
    ASSERT_GT(tested.size(), before);
    for (size_t i = 0; i < before; ++i) {
        ASSERT_EQ(tested[i].seconds, plain[i].seconds);
        ASSERT_EQ(tested[i].customer_id, plain[i].customer_id);
        ASSERT_EQ(tested[i].terminal_id, plain[i].terminal_id);
        ASSERT_EQ(tested[i].amount, plain[i].amount);
        ASSERT_EQ(tested[i].scenario, plain[i].scenario);
    }
    size_t testing = 0;
    const auto& categories = generator_merchant_categories();
    for (size_t i = 0; i < tested.size(); ++i) {
        EXPECT_NE(plain[std::min(i, plain.size() - 1)].scenario, FraudScenario::CardTesting);
        if (tested[i].scenario != FraudScenario::CardTesting) continue;
        ++testing;
        EXPECT_GE(tested[i].seconds, 8 * 86400);
        EXPECT_TRUE(tested[i].fraud);
        EXPECT_TRUE(tested[i].online);
        EXPECT_NE(tested[i].ipv4, 0u);
        EXPECT_GE(tested[i].amount, 0.5);
        EXPECT_LE(tested[i].amount, 3.0);
        EXPECT_STREQ(categories[size_t(tested[i].merchant_category)], "digital_goods");
        EXPECT_NE(tested[i].country, 0);
        if (i > 0) {
            EXPECT_LE(tested[i - 1].seconds, tested[i].seconds);
        }
    }
    EXPECT_GT(testing, 60u);  // ~5 cards a day for 1,000 customers, 3 to 8 payments each, over 4 days
    options.card_testing_from_day = -2;
    EXPECT_THROW(generate_transactions(options), Error);
}
