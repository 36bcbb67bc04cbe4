// Finite-difference checks of the analytic gradients: every activation, the dense layers and the weighted
// binary cross-entropy.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.hpp"
#include "engine/loss.hpp"
#include "engine/network.hpp"

using namespace dendrite::engine;

namespace {

struct Problem {
    Matrix x;
    std::vector<float> labels, weights;
};

Problem make_problem(int inputs, int batch, uint64_t seed) {
    Rng rng(seed);
    Problem p;
    p.x.resize(inputs, batch);
    for (int j = 0; j < batch; ++j)
        for (int i = 0; i < inputs; ++i) p.x(i, j) = float(rng.normal());
    for (int j = 0; j < batch; ++j) {
        p.labels.push_back(rng.uniform() < 0.4 ? 1.0f : 0.0f);
        p.weights.push_back(p.labels.back() > 0 ? 2.5f : 0.7f);
    }
    return p;
}

double loss_of(Network& network, const Problem& p) {
    const RowVector& logits = network.forward(p.x);
    return weighted_bce_with_logits(logits, p.labels.data(), p.weights.data(), nullptr);
}

void check_gradients(const std::vector<int>& hidden, Activation activation) {
    const int inputs = 5, batch = 7;
    Network network(NetworkSpec::binary_classifier(inputs, hidden, activation));
    Rng rng(7);
    network.initialize(rng);
    // Non-zero biases, so that the bias gradients are exercised away from the symmetric start.
    for (auto& w : network.parameters()) w += float(rng.uniform(-0.1, 0.1));
    const Problem p = make_problem(inputs, batch, 11);

    RowVector dlogits;
    const RowVector& logits = network.forward(p.x);
    weighted_bce_with_logits(logits, p.labels.data(), p.weights.data(), &dlogits);
    std::vector<float> analytic(network.spec().parameter_count());
    network.backward(dlogits, analytic.data());

    auto& params = network.parameters();
    const float h = 1e-2f;
    for (size_t i = 0; i < params.size(); ++i) {
        const float saved = params[i];
        params[i] = saved + h;
        const double up = loss_of(network, p);
        params[i] = saved - h;
        const double down = loss_of(network, p);
        params[i] = saved;
        const double numeric = (up - down) / (2.0 * h);
        EXPECT_NEAR(analytic[i], numeric, 2e-3 + 2e-2 * std::fabs(numeric))
            << "parameter " << i << " with activation " << activation_name(activation);
    }
}

}  // namespace

TEST(Gradient, LogisticRegression) { check_gradients({}, Activation::Relu); }
TEST(Gradient, DenseTanh) { check_gradients({6, 4}, Activation::Tanh); }
TEST(Gradient, DenseSigmoid) { check_gradients({6, 4}, Activation::Sigmoid); }
TEST(Gradient, DenseIdentity) { check_gradients({6}, Activation::Identity); }
TEST(Gradient, DenseRelu) { check_gradients({8, 6}, Activation::Relu); }

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

TEST(Network, ForwardOneMatchesBatchForward) {
    Network network(NetworkSpec::binary_classifier(4, {5, 3}, Activation::Tanh));
    Rng rng(3);
    network.initialize(rng);
    const Problem p = make_problem(4, 6, 5);
    const RowVector logits = network.forward(p.x);
    std::vector<int> units;
    std::vector<Activation> activations;
    for (const auto& layer : network.spec().layers) {
        units.push_back(layer.units);
        activations.push_back(layer.activation);
    }
    const NetworkView view{4, int(units.size()), units.data(), activations.data(), network.parameters().data()};
    std::vector<float> scratch(scratch_floats(view));
    for (int j = 0; j < 6; ++j) {
        const float one = forward_one(view, p.x.col(j).data(), scratch.data());
        EXPECT_NEAR(one, sigmoid(logits[j]), 1e-6);
    }
}

TEST(Network, ForwardBatchMatchesForwardOne) {
    // The statement-level guard scores in batches; its scores must agree with the per-row path.
    for (Activation activation : {Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
        Network network(NetworkSpec::binary_classifier(7, {16, 8}, activation));
        Rng rng(11);
        network.initialize(rng);
        const int n = 37;  // not a multiple of any SIMD width
        const Problem p = make_problem(7, n, 9);
        std::vector<int> units;
        std::vector<Activation> activations;
        for (const auto& layer : network.spec().layers) {
            units.push_back(layer.units);
            activations.push_back(layer.activation);
        }
        const NetworkView view{7, int(units.size()), units.data(), activations.data(), network.parameters().data()};
        std::vector<float> batch_scratch(batch_scratch_floats(view, n)), scores(n, -1.0f);
        forward_batch(view, p.x.data(), n, scores.data(), batch_scratch.data());
        std::vector<float> scratch(scratch_floats(view));
        for (int j = 0; j < n; ++j) EXPECT_NEAR(scores[j], forward_one(view, p.x.col(j).data(), scratch.data()), 1e-6) << j;
    }
}

TEST(Network, RejectsBadShapes) {
    EXPECT_THROW(NetworkSpec::binary_classifier(0, {4}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(NetworkSpec::binary_classifier(3, {0}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(NetworkSpec::binary_classifier(3, {5000}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(parse_activation("swish"), dendrite::engine::Error);
}
