// Training: learns, is deterministic for a seed, and fails with the right kind on bad input.
#include <cstring>
#include <gtest/gtest.h>

#include "engine/error.hpp"
#include "engine/trainer.hpp"

using namespace dendrite::engine;

namespace {

// Two informative columns (the label is 1 when x0 + 0.5 x1 is large) and one noise column; ~10 % positive.
struct Data {
    std::vector<float> features, labels;
    Dataset view(int columns = 3) const { return {features.data(), labels.data(), labels.size(), columns}; }
};

Data make_data(size_t rows, uint64_t seed) {
    Rng rng(seed);
    Data d;
    for (size_t r = 0; r < rows; ++r) {
        const float x0 = float(rng.normal()), x1 = float(rng.normal()), noise = float(rng.normal());
        d.features.insert(d.features.end(), {x0, x1, noise});
        d.labels.push_back(x0 + 0.5f * x1 > 1.4f ? 1.0f : 0.0f);
    }
    return d;
}

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no engine error was thrown";
    return ErrorKind::Internal;
}

}  // namespace

TEST(Trainer, MlpLearnsASeparableProblem) {
    const Data d = make_data(4000, 1);
    TrainOptions options;
    options.epochs = 8;
    options.hidden = {16, 8};
    options.optimizer.learning_rate = 0.01;
    const TrainResult r = train(d.view(), options);
    EXPECT_EQ(r.epochs.size(), 8u);
    EXPECT_GT(r.final_epoch().metrics.pr_auc, 0.95);
    EXPECT_GT(r.final_epoch().metrics.roc_auc, 0.99);
    EXPECT_LT(r.final_epoch().loss, r.epochs.front().loss);
    EXPECT_EQ(r.training_rows + r.validation_rows, 4000u);
    EXPECT_FALSE(r.metrics_on_training_rows);
}

TEST(Trainer, LogisticRegressionAndSgd) {
    const Data d = make_data(3000, 2);
    TrainOptions options;
    options.algorithm = "logistic_regression";
    options.optimizer.kind = "sgd";
    options.optimizer.learning_rate = 0.05;
    options.epochs = 5;
    const TrainResult r = train(d.view(), options);
    EXPECT_EQ(r.spec.layers.size(), 1u);
    EXPECT_EQ(r.parameters.size(), 4u);  // 3 weights + 1 bias
    EXPECT_GT(r.final_epoch().metrics.roc_auc, 0.99);
}

TEST(Trainer, SameSeedSameParametersBitForBit) {
    const Data d = make_data(2000, 3);
    TrainOptions options;
    options.epochs = 3;
    options.seed = 1234;
    const TrainResult a = train(d.view(), options);
    const TrainResult b = train(d.view(), options);
    ASSERT_EQ(a.parameters.size(), b.parameters.size());
    EXPECT_EQ(0, std::memcmp(a.parameters.data(), b.parameters.data(), a.parameters.size() * sizeof(float)));
    options.seed = 4321;
    const TrainResult c = train(d.view(), options);
    EXPECT_NE(0, std::memcmp(a.parameters.data(), c.parameters.data(), a.parameters.size() * sizeof(float)));
}

TEST(Trainer, EpochCallbackAndCancel) {
    const Data d = make_data(2000, 4);
    TrainOptions options;
    options.epochs = 50;
    int epochs_seen = 0;
    TrainCallbacks callbacks;
    callbacks.on_epoch = [&](const EpochReport& report) { epochs_seen = report.epoch; };
    callbacks.should_stop = [&] { return epochs_seen >= 2; };
    EXPECT_EQ(kind_of([&] { train(d.view(), options, callbacks); }), ErrorKind::Canceled);
    EXPECT_EQ(epochs_seen, 2);
}

TEST(Trainer, BadInputGivesTypedErrors) {
    Data d = make_data(100, 5);
    TrainOptions options;
    EXPECT_EQ(kind_of([&] { train({d.features.data(), d.labels.data(), 0, 3}, options); }), ErrorKind::Data);
    std::vector<float> zeros(100, 0.0f);
    EXPECT_EQ(kind_of([&] { train({d.features.data(), zeros.data(), 100, 3}, options); }), ErrorKind::Data);
    options.epochs = 0;
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    options.epochs = 1;
    options.validation_fraction = 1.0;
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    options.validation_fraction = 0.2;
    options.algorithm = "svm";
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    EXPECT_EQ(kind_of([] { ClassWeight::parse("heavy"); }), ErrorKind::InvalidParameter);
    EXPECT_EQ(kind_of([] { ClassWeight::parse("-2"); }), ErrorKind::InvalidParameter);
    EXPECT_EQ(ClassWeight::parse("25").positive, 25.0);
}

TEST(Trainer, DivergenceIsADataError) {
    Data d = make_data(500, 6);
    for (auto& x : d.features) x *= 1e30f;
    TrainOptions options;
    options.optimizer.kind = "sgd";
    options.optimizer.learning_rate = 1e30;
    options.epochs = 2;
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::Data);
}

