// Training: learns, is deterministic for a seed, and fails with the right kind on bad input.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <gtest/gtest.h>

#include "engine/error.hpp"
#include "engine/train_options.hpp"
#include "engine/trainer.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;

using namespace dendrite::engine::testing;

// The average precision of the kept parameters on the validation rows the options split off (3 features).
double validation_average_precision(const Data& d, const TrainOptions& options, const TrainResult& r) {
    const Split split = split_rows(d.view(), options.validation_fraction, options.seed);
    std::vector<float> rows, labels, scores(split.validation.size());
    for (uint32_t i : split.validation) {
        rows.insert(rows.end(), d.features.begin() + i * 3, d.features.begin() + i * 3 + 3);
        labels.push_back(d.labels[i]);
    }
    predict(r.spec, r.parameters.data(), rows.data(), split.validation.size(), scores.data());
    return average_precision(scores.data(), labels.data(), scores.size());
}

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

TEST(Trainer, ThreadCountDoesNotChangeTheModel) {
    // Batches are cut into fixed shards whose gradients are summed in order: 1, 2 or 3 threads, one model.
    const Data d = make_data(3000, 7);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 512;
    options.dropout = 0.2;
    options.threads = 1;
    const TrainResult one = train(d.view(), options);
    for (int threads : {2, 3}) {
        options.threads = threads;
        const TrainResult many = train(d.view(), options);
        ASSERT_EQ(one.parameters.size(), many.parameters.size());
        EXPECT_EQ(0, std::memcmp(one.parameters.data(), many.parameters.data(), one.parameters.size() * sizeof(float)))
            << threads << " threads";
    }
}

TEST(Trainer, EarlyStoppingKeepsTheBestEpoch) {
    const Data d = make_data(3000, 8);
    TrainOptions options;
    options.epochs = 40;
    options.patience = 3;
    options.hidden = {16};
    options.optimizer.learning_rate = 0.05;  // noisy enough that PR-AUC stops improving
    const TrainResult r = train(d.view(), options);
    ASSERT_GE(r.best_epoch, 1);
    double best = -1;
    int best_epoch = 0;
    for (const auto& e : r.epochs)
        if (e.metrics.pr_auc > best) {
            best = e.metrics.pr_auc;
            best_epoch = e.epoch;
        }
    EXPECT_EQ(r.best_epoch, best_epoch);
    EXPECT_EQ(r.final_epoch().epoch, best_epoch);
    if (r.stopped_early) {
        EXPECT_EQ(int(r.epochs.size()), best_epoch + options.patience);
    }
    // The parameters returned are the best epoch's: scoring the validation rows with them gives its PR-AUC.
    EXPECT_NEAR(validation_average_precision(d, options, r), best, 1e-6);
}

// The first epoch is kept whatever its metric: an autoencoder's (minus its validation loss) may be below any
// bound, and a NaN compares false. Before, a run whose metric never beat -1 returned no parameters at all
// (a crash in PostgreSQL: an autoencoder with patience on wide, heavy-tailed inputs).
TEST(Trainer, EarlyStoppingAlwaysKeepsTheFirstEpoch) {
    for (const double first : {-5.0, -1e30, double(NAN)}) {
        EarlyStopping stopping(2);
        EXPECT_EQ(stopping.observe(1, first), EarlyStopping::Verdict::Improved) << first;
        EXPECT_EQ(stopping.observe(2, std::isnan(first) ? -7.0 : first - 1), EarlyStopping::Verdict::Continue);
        EXPECT_EQ(stopping.observe(3, std::isnan(first) ? -8.0 : first - 2), EarlyStopping::Verdict::Stop);
        EXPECT_EQ(stopping.kept_epoch(3), 1);
    }
    EarlyStopping stopping(1);
    EXPECT_EQ(stopping.observe(1, -3.0), EarlyStopping::Verdict::Improved);
    EXPECT_EQ(stopping.observe(2, -2.0), EarlyStopping::Verdict::Improved);
    EXPECT_EQ(stopping.kept_epoch(2), 2);
}

TEST(Trainer, AnAutoencoderWithPatienceKeepsAnEpochWhateverItsLoss) {
    const Data d = make_data(2000, 12);
    TrainOptions options;
    options.algorithm = "autoencoder";
    options.hidden = {256, 256, 256};
    options.epochs = 4;
    options.patience = 2;
    options.optimizer.learning_rate = 1e-7;  // barely moves: the validation loss stays far above 1
    options.threshold = ThresholdRule::parse("rate:0.01");
    const TrainResult r = train({d.view().features, nullptr, d.view().rows, d.view().columns}, options);
    EXPECT_GT(r.epochs.front().validation_loss, 1.0);
    EXPECT_GE(r.best_epoch, 1);
    EXPECT_EQ(r.parameters.size(), r.spec.stored_floats());
}

// average_epochs N keeps the mean of the last N epochs' parameters. With a constant learning rate an epoch's
// parameters do not depend on how many epochs follow, so training 6, 7 and 8 epochs gives them one by one.
TEST(Trainer, WeightAveragingKeepsTheMeanOfTheLastEpochs) {
    const Data d = make_data(3000, 12);
    TrainOptions options;
    options.hidden = {16, 8};
    options.optimizer.learning_rate = 0.01;
    options.average_epochs = 1;
    std::vector<std::vector<float>> epoch_parameters;
    for (int epochs = 6; epochs <= 8; ++epochs) {
        options.epochs = epochs;
        epoch_parameters.push_back(train(d.view(), options).parameters);
    }
    options.average_epochs = 3;
    const TrainResult averaged = train(d.view(), options);
    ASSERT_EQ(averaged.parameters.size(), epoch_parameters[0].size());
    for (size_t i = 0; i < averaged.parameters.size(); ++i) {
        const float mean = (epoch_parameters[0][i] + epoch_parameters[1][i] + epoch_parameters[2][i]) * (1.0f / 3.0f);
        EXPECT_NEAR(averaged.parameters[i], mean, 1e-6f * std::max(1.0f, std::fabs(mean))) << "parameter " << i;
    }
    EXPECT_NE(averaged.parameters, epoch_parameters[2]);
    // The kept epoch's metrics are the averaged model's: scoring the validation rows with it gives its PR-AUC.
    EXPECT_NEAR(validation_average_precision(d, options, averaged), averaged.final_epoch().metrics.pr_auc, 1e-6);
    // Averaging more epochs than ran averages all of them; 0 (the default) averages the last half, or
    // nothing with early stopping; a negative count is an error.
    options.epochs = 2;
    options.average_epochs = 5;
    EXPECT_EQ(train(d.view(), options).epochs.size(), 2u);
    options.epochs = 6;
    options.average_epochs = 0;
    EXPECT_EQ(options.averaged_epochs(), 3);
    const std::vector<float> automatic = train(d.view(), options).parameters;
    options.average_epochs = 3;
    EXPECT_EQ(automatic, train(d.view(), options).parameters);
    options.average_epochs = 0;
    options.patience = 2;
    EXPECT_EQ(options.averaged_epochs(), 1);
    options.patience = 0;
    options.average_epochs = -1;
    EXPECT_THROW(train(d.view(), options), Error);
}

TEST(Trainer, TimeOrderedSplitValidatesOnTheLatestRows) {
    Data d = make_data(1000, 9);
    std::vector<double> order(1000);
    for (size_t i = 0; i < 1000; ++i) order[i] = double((i * 7919) % 1000);  // a permutation of 0..999
    Dataset view = d.view();
    view.order = order.data();
    const Split split = split_rows(view, 0.25, 1);
    ASSERT_EQ(split.validation.size(), 250u);
    ASSERT_EQ(split.training.size(), 750u);
    for (uint32_t i : split.validation) EXPECT_GE(order[i], 750.0);
    for (uint32_t i : split.training) EXPECT_LT(order[i], 750.0);
    TrainOptions options;
    options.epochs = 2;
    options.validation_fraction = 0.25;
    const TrainResult r = train(view, options);
    EXPECT_EQ(r.validation_rows, 250u);
}

TEST(Trainer, SplitDependsOnTheSeedAlone) {
    // compare() relies on it: every algorithm trained with one seed validates on the same rows.
    const Data d = make_data(500, 10);
    const Split a = split_rows(d.view(), 0.2, 5), b = split_rows(d.view(), 0.2, 5), c = split_rows(d.view(), 0.2, 6);
    EXPECT_EQ(a.validation, b.validation);
    EXPECT_NE(a.validation, c.validation);
}

TEST(Trainer, NegativeSamplingFocalLossAndOptimizers) {
    const Data d = make_data(4000, 11);
    for (const char* optimizer : {"sgd", "adam", "adamw", "rmsprop"}) {
        TrainOptions options;
        options.epochs = 6;
        options.batch_size = 32;  // ~35 steps per epoch on the sampled rows
        options.hidden = {16};
        options.negative_sampling = 0.3;
        options.loss.kind = "focal";
        options.optimizer.kind = optimizer;
        options.optimizer.learning_rate = std::string(optimizer) == "sgd" ? 0.05 : 0.01;
        options.optimizer.nesterov = std::string(optimizer) == "sgd";
        options.optimizer.weight_decay = 1e-4;
        options.schedule.kind = "cosine";
        options.schedule.warmup_epochs = 1;
        options.clip_norm = 5;
        options.layer_norm = true;
        const TrainResult r = train(d.view(), options);
        EXPECT_GT(r.final_epoch().metrics.roc_auc, 0.97) << optimizer;
    }
}

TEST(Trainer, ThresholdRuleIsAppliedToTheKeptEpoch) {
    const Data d = make_data(4000, 12);
    TrainOptions options;
    options.epochs = 4;
    options.threshold = ThresholdRule::parse("precision:0.9");
    const TrainResult r = train(d.view(), options);
    const Metrics& m = r.final_epoch().metrics;
    if (m.threshold_met) {
        EXPECT_GE(m.confusion.precision(), 0.9);
    }
    EXPECT_GT(m.recall_at_precision_90, 0.0);
}

TEST(Trainer, OneClassAfterTheSplitIsAClearError) {
    // All positives are the latest rows: a time-ordered split leaves none for training.
    Data d = make_data(200, 13);
    std::vector<double> order(200);
    for (size_t i = 0; i < 200; ++i) {
        d.labels[i] = i >= 180 ? 1.0f : 0.0f;
        order[i] = double(i);
    }
    Dataset view = d.view();
    view.order = order.data();
    TrainOptions options;
    options.validation_fraction = 0.1;
    EXPECT_EQ(kind_of([&] { train(view, options); }), ErrorKind::Data);
}

// A category index whose fraud-prone categories are scattered over the index range (every 7th of 50): no
// threshold on the index as a number separates them, an embedding does.
TEST(Trainer, EmbeddingLearnsScatteredCategories) {
    Rng rng(5);
    std::vector<float> features, labels;
    const size_t rows = 6000;
    for (size_t r = 0; r < rows; ++r) {
        const int category = 1 + int(rng.uniform() * 50);  // 1..50; 0 is the unseen row
        const float noise = float(rng.normal());
        features.insert(features.end(), {noise, float(category)});
        labels.push_back(category % 7 == 0 && rng.uniform() < 0.9 ? 1.0f : 0.0f);
    }
    const Dataset data{features.data(), labels.data(), rows, 2};
    TrainOptions options;
    options.epochs = 10;
    options.hidden = {16};
    options.optimizer.learning_rate = 0.01;
    const TrainResult plain = train(data, options);
    options.index_features = {{1, 51}};
    const TrainResult embedded = train(data, options);
    ASSERT_EQ(embedded.spec.embeddings.size(), 1u);
    EXPECT_EQ(embedded.spec.embeddings[0].dim, default_embedding_dim(51));
    EXPECT_EQ(embedded.parameters.size(), embedded.spec.stored_floats());
    for (const EncodingSpec& k : embedded.spec.encodings) EXPECT_NE(k.feature, 1);  // an embedded one is not encoded
    EXPECT_GT(embedded.final_epoch().metrics.roc_auc, 0.9);
    EXPECT_GT(embedded.final_epoch().metrics.pr_auc, plain.final_epoch().metrics.pr_auc + 0.2);
    options.embedding_dim = 3;
    EXPECT_EQ(train(data, options).spec.embeddings[0].dim, 3);
    EXPECT_EQ(default_embedding_dim(1), 2);  // round(1.6)
    EXPECT_EQ(default_embedding_dim(10000), 16);
    options.embedding_dim = 2000;
    EXPECT_EQ(kind_of([&] { train(data, options); }), ErrorKind::InvalidParameter);
}

// A feature that alone separates the classes (a leaked label) is measured as such; an informative one less,
// noise near 0.5; too few rows of a class give no measure at all.
TEST(Trainer, FeatureSeparationFindsALeakedLabel) {
    Data d = make_data(4000, 21);
    for (size_t r = 0; r < d.labels.size(); ++r) d.features[r * 3 + 2] = d.labels[r] > 0.5f ? 7.0f : -1.0f;  // the leak
    std::vector<uint32_t> rows(d.labels.size());
    for (size_t r = 0; r < rows.size(); ++r) rows[r] = uint32_t(r);
    const std::vector<double> separation = feature_separation(d.view(), rows);
    ASSERT_EQ(separation.size(), 3u);
    EXPECT_EQ(feature_separation(d.view(), rows, 20000, 3), separation);  // features shared out over threads
    EXPECT_DOUBLE_EQ(separation[2], 1.0);
    EXPECT_GT(separation[0], 0.8);  // x0 drives the label, but not alone
    EXPECT_LT(separation[0], 0.99);
    const std::vector<uint32_t> few(rows.begin(), rows.begin() + 30);
    EXPECT_TRUE(feature_separation(d.view(), few).empty());
    // train() reports it for the rows its metrics come from.
    TrainOptions options;
    options.epochs = 1;
    options.hidden = {4};
    const TrainResult result = train(d.view(), options);
    ASSERT_EQ(result.feature_separation.size(), 3u);
    EXPECT_DOUBLE_EQ(result.feature_separation[2], 1.0);

    // Missing values (NaN: gbdt trains on them) rank below every number, tied: the measure ends (it looped
    // forever on a NaN) and a feature missing exactly for the positives is a leak as well.
    for (size_t r = 0; r < d.labels.size(); ++r) {
        d.features[r * 3 + 1] = r % 7 == 0 ? NAN : d.features[r * 3 + 1];
        d.features[r * 3 + 2] = d.labels[r] > 0.5f ? 1.0f : NAN;
    }
    const std::vector<double> with_missing = feature_separation(d.view(), rows);
    ASSERT_EQ(with_missing.size(), 3u);
    EXPECT_DOUBLE_EQ(with_missing[2], 1.0);
    EXPECT_GT(with_missing[1], 0.5);
    EXPECT_LT(with_missing[1], 0.99);
}

// An input that is 0 in every training row (a one-hot "other" no training row took, a column constant when the
// featurizer was fitted) gets no gradient: its first-layer weights are zeroed rather than left as initialized, so
// a row that sets it scores as if it did not. Inputs that vary are untouched, and the validation rows' setting
// of the dead input does not matter to them.
TEST(Trainer, AnInputNeverSetInTrainingAddsNothing) {
    const Data base = make_data(3000, 11);
    Data d;
    for (size_t r = 0; r < base.labels.size(); ++r) {
        d.features.insert(d.features.end(), base.features.begin() + r * 3, base.features.begin() + r * 3 + 3);
        d.features.push_back(0.0f);  // dead: no training row sets it
        d.labels.push_back(base.labels[r]);
    }
    for (const char* algorithm : {"mlp", "logistic_regression", "autoencoder"}) {
        TrainOptions options;
        options.algorithm = algorithm;
        options.hidden = std::string(algorithm) == "autoencoder" ? std::vector<int>{6, 2, 6} : std::vector<int>{8};
        options.epochs = 2;
        options.piecewise_bins = 0;
        const TrainResult r = train(d.view(4), options);
        const int units = r.spec.layers[0].units;
        const float* dead_column = r.parameters.data() + r.spec.kernel_offset(0) + size_t(3) * size_t(units);
        EXPECT_TRUE(std::all_of(dead_column, dead_column + units, [](float w) { return w == 0.0f; })) << algorithm;
        const float* live_column = r.parameters.data() + r.spec.kernel_offset(0);
        EXPECT_TRUE(std::any_of(live_column, live_column + units, [](float w) { return w != 0.0f; })) << algorithm;
        if (std::string(algorithm) == "autoencoder") continue;  // its output reconstructs the input: it differs
        const float row[8] = {1.2f, -0.3f, 0.4f, 0.0f, 1.2f, -0.3f, 0.4f, 1.0f};
        float scores[2];
        predict(r.spec, r.parameters.data(), row, 2, scores);
        EXPECT_EQ(scores[0], scores[1]) << algorithm;
    }
}

// The same for an embedded category index: the table rows no training row reads (the unseen row 0 when every
// training row had a known category, a category seen only elsewhere) are zeroed, so an unseen category adds
// nothing; the rows read are learned.
TEST(Trainer, EmbeddingRowsNoTrainingRowReadsAreZero) {
    const Data base = make_data(3000, 12);
    Data d;
    for (size_t r = 0; r < base.labels.size(); ++r) {
        d.features.insert(d.features.end(), base.features.begin() + r * 3, base.features.begin() + r * 3 + 3);
        d.features.push_back(float(1 + r % 3));  // categories 1..3 of a table of 6 rows (0: unseen and missing)
        d.labels.push_back(base.labels[r]);
    }
    TrainOptions options;
    options.hidden = {8};
    options.epochs = 2;
    options.piecewise_bins = 0;
    options.index_features.push_back({3, 6});
    const TrainResult r = train(d.view(4), options);
    ASSERT_EQ(r.spec.embeddings.size(), 1u);
    const size_t dim = size_t(r.spec.embeddings[0].dim);
    const float* table = r.parameters.data() + r.spec.embedding_offset(0);
    const auto zero = [&](size_t row) {
        return std::all_of(table + row * dim, table + (row + 1) * dim, [](float w) { return w == 0.0f; });
    };
    for (size_t row : {0, 4, 5}) EXPECT_TRUE(zero(row)) << row;
    for (size_t row : {1, 2, 3}) EXPECT_FALSE(zero(row)) << row;
    const float rows[8] = {1.2f, -0.3f, 0.4f, 0.0f, 1.2f, -0.3f, 0.4f, 5.0f};
    float scores[2];
    predict(r.spec, r.parameters.data(), rows, 2, scores);
    EXPECT_EQ(scores[0], scores[1]);
}
