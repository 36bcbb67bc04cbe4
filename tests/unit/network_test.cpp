// The network (engine/network.hpp): finite-difference checks of the analytic gradients (every activation,
// layer norm, dropout, embeddings, through the weighted binary cross-entropy and the focal loss), and the
// scoring paths (one row, a batch) against the training pass.
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

// With dropout > 0 every forward pass draws its masks from a fresh Rng(99): the same masks each time, so
// the loss is a smooth function of the parameters and finite differences apply.
double loss_with(const NetworkSpec& spec, const float* params, const Problem& p, float dropout,
                 const LossOptions& loss) {
    Pass pass;
    Rng masks(99);
    const RowVector& logits = pass.forward(spec, params, p.x, dropout, dropout > 0 ? &masks : nullptr);
    return loss_with_logits(loss, logits, p.labels.data(), p.weights.data(), nullptr);
}

// Every parameter's analytic gradient against the central difference of the loss.
void expect_finite_differences(const NetworkSpec& spec, AlignedFloats& params, const Problem& p, float dropout,
                               const LossOptions& loss, const std::vector<float>& analytic, const char* what) {
    const float h = 1e-2f;
    for (size_t i = 0; i < params.size(); ++i) {
        const float saved = params[i];
        params[i] = saved + h;
        const double up = loss_with(spec, params.data(), p, dropout, loss);
        params[i] = saved - h;
        const double down = loss_with(spec, params.data(), p, dropout, loss);
        params[i] = saved;
        const double numeric = (up - down) / (2.0 * h);
        EXPECT_NEAR(analytic[i], numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << "parameter " << i << " (" << what << ")";
    }
}

void check_gradients(const std::vector<int>& hidden, Activation activation, bool layer_norm = false,
                     float dropout = 0.0f, LossOptions loss = {}) {
    const int inputs = 5, batch = 7;
    Network network(NetworkSpec::binary_classifier(inputs, hidden, activation, layer_norm));
    Rng rng(7);
    network.initialize(rng);
    // Non-zero biases, so that the bias gradients are exercised away from the symmetric start.
    for (auto& w : network.parameters()) w += float(rng.uniform(-0.1, 0.1));
    const Problem p = make_problem(inputs, batch, 11);
    const NetworkSpec& spec = network.spec();

    RowVector dlogits;
    Pass pass;
    Rng masks(99);
    const RowVector& logits =
        pass.forward(spec, network.parameters().data(), p.x, dropout, dropout > 0 ? &masks : nullptr);
    loss_with_logits(loss, logits, p.labels.data(), p.weights.data(), &dlogits);
    std::vector<float> analytic(spec.parameter_count());
    pass.backward(spec, network.parameters().data(), dlogits, analytic.data());

    expect_finite_differences(spec, network.parameters(), p, dropout, loss, analytic, activation_name(activation));
}

}  // namespace

TEST(Gradient, LogisticRegression) { check_gradients({}, Activation::Relu); }
TEST(Gradient, DenseTanh) { check_gradients({6, 4}, Activation::Tanh); }
TEST(Gradient, DenseSigmoid) { check_gradients({6, 4}, Activation::Sigmoid); }
TEST(Gradient, DenseIdentity) { check_gradients({6}, Activation::Identity); }
TEST(Gradient, DenseRelu) { check_gradients({8, 6}, Activation::Relu); }
TEST(Gradient, DenseLeakyRelu) { check_gradients({8, 6}, Activation::LeakyRelu); }
TEST(Gradient, DenseGelu) { check_gradients({8, 6}, Activation::Gelu); }
TEST(Gradient, LayerNormTanh) { check_gradients({6, 5}, Activation::Tanh, true); }
TEST(Gradient, LayerNormGelu) { check_gradients({6, 5}, Activation::Gelu, true); }
TEST(Gradient, DropoutRelu) { check_gradients({8, 6}, Activation::Relu, false, 0.3f); }
TEST(Gradient, DropoutSigmoidWithLayerNorm) { check_gradients({8, 6}, Activation::Sigmoid, true, 0.25f); }
TEST(Gradient, FocalLoss) {
    LossOptions focal;
    focal.kind = "focal";
    focal.focal_gamma = 2.0;
    check_gradients({6}, Activation::Tanh, false, 0.0f, focal);
}

TEST(Gradient, DropoutMasksAreInverted) {
    // Kept units are scaled by 1 / (1 - rate), so the expected activation is unchanged.
    Network network(NetworkSpec::binary_classifier(3, {2000}, Activation::Identity));
    Rng init(1);
    network.initialize(init);
    Matrix x = Matrix::Ones(3, 1);
    Pass plain, dropped;
    const float reference = plain.forward(network.spec(), network.parameters().data(), x)[0];
    double sum = 0;
    for (int trial = 0; trial < 200; ++trial) {
        Rng masks{uint64_t(trial)};
        sum += dropped.forward(network.spec(), network.parameters().data(), x, 0.5f, &masks)[0];
    }
    EXPECT_NEAR(sum / 200, reference, 0.05 * std::fabs(reference) + 0.05);
}

namespace {

// The three ways a network scores the columns of x: the training pass (logits), forward_one per column and
// forward_batch over all of them.
struct ScoringPaths {
    RowVector logits;
    std::vector<float> one, batch;
    bool rows_one_at_a_time;  // forward_batch's choice for this network
};

ScoringPaths score_all_paths(Network& network, const Matrix& x) {
    ScoringPaths s;
    s.logits = network.forward(x);
    const SpecView spec_view(network.spec(), network.parameters().data());
    const NetworkView& view = spec_view.view();
    const int n = int(x.cols());
    std::vector<float> scratch(scratch_floats(view)), batch_scratch(batch_scratch_floats(view, n));
    s.rows_one_at_a_time = scores_rows_one_at_a_time(view);
    s.batch.resize(size_t(n));
    forward_batch(view, x.data(), n, s.batch.data(), batch_scratch.data());
    for (int j = 0; j < n; ++j) s.one.push_back(forward_one(view, x.col(j).data(), scratch.data()));
    return s;
}

}  // namespace

TEST(Network, ForwardOneMatchesBatchForward) {
    Network network(NetworkSpec::binary_classifier(4, {5, 3}, Activation::Tanh));
    Rng rng(3);
    network.initialize(rng);
    const Problem p = make_problem(4, 6, 5);
    const RowVector logits = network.forward(p.x);
    const SpecView spec_view(network.spec(), network.parameters().data());
    const NetworkView& view = spec_view.view();
    std::vector<float> scratch(scratch_floats(view));
    for (int j = 0; j < 6; ++j) {
        const float one = forward_one(view, p.x.col(j).data(), scratch.data());
        EXPECT_NEAR(one, sigmoid(logits[j]), 1e-6);
    }
}

TEST(Network, ForwardBatchMatchesForwardOne) {
    // The statement-level guard scores in batches; its scores must agree with the per-row path: bit for bit
    // for a small network (rows one at a time), to rounding for one that takes matrix products (a hidden
    // layer of 2,500 units puts it past kOneRowBatchMaxWeights).
    for (Activation activation : {Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
        for (int width : {16, 2500}) {
            Network network(NetworkSpec::binary_classifier(7, {width, 8}, activation));
            Rng rng(11);
            network.initialize(rng);
            const int n = 37;  // not a multiple of any SIMD width
            const Problem p = make_problem(7, n, 9);
            const ScoringPaths s = score_all_paths(network, p.x);
            EXPECT_EQ(s.rows_one_at_a_time, width == 16);
            for (int j = 0; j < n; ++j) {
                if (width == 16)
                    EXPECT_EQ(s.batch[j], s.one[j]) << j;
                else
                    EXPECT_NEAR(s.batch[j], s.one[j], 1e-6) << j;
            }
        }
    }
}

TEST(Network, OneRowPathSkipsZeroInputsOnEveryShape) {
    // forward_one reads only the kernel columns of non-zero inputs, in blocks of 256 inputs and 16 outputs
    // (an odd remainder one output at a time): mostly-zero rows (one-hot codes), an all-zero row, widths
    // on both sides of every block edge, with and without layer norm; the training pass is the reference.
    struct Shape {
        int inputs;
        std::vector<int> hidden;
    };
    for (const Shape& shape :
         {Shape{1, {}}, Shape{17, {5, 3}}, Shape{300, {16, 33}}, Shape{530, {70, 20}}, Shape{64, {64, 48, 17}}}) {
        for (bool layer_norm : {false, true}) {
            for (Activation activation : {Activation::Relu, Activation::Tanh}) {
                Network network(NetworkSpec::binary_classifier(shape.inputs, shape.hidden, activation,
                                                               layer_norm && !shape.hidden.empty()));
                Rng rng(uint64_t(shape.inputs) + 5);
                network.initialize(rng);
                const int n = 11;
                Problem p = make_problem(shape.inputs, n, 13);
                for (int j = 0; j < n; ++j)
                    for (int i = 0; i < shape.inputs; ++i)
                        if (j == 0 || (i * 7 + j * 3) % 10 < 7) p.x(i, j) = 0.0f;  // column 0 all zeros, the rest ~70 %
                const ScoringPaths s = score_all_paths(network, p.x);
                for (int j = 0; j < n; ++j) {
                    EXPECT_NEAR(s.one[j], sigmoid(s.logits[j]), 2e-6) << shape.inputs << " inputs, row " << j;
                    if (s.rows_one_at_a_time)
                        EXPECT_EQ(s.batch[j], s.one[j]) << "bit for bit";
                    else
                        EXPECT_NEAR(s.batch[j], s.one[j], 2e-6);
                }
            }
        }
    }
}

TEST(Network, OneRowPathCarriesNanAsTheDenseProductDoes) {
    // Skipping zeros must not skip a NaN: it reaches the score, as 0 * w + NaN would.
    Network network(NetworkSpec::binary_classifier(20, {16}, Activation::Relu));
    Rng rng(2);
    network.initialize(rng);
    const SpecView spec_view(network.spec(), network.parameters().data());
    std::vector<float> x(20, 0.0f), scratch(scratch_floats(spec_view.view()));
    x[3] = 1.0f;
    EXPECT_TRUE(std::isfinite(forward_one(spec_view.view(), x.data(), scratch.data())));
    x[17] = std::nanf("");
    EXPECT_TRUE(std::isnan(forward_one(spec_view.view(), x.data(), scratch.data())));
}

// A logit that overflows to infinity (finite inputs and weights, a 32-bit sum past FLT_MAX) is no score of
// 1: both scoring paths give NaN, which every caller refuses as an overflow.
TEST(Network, AnInfiniteLogitScoresNaN) {
    const NetworkSpec spec = NetworkSpec::binary_classifier(1, {}, Activation::Relu);
    const std::vector<float> parameters{2.0f, 0.0f};  // kernel, bias
    const SpecView view(spec, parameters.data());
    std::vector<float> scratch(size_t(scratch_floats(view.view()))),
        batch_scratch(batch_scratch_floats(view.view(), 2));
    const float far[2] = {3e38f, 1.0f};
    EXPECT_TRUE(std::isnan(forward_one(view.view(), far, scratch.data())));
    EXPECT_NEAR(forward_one(view.view(), far + 1, scratch.data()), sigmoid(2.0f), 1e-7f);
    float scores[2];
    forward_batch(view.view(), far, 2, scores, batch_scratch.data());
    EXPECT_TRUE(std::isnan(scores[0]));
    EXPECT_EQ(scores[1], forward_one(view.view(), far + 1, scratch.data()));
}

TEST(Network, ScoringPathsApplyLayerNorm) {
    // forward_one and forward_batch (the triggers' paths) agree with the training pass when layers are normalized.
    for (Activation activation : {Activation::Gelu, Activation::LeakyRelu}) {
        Network network(NetworkSpec::binary_classifier(6, {12, 5}, activation, true));
        Rng rng(21);
        network.initialize(rng);
        for (auto& w : network.parameters()) w += float(rng.uniform(-0.2, 0.2));  // scale and shift away from 1, 0
        const int n = 9;
        const Problem p = make_problem(6, n, 4);
        const ScoringPaths s = score_all_paths(network, p.x);
        for (int j = 0; j < n; ++j) {
            EXPECT_NEAR(s.one[j], sigmoid(s.logits[j]), 1e-6);
            EXPECT_NEAR(s.batch[j], sigmoid(s.logits[j]), 1e-6);
        }
    }
}

TEST(Network, RejectsBadShapes) {
    EXPECT_THROW(NetworkSpec::binary_classifier(0, {4}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(NetworkSpec::binary_classifier(3, {0}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(NetworkSpec::binary_classifier(3, {5000}, Activation::Relu), dendrite::engine::Error);
    EXPECT_THROW(parse_activation("swish"), dendrite::engine::Error);
}

// Embeddings: features 1 and 3 hold category indices (one of them repeats in the batch, one is out of
// range and reads row 0); every table entry's gradient, read or not, matches finite differences.
namespace {

void check_embedding_gradients(const std::vector<int>& hidden, bool layer_norm) {
    const int inputs = 5, batch = 7;
    NetworkSpec spec = NetworkSpec::binary_classifier(inputs, hidden, Activation::Tanh, layer_norm);
    spec.embeddings = {{1, 4, 3}, {3, 3, 2}};
    spec.validate();
    Network network(spec);
    Rng rng(7);
    network.initialize(rng);
    for (auto& w : network.parameters()) w += float(rng.uniform(-0.1, 0.1));
    Problem p = make_problem(inputs, batch, 11);
    const float indices1[batch] = {0, 1, 3, 3, 2, 1, 9};  // 9: out of range -> row 0
    const float indices3[batch] = {2, 2, 0, 1, 1, 2, -1};
    for (int j = 0; j < batch; ++j) {
        p.x(1, j) = indices1[j];
        p.x(3, j) = indices3[j];
    }
    RowVector dlogits;
    Pass pass;
    const RowVector& logits = pass.forward(spec, network.parameters().data(), p.x);
    loss_with_logits(LossOptions{}, logits, p.labels.data(), p.weights.data(), &dlogits);
    std::vector<float> analytic(spec.parameter_count(), 123.0f);  // overwritten, embeddings included
    pass.backward(spec, network.parameters().data(), dlogits, analytic.data());

    expect_finite_differences(spec, network.parameters(), p, 0.0f, LossOptions{}, analytic, "embeddings");
    // Table 0 is 4 x 3: table 1 starts after its 12 floats.
    EXPECT_EQ(spec.embedding_offset(1), 12u);
}

}  // namespace

TEST(Gradient, EmbeddingsIntoDenseLayers) { check_embedding_gradients({6, 4}, false); }
TEST(Gradient, EmbeddingsWithLayerNorm) { check_embedding_gradients({5}, true); }
TEST(Gradient, EmbeddingsIntoLogisticRegression) { check_embedding_gradients({}, false); }

TEST(Embedding, ScoringPathsAgreeWithTheTrainingPass) {
    NetworkSpec spec = NetworkSpec::binary_classifier(4, {8}, Activation::Relu);
    spec.embeddings = {{0, 5, 3}, {2, 2, 4}};
    spec.validate();
    EXPECT_EQ(spec.dense_inputs(), 4 - 2 + 3 + 4);
    Network network(spec);
    Rng rng(3);
    network.initialize(rng);
    const SpecView view(spec, network.parameters().data());
    EXPECT_EQ(dense_inputs(view.view()), spec.dense_inputs());
    Matrix x(4, 3);
    // Row by row (Eigen's comma initializer): feature 0 indexes table 0 (4, 0 and 7, out of range: row 0),
    // feature 2 table 1.
    x << 4, 0, 7, 0.5f, -1, 2, 1, 1, 0.25f, 3, 1, -2;
    Pass pass;
    const RowVector logits = pass.forward(spec, network.parameters().data(), x);
    std::vector<float> scratch(size_t(scratch_floats(view.view())) * 2), batch_scores(3);
    std::vector<float> batch_scratch(batch_scratch_floats(view.view(), 3));
    forward_batch(view.view(), x.data(), 3, batch_scores.data(), batch_scratch.data());
    for (int j = 0; j < 3; ++j) {
        const float one = forward_one(view.view(), x.col(j).data(), scratch.data());
        EXPECT_NEAR(one, sigmoid(logits[j]), 1e-6f);
        EXPECT_NEAR(batch_scores[size_t(j)], one, 1e-6f);
    }
    // The expanded row: table 0's row 4, feature 1, table 1's row 1, feature 3.
    std::vector<float> expanded(size_t(spec.dense_inputs()));
    expand_inputs(view.view(), x.col(0).data(), expanded.data());
    const float* tables = network.parameters().data();
    EXPECT_EQ(expanded[0], tables[4 * 3 + 0]);
    EXPECT_EQ(expanded[2], tables[4 * 3 + 2]);
    EXPECT_EQ(expanded[3], 0.5f);
    EXPECT_EQ(expanded[4], tables[15 + 1 * 4 + 0]);
    EXPECT_EQ(expanded[8], 3.0f);
}

TEST(Embedding, SpecChecks) {
    NetworkSpec spec = NetworkSpec::binary_classifier(3, {4}, Activation::Relu);
    spec.embeddings = {{2, 5, 3}, {1, 5, 3}};  // not ascending
    EXPECT_THROW(spec.validate(), Error);
    spec.embeddings = {{3, 5, 3}};  // no such feature
    EXPECT_THROW(spec.validate(), Error);
    spec.embeddings = {{1, 5, 0}};
    EXPECT_THROW(spec.validate(), Error);
    spec.embeddings = {{1, 0, 2}};
    EXPECT_THROW(spec.validate(), Error);
}
