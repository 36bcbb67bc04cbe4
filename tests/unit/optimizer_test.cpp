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

TEST(Optimizer, SgdNesterov) {
    // torch: v = mu v + g; p -= lr (g + mu v).
    Sgd sgd(0.1, 0.9, 1, true);
    float p = 1.0f;
    const float g = 0.5f;
    sgd.step(&p, &g);  // v = 0.5, update = 0.5 + 0.45 = 0.95 -> p = 0.905
    EXPECT_NEAR(p, 0.905f, 1e-6);
    sgd.step(&p, &g);  // v = 0.95, update = 0.5 + 0.855 = 1.355 -> p = 0.7695
    EXPECT_NEAR(p, 0.7695f, 1e-6);
}

TEST(Optimizer, SgdWeightDecayIsL2) {
    Sgd sgd(0.1, 0.0, 1, false, 0.5);
    float p = 2.0f;
    const float g = 0.0f;
    sgd.step(&p, &g);  // g + wd p = 1 -> p = 1.9
    EXPECT_NEAR(p, 1.9f, 1e-6);
}

TEST(Optimizer, AdamWDecouplesWeightDecay) {
    // AdamW: p = p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps); with g = 0.5, first step m_hat/sqrt(v_hat) = 1.
    Adam adamw(0.1, 0.9, 0.999, 1e-8, 1, 0.2, true);
    float p = 1.0f;
    const float g = 0.5f;
    adamw.step(&p, &g);
    EXPECT_NEAR(p, 1.0f * (1 - 0.1f * 0.2f) - 0.1f, 1e-6);
    // Coupled (Adam with weight_decay): g' = 0.5 + 0.2 * 1 = 0.7, first step still moves by lr.
    Adam adam(0.1, 0.9, 0.999, 1e-8, 1, 0.2, false);
    float q = 1.0f;
    adam.step(&q, &g);
    EXPECT_NEAR(q, 0.9f, 1e-6);
}

TEST(Optimizer, RmsPropTwoSteps) {
    // torch: s = alpha s + (1 - alpha) g^2; p -= lr g / (sqrt(s) + eps).
    RmsProp rms(0.01, 0.99, 1e-8, 0.0, 1);
    float p = 1.0f;
    float g = 0.5f;
    rms.step(&p, &g);  // s = 0.0025, sqrt = 0.05, p = 1 - 0.01 * 10 = 0.9
    EXPECT_NEAR(p, 0.9f, 1e-5);
    g = -0.2f;
    rms.step(&p, &g);  // s = 0.002475 + 0.0004 = 0.002875, sqrt = 0.0536190, p = 0.9 + 0.01 * 3.7300192
    EXPECT_NEAR(p, 0.93730019f, 1e-5);
}

TEST(Optimizer, SchedulesAndWarmup) {
    Schedule constant;
    EXPECT_DOUBLE_EQ(constant.learning_rate(0.1, 57, 10, 100), 0.1);
    Schedule step;
    step.kind = "step";
    step.step_epochs = 2;
    step.gamma = 0.5;
    EXPECT_DOUBLE_EQ(step.learning_rate(0.1, 19, 10, 100), 0.1);    // epoch 1
    EXPECT_DOUBLE_EQ(step.learning_rate(0.1, 20, 10, 100), 0.05);   // epoch 2
    EXPECT_DOUBLE_EQ(step.learning_rate(0.1, 45, 10, 100), 0.025);  // epoch 4
    Schedule cosine;
    cosine.kind = "cosine";
    EXPECT_DOUBLE_EQ(cosine.learning_rate(0.1, 0, 10, 100), 0.1);
    EXPECT_NEAR(cosine.learning_rate(0.1, 50, 10, 100), 0.05, 1e-12);
    EXPECT_NEAR(cosine.learning_rate(0.1, 100, 10, 100), 0.0, 1e-12);
    cosine.warmup_epochs = 1;  // 10 steps of linear warm-up, then the cosine over the remaining 90
    EXPECT_NEAR(cosine.learning_rate(0.1, 0, 10, 100), 0.01, 1e-12);
    EXPECT_NEAR(cosine.learning_rate(0.1, 9, 10, 100), 0.1, 1e-12);
    EXPECT_NEAR(cosine.learning_rate(0.1, 55, 10, 100), 0.05, 1e-12);
    Schedule bad;
    bad.kind = "exponential";
    EXPECT_THROW(bad.validate(), Error);
}

TEST(Optimizer, ClipGradientNorm) {
    float g[2] = {3.0f, 4.0f};
    EXPECT_NEAR(clip_gradient_norm(g, 2, 1.0), 5.0, 1e-9);
    EXPECT_NEAR(g[0], 0.6f, 1e-6);
    EXPECT_NEAR(g[1], 0.8f, 1e-6);
    float h[2] = {0.3f, 0.4f};
    clip_gradient_norm(h, 2, 1.0);  // under the bound: unchanged
    EXPECT_EQ(h[0], 0.3f);
}

TEST(Optimizer, OptionsValidate) {
    OptimizerOptions o;
    o.kind = "adamw";
    EXPECT_NO_THROW(o.validate());
    o.nesterov = true;  // only with sgd
    EXPECT_THROW(o.validate(), Error);
    o = OptimizerOptions{};
    o.weight_decay = -1;
    EXPECT_THROW(o.validate(), Error);
}
