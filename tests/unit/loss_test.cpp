// The losses (engine/loss.hpp): weighted binary cross-entropy and focal loss, stable for huge logits.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/loss.hpp"
#include "engine/network.hpp"

using namespace dendrite::engine;

TEST(Loss, FocalWithGammaZeroIsBce) {
    RowVector logits(4);
    logits << 2.0f, -1.0f, 0.5f, -30.0f;
    const float labels[] = {1, 0, 0, 1};
    const float weights[] = {2, 1, 0.5, 1};
    RowVector g_bce, g_focal;
    const double bce = weighted_bce_with_logits(logits, labels, weights, &g_bce);
    const double focal = weighted_focal_with_logits(logits, labels, weights, 0.0, &g_focal);
    EXPECT_NEAR(bce, focal, 1e-9);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(g_bce[i], g_focal[i], 1e-7);
}

TEST(Loss, FocalDownWeightsEasyExamples) {
    // An easy positive (p = 0.95) loses far more of its loss than a hard one (p = 0.3): (1 - p)^2.
    RowVector easy(1), hard(1);
    easy << std::log(0.95f / 0.05f);
    hard << std::log(0.3f / 0.7f);
    const float label = 1;
    const double easy_ratio = weighted_focal_with_logits(easy, &label, nullptr, 2.0, nullptr) /
                              weighted_bce_with_logits(easy, &label, nullptr, nullptr);
    const double hard_ratio = weighted_focal_with_logits(hard, &label, nullptr, 2.0, nullptr) /
                              weighted_bce_with_logits(hard, &label, nullptr, nullptr);
    EXPECT_NEAR(easy_ratio, 0.05 * 0.05, 1e-5);
    EXPECT_NEAR(hard_ratio, 0.7 * 0.7, 1e-5);
}

TEST(Loss, WeightedBceMatchesDefinition) {
    RowVector logits(3);
    logits << 2.0f, -1.0f, 0.0f;
    const float labels[] = {1, 0, 1};
    const float weights[] = {2, 1, 0.5};
    RowVector gradient;
    const double loss = weighted_bce_with_logits(logits, labels, weights, &gradient);
    auto s = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
    const double expected = (2 * -std::log(s(2)) + 1 * -std::log(1 - s(-1)) + 0.5 * -std::log(s(0))) / 3;
    EXPECT_NEAR(loss, expected, 1e-9);
    EXPECT_NEAR(gradient[0], 2 * (s(2) - 1) / 3, 1e-7);
    EXPECT_NEAR(gradient[1], 1 * s(-1) / 3, 1e-7);
    EXPECT_NEAR(gradient[2], 0.5 * (s(0) - 1) / 3, 1e-7);
}

TEST(Loss, StableForHugeLogits) {
    RowVector logits(2);
    logits << 1000.0f, -1000.0f;
    const float labels[] = {0, 1};
    const double loss = weighted_bce_with_logits(logits, labels, nullptr, nullptr);
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_NEAR(loss, 1000.0, 1e-6);
}
