// Optimizer steps against values computed by hand.
#include <gtest/gtest.h>

#include "engine/error.hpp"
#include "engine/optimizer.hpp"

using namespace dendrite::engine;

TEST(Optimizer, SgdWithMomentum) {
    Sgd sgd(0.1, 0.9, 1);
    float p = 1.0f;
    const float g = 0.5f;
    sgd.step(&p, &g);  // v = 0.5, p = 1 - 0.05
    EXPECT_NEAR(p, 0.95f, 1e-7);
    sgd.step(&p, &g);  // v = 0.9 * 0.5 + 0.5 = 0.95, p = 0.95 - 0.095
    EXPECT_NEAR(p, 0.855f, 1e-6);
}

TEST(Optimizer, PlainSgd) {
    Sgd sgd(0.5, 0.0, 2);
    float p[2] = {1.0f, -2.0f};
    const float g[2] = {0.2f, -0.4f};
    sgd.step(p, g);
    EXPECT_NEAR(p[0], 0.9f, 1e-7);
    EXPECT_NEAR(p[1], -1.8f, 1e-6);
}

TEST(Optimizer, AdamTwoSteps) {
    Adam adam(0.1, 0.9, 0.999, 1e-8, 1);
    float p = 1.0f;
    float g = 0.5f;
    // Step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25 -> p = 1 - 0.1 * 0.5 / 0.5 = 0.9.
    adam.step(&p, &g);
    EXPECT_NEAR(p, 0.9f, 1e-6);
    // Step 2 with g = -0.25: m = 0.02, v = 0.00031225, m_hat = 0.02 / 0.19 = 0.1052632,
    // v_hat = 0.00031225 / 0.001999 = 0.1562031, sqrt = 0.3952254 -> p = 0.9 - 0.1 * 0.2663372 = 0.8733663.
    g = -0.25f;
    adam.step(&p, &g);
    EXPECT_NEAR(p, 0.8733663f, 2e-6);
}

TEST(Optimizer, FactoryValidates) {
    OptimizerOptions options;
    options.kind = "lbfgs";
    EXPECT_THROW(Optimizer::create(options, 3), Error);
    options.kind = "adam";
    options.learning_rate = -1;
    EXPECT_THROW(Optimizer::create(options, 3), Error);
    options.learning_rate = 0.01;
    EXPECT_NE(Optimizer::create(options, 3), nullptr);
    options.kind = "sgd";
    options.momentum = 1.5;
    EXPECT_THROW(Optimizer::create(options, 3), Error);
}
