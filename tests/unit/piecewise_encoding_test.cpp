// Piecewise-linear encodings of a network's inputs: the fitted edges, the encoded values, the networks that
// read them (every scoring path and the training pass agree; gradients), their stored layout, and train's
// defaults.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/error.hpp"
#include "engine/model_layout.hpp"
#include "engine/network.hpp"
#include "engine/piecewise_encoding.hpp"
#include "engine/rng.hpp"
#include "engine/trainer.hpp"

using namespace dendrite::engine;

namespace {

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    return ErrorKind::Internal;
}

}  // namespace

// A label that turns on above 220 (an amount the simulator always flags): the tree puts an edge there.
TEST(PiecewiseEncoding, AnEdgeWhereTheLabelSteps) {
    Rng rng(3);
    std::vector<float> values, labels;
    for (int i = 0; i < 20000; ++i) {
        const float amount = float(rng.uniform(0, 400));
        values.push_back(amount);
        labels.push_back(amount > 220 ? (rng.uniform() < 0.9 ? 1.0f : 0.0f) : (rng.uniform() < 0.01 ? 1.0f : 0.0f));
    }
    const std::vector<float> edges = fit_bin_edges(values.data(), labels.data(), values.size(), 8, 100);
    ASSERT_GE(edges.size(), 3u);
    ASSERT_LE(edges.size(), 9u);
    EXPECT_TRUE(valid_bin_edges(edges.data(), int(edges.size())));
    EXPECT_EQ(edges.front(), *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(edges.back(), *std::max_element(values.begin(), values.end()));
    double nearest = 1e9;
    for (size_t i = 1; i + 1 < edges.size(); ++i) nearest = std::min(nearest, std::abs(double(edges[i]) - 220.0));
    EXPECT_LT(nearest, 1.0);
    // The same rows in another order: the same edges.
    std::vector<float> reversed_values(values.rbegin(), values.rend()), reversed_labels(labels.rbegin(), labels.rend());
    EXPECT_EQ(fit_bin_edges(reversed_values.data(), reversed_labels.data(), values.size(), 8, 100), edges);
    // At most max_bins bins; each leaf keeps min_leaf rows.
    EXPECT_LE(fit_bin_edges(values.data(), labels.data(), values.size(), 2, 100).size(), 3u);
    EXPECT_EQ(bin_edges_min_leaf(1000), 10u);
    EXPECT_EQ(bin_edges_min_leaf(268000), 1340u);
}

TEST(PiecewiseEncoding, FlagsConstantsAndPureFeaturesAreLeftAlone) {
    std::vector<float> flag, constant, labels, pure;
    for (int i = 0; i < 1000; ++i) {
        flag.push_back(float(i % 2));
        constant.push_back(3.0f);
        labels.push_back(i % 3 == 0 ? 1.0f : 0.0f);
        pure.push_back(float(i));
    }
    EXPECT_TRUE(fit_bin_edges(flag.data(), labels.data(), 1000, 8, 10).empty());
    EXPECT_TRUE(fit_bin_edges(constant.data(), labels.data(), 1000, 8, 10).empty());
    std::vector<float> no_positives(1000, 0.0f);
    EXPECT_TRUE(fit_bin_edges(pure.data(), no_positives.data(), 1000, 8, 10).empty());  // nothing to separate
    EXPECT_TRUE(fit_bin_edges(pure.data(), labels.data(), 1, 8, 10).empty());
    // A label that does not depend on the value: splits lower the impurity only by chance, no bins.
    Rng rng(11);
    std::vector<float> values, random_labels;
    for (int i = 0; i < 50000; ++i) {
        values.push_back(float(rng.normal()));
        random_labels.push_back(rng.uniform() < 0.02 ? 1.0f : 0.0f);
    }
    EXPECT_TRUE(fit_bin_edges(values.data(), random_labels.data(), values.size(), 4, 250).empty());
    // The same values with a weak dependence (2 % of rows, 3 % above 1): bins.
    for (size_t i = 0; i < values.size(); ++i)
        random_labels[i] = rng.uniform() < (values[i] > 1 ? 0.03 : 0.015) ? 1.0f : 0.0f;
    EXPECT_FALSE(fit_bin_edges(values.data(), random_labels.data(), values.size(), 4, 250).empty());
}

TEST(PiecewiseEncoding, ValuesOfTheBins) {
    const float edges[] = {0, 1, 3, 4};
    float out[3];
    encode_piecewise(edges, 3, 2.0f, out);  // left of bin 1's middle: bin 0 full, bin 1 half
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    EXPECT_FLOAT_EQ(out[1], 0.5f);
    EXPECT_FLOAT_EQ(out[2], 0.0f);
    encode_piecewise(edges, 3, -1.0f, out);  // below the training range: the first bin extends
    EXPECT_FLOAT_EQ(out[0], -1.0f);
    EXPECT_FLOAT_EQ(out[1], 0.0f);
    EXPECT_FLOAT_EQ(out[2], 0.0f);
    encode_piecewise(edges, 3, 6.0f, out);  // above it: the last bin extends
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    EXPECT_FLOAT_EQ(out[1], 1.0f);
    EXPECT_FLOAT_EQ(out[2], 3.0f);
    const float unordered[] = {0, 2, 2, 3}, nan[] = {0, NAN, 3}, infinite[] = {-3e38f, 3e38f, 3.1e38f};
    EXPECT_TRUE(valid_bin_edges(edges, 4));
    EXPECT_FALSE(valid_bin_edges(edges, 2));  // one bin
    EXPECT_FALSE(valid_bin_edges(unordered, 4));
    EXPECT_FALSE(valid_bin_edges(nan, 3));
    EXPECT_FALSE(valid_bin_edges(infinite, 3));  // a bin wider than a float
}

namespace {

// Five inputs: 0 and 3 encoded (3 and 4 bins), 2 embedded (7 rows of 3).
NetworkSpec encoded_spec(const std::vector<int>& hidden) {
    NetworkSpec spec = NetworkSpec::binary_classifier(5, hidden, Activation::Relu);
    spec.embeddings = {{2, 7, 3}};
    spec.encodings = {{0, 3}, {3, 4}};
    spec.encoding_edges = {-1.5f, -0.2f, 0.4f, 2.0f, -2.0f, -0.5f, 0.0f, 0.7f, 1.5f};
    spec.validate();
    return spec;
}

Matrix encoded_rows(int n, uint64_t seed) {
    Rng rng(seed);
    Matrix x(5, n);
    for (int j = 0; j < n; ++j) {
        for (int i = 0; i < 5; ++i) x(i, j) = float(1.5 * rng.normal());
        x(2, j) = float(rng.below(8));  // 7: out of range, row 0
    }
    return x;
}

}  // namespace

TEST(PiecewiseEncoding, ScoringPathsAgreeWithTheTrainingPass) {
    const NetworkSpec spec = encoded_spec({8});
    EXPECT_EQ(spec.dense_inputs(), 5 + 3 + 4 + 2);
    EXPECT_EQ(spec.encoding_floats(), 9u);
    EXPECT_EQ(spec.stored_floats(), spec.parameter_count() + 9);
    Network network(spec);
    Rng rng(5);
    network.initialize(rng);
    const Matrix x = encoded_rows(6, 9);
    Pass pass;
    const RowVector logits = pass.forward(spec, network.parameters().data(), x);
    // A stored version's view: the spec read back from its configuration (no edges), the edges after the
    // parameters in the buffer.
    NetworkSpec stored = network_from_configuration(network_configuration_json(spec), 5);
    EXPECT_TRUE(stored.encoding_edges.empty());
    std::vector<float> buffer(network.parameters().begin(), network.parameters().end());
    buffer.insert(buffer.end(), spec.encoding_edges.begin(), spec.encoding_edges.end());
    const SpecView trained(spec, network.parameters().data()), read_back(stored, buffer.data());
    for (const SpecView* view : {&trained, &read_back}) {
        std::vector<float> scratch(size_t(scratch_floats(view->view()))), scores(6);
        std::vector<float> batch_scratch(batch_scratch_floats(view->view(), 6));
        forward_batch(view->view(), x.data(), 6, scores.data(), batch_scratch.data());
        for (int j = 0; j < 6; ++j) {
            const float one = forward_one(view->view(), x.col(j).data(), scratch.data());
            EXPECT_NEAR(one, sigmoid(logits[j]), 1e-6f);
            EXPECT_EQ(scores[size_t(j)], one);
        }
    }
    // The expanded row: feature 0 and its 3 bins, feature 1, table row, feature 3 and its 4 bins, feature 4.
    std::vector<float> expanded(size_t(spec.dense_inputs()));
    const float row[5] = {0.1f, 7.0f, 1.0f, 3.0f, -4.0f};
    expand_inputs(trained.view(), row, expanded.data());
    EXPECT_EQ(expanded[0], 0.1f);
    EXPECT_FLOAT_EQ(expanded[1], 1.0f);
    EXPECT_FLOAT_EQ(expanded[2], (0.1f - -0.2f) / (0.4f - -0.2f));
    EXPECT_FLOAT_EQ(expanded[3], 0.0f);
    EXPECT_EQ(expanded[4], 7.0f);
    EXPECT_EQ(expanded[5], network.parameters()[3]);  // table row 1
    EXPECT_EQ(expanded[8], 3.0f);
    EXPECT_FLOAT_EQ(expanded[12], (3.0f - 0.7f) / (1.5f - 0.7f));  // past the last edge: the last bin extends
    EXPECT_EQ(expanded[13], -4.0f);
}

namespace {

// The embedding's gradient lands on its table row although encoded features before it widen the input.
void expect_embedding_gradient_after_encodings(const std::vector<int>& hidden) {
    const NetworkSpec spec = encoded_spec(hidden);
    Network network(spec);
    Rng rng(7);
    network.initialize(rng);
    const Matrix x = encoded_rows(5, 13);
    std::vector<float> labels{1, 0, 0, 1, 0};
    auto loss = [&](const float* parameters) {
        Pass pass;
        const RowVector& logits = pass.forward(spec, parameters, x);
        double sum = 0;
        for (int j = 0; j < 5; ++j) {
            const double z = logits[j];
            sum += labels[size_t(j)] > 0.5f ? std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
        }
        return sum;
    };
    Pass pass;
    const RowVector logits = pass.forward(spec, network.parameters().data(), x);
    RowVector dlogits(5);
    for (int j = 0; j < 5; ++j) dlogits[j] = sigmoid(logits[j]) - labels[size_t(j)];
    std::vector<float> analytic(spec.parameter_count());
    pass.backward(spec, network.parameters().data(), dlogits, analytic.data());
    AlignedFloats p = network.parameters();
    for (size_t i = 0; i < spec.parameter_count(); ++i) {
        const float keep = p[i];
        const float h = 1e-3f;
        p[i] = keep + h;
        const double up = loss(p.data());
        p[i] = keep - h;
        const double down = loss(p.data());
        p[i] = keep;
        EXPECT_NEAR(analytic[i], (up - down) / (2 * h), 2e-3 * std::max(1.0, std::abs(double(analytic[i]))))
            << "parameter " << i;
    }
}

}  // namespace

TEST(PiecewiseEncoding, GradientsThroughEncodedInputs) { expect_embedding_gradient_after_encodings({6}); }
TEST(PiecewiseEncoding, GradientsOfLogisticRegression) { expect_embedding_gradient_after_encodings({}); }

TEST(PiecewiseEncoding, SpecChecks) {
    NetworkSpec spec = encoded_spec({4});
    spec.encodings = {{3, 4}, {0, 3}};  // not ascending
    EXPECT_THROW(spec.validate(), Error);
    spec.encodings = {{2, 3}};  // the embedded feature
    spec.encoding_edges.clear();
    EXPECT_THROW(spec.validate(), Error);
    spec.encodings = {{1, 1}};  // one bin
    EXPECT_THROW(spec.validate(), Error);
    spec.encodings = {{1, kMaxPiecewiseBins + 1}};
    EXPECT_THROW(spec.validate(), Error);
    spec.encodings = {{1, 3}};
    spec.encoding_edges = {0, 1, 2};  // three bins need four edges
    EXPECT_THROW(spec.validate(), Error);
    NetworkSpec autoencoder = NetworkSpec::autoencoder(4, {3}, Activation::Relu);
    autoencoder.encodings = {{0, 2}};
    EXPECT_THROW(autoencoder.validate(), Error);
}

TEST(PiecewiseEncoding, EdgesAreStoredAsRowsAfterTheParameters) {
    const NetworkSpec spec = encoded_spec({4});
    const std::vector<TensorSlot> slots = tensor_layout(spec);
    size_t next = 0;
    for (const TensorSlot& slot : slots) {
        EXPECT_EQ(slot.offset, next) << slot.layer << " " << slot.name;
        next += slot.count;
    }
    EXPECT_EQ(next, spec.stored_floats());
    ASSERT_GE(slots.size(), 2u);
    const TensorSlot& first = slots[slots.size() - 2];
    const TensorSlot& second = slots.back();
    EXPECT_STREQ(first.layer, "encoding_0");
    EXPECT_STREQ(first.name, "edges");
    EXPECT_EQ(first.layer_index, -1);
    EXPECT_EQ(first.shape[0], 4);
    EXPECT_EQ(first.offset, spec.parameter_count());
    EXPECT_STREQ(second.layer, "encoding_1");
    EXPECT_EQ(second.layer_index, -2);
    EXPECT_EQ(second.count, 5u);
    const std::string configuration = network_configuration_json(spec);
    EXPECT_NE(configuration.find("\"encodings\": [{\"feature\": 0, \"bins\": 3}, {\"feature\": 3, \"bins\": 4}]"),
              std::string::npos)
        << configuration;
    const NetworkSpec back = network_from_configuration(configuration, 5);
    ASSERT_EQ(back.encodings.size(), 2u);
    EXPECT_EQ(back.encodings[1].feature, 3);
    EXPECT_EQ(back.encodings[1].bins, 4);
    EXPECT_EQ(kind_of([] {
                  network_from_configuration(R"({"layers": [{"dense": 1, "activation": "sigmoid"}],
        "encodings": [{"feature": 9, "bins": 3}]})",
                                             5);
              }),
              ErrorKind::Data);
    EXPECT_EQ(kind_of([] {
                  network_from_configuration(R"({"layers": [{"dense": 1, "activation": "sigmoid"}],
        "encodings": {"feature": 1}})",
                                             5);
              }),
              ErrorKind::Data);
}

namespace {

struct Rows {
    std::vector<float> features, labels;
    Dataset view() const { return Dataset{features.data(), labels.data(), labels.size(), 3}; }
};

// Feature 0: an amount whose label steps at 2; feature 1: noise; feature 2: a flag.
Rows stepped_rows(size_t n) {
    Rows r;
    Rng rng(17);
    for (size_t i = 0; i < n; ++i) {
        const float amount = float(rng.uniform(0, 3));
        r.features.insert(r.features.end(), {amount, float(rng.normal()), float(rng.below(2))});
        r.labels.push_back(amount > 2 && rng.uniform() < 0.7 ? 1.0f : rng.uniform() < 0.02 ? 1.0f : 0.0f);
    }
    return r;
}

}  // namespace

TEST(PiecewiseEncoding, TrainsDefaultsEncodeAnMlpOnly) {
    const Rows rows = stepped_rows(5000);
    TrainOptions options;
    options.epochs = 3;
    options.hidden = {8};
    options.validate();
    EXPECT_EQ(options.network_piecewise_bins(), 4);
    const TrainResult mlp = train(rows.view(), options);
    ASSERT_FALSE(mlp.spec.encodings.empty());
    EXPECT_EQ(mlp.spec.encodings[0].feature, 0);
    for (const EncodingSpec& k : mlp.spec.encodings) EXPECT_NE(k.feature, 2);  // the flag
    EXPECT_EQ(mlp.parameters.size(), mlp.spec.stored_floats());
    // The stored edges are the spec's, after the parameters.
    EXPECT_TRUE(std::equal(mlp.spec.encoding_edges.begin(), mlp.spec.encoding_edges.end(),
                           mlp.parameters.begin() + long(mlp.spec.encoding_offset())));
    // The edges are fitted on the training rows: a split that holds other rows back fits others.
    options.piecewise_bins = 0;
    EXPECT_TRUE(train(rows.view(), options).spec.encodings.empty());
    // Too few frauds to place bins by (fewer than 50 among the training rows): no encoding.
    Rows few = rows;
    size_t kept = 0;
    for (float& label : few.labels)
        if (label > 0.5f && ++kept > 45) label = 0.0f;
    options.piecewise_bins = -1;
    EXPECT_TRUE(train(few.view(), options).spec.encodings.empty());
    options.piecewise_bins = 4;
    for (const EncodingSpec& k : train(rows.view(), options).spec.encodings) EXPECT_LE(k.bins, 4);
    options.piecewise_bins = -1;
    options.algorithm = "logistic_regression";
    EXPECT_EQ(options.network_piecewise_bins(), 0);
    EXPECT_TRUE(train(rows.view(), options).spec.encodings.empty());
    options.algorithm = "autoencoder";
    options.hidden = {4, 2, 4};
    options.piecewise_bins = 8;
    EXPECT_EQ(kind_of([&] { options.validate(); }), ErrorKind::InvalidParameter);
    options.algorithm = "mlp";
    for (int bad : {1, -2, kMaxPiecewiseBins + 1}) {
        options.piecewise_bins = bad;
        EXPECT_EQ(kind_of([&] { options.validate(); }), ErrorKind::InvalidParameter) << bad;
    }
}
