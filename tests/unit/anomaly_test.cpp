// Anomaly scores (engine/anomaly.hpp): the error quantile table, its mapping to [0, 1], the reconstruction
// loss's gradient through an autoencoder, and the scoring paths' reconstruction errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>
#include <gtest/gtest.h>

#include "engine/anomaly.hpp"
#include "engine/error.hpp"
#include "engine/featurizer.hpp"
#include "engine/featurizer_spec.hpp"
#include "engine/metrics.hpp"
#include "engine/model.hpp"
#include "engine/trainer.hpp"
#include "engine/network.hpp"
#include "engine/rng.hpp"

using namespace dendrite::engine;

TEST(ErrorQuantiles, EndsAreTheSmallestAndLargestErrors) {
    std::vector<float> errors;
    for (int i = 1000; i >= 1; --i) errors.push_back(float(i));  // unsorted on purpose
    const std::vector<float> table = error_quantiles(errors, 11);
    ASSERT_EQ(table.size(), 11u);
    EXPECT_EQ(table.front(), 1.0f);
    EXPECT_EQ(table.back(), 1000.0f);
    EXPECT_EQ(table[5], 500.0f);  // the lower order statistic at the median: index 999 * 5 / 10 = 499
    EXPECT_TRUE(valid_error_quantiles(table.data(), 11));
    // One error: every quantile is it.
    const std::vector<float> one = error_quantiles({2.5f}, 5);
    for (float q : one) EXPECT_EQ(q, 2.5f);
}

TEST(ErrorQuantiles, NanErrorIsADataError) {
    // Sorting a NaN is undefined behaviour, and a table holding one would misguide anomaly_score's search.
    try {
        error_quantiles({1.0f, std::nanf(""), 0.5f, 2.0f}, 3);
        FAIL() << "a NaN error was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Data);
    }
}

TEST(ErrorQuantiles, ScoreIsMonotoneAndBounded) {
    const std::vector<float> table{0.0f, 1.0f, 2.0f, 4.0f, 8.0f};
    const int n = int(table.size());
    EXPECT_EQ(anomaly_score(table.data(), n, -1.0f), 0.0f);
    EXPECT_EQ(anomaly_score(table.data(), n, 0.0f), 0.0f);
    EXPECT_FLOAT_EQ(anomaly_score(table.data(), n, 1.0f), 0.25f);
    EXPECT_FLOAT_EQ(anomaly_score(table.data(), n, 3.0f), 0.625f);  // halfway between quantiles 0.5 and 0.75
    EXPECT_EQ(anomaly_score(table.data(), n, 8.0f), 1.0f);
    EXPECT_EQ(anomaly_score(table.data(), n, 1e30f), 1.0f);
    EXPECT_EQ(anomaly_score(table.data(), n, std::numeric_limits<float>::infinity()), 1.0f);
    EXPECT_EQ(anomaly_score(table.data(), n, std::numeric_limits<float>::quiet_NaN()), 1.0f);
    float previous = -1;
    for (float e = -0.5f; e < 9.0f; e += 0.01f) {
        const float s = anomaly_score(table.data(), n, e);
        EXPECT_GE(s, previous) << e;
        EXPECT_GE(s, 0.0f);
        EXPECT_LE(s, 1.0f);
        previous = s;
    }
}

TEST(ErrorQuantiles, TiesAreAStepToTheirHighestQuantile) {
    const std::vector<float> table{0.0f, 1.0f, 1.0f, 1.0f, 2.0f};
    EXPECT_FLOAT_EQ(anomaly_score(table.data(), 5, 1.0f), 0.75f);
    EXPECT_LT(anomaly_score(table.data(), 5, 0.999f), 0.25f);
    EXPECT_GT(anomaly_score(table.data(), 5, 1.001f), 0.75f);
    const std::vector<float> flat{3.0f, 3.0f, 3.0f};  // every training row had the same error
    EXPECT_EQ(anomaly_score(flat.data(), 3, 2.0f), 0.0f);
    EXPECT_EQ(anomaly_score(flat.data(), 3, 3.0f), 0.0f);
    EXPECT_EQ(anomaly_score(flat.data(), 3, 3.5f), 1.0f);
}

TEST(ErrorQuantiles, ARateThresholdFlagsThatShareOfTheRows) {
    Rng rng(3);
    std::vector<float> errors(20000);
    for (float& e : errors) e = float(std::exp(rng.normal()));  // heavy-tailed, like reconstruction errors
    const std::vector<float> table = error_quantiles(errors, 1001);
    for (double rate : {0.1, 0.01, 0.005}) {
        size_t flagged = 0;
        for (float e : errors) flagged += anomaly_score(table.data(), 1001, e) >= float(1.0 - rate);
        EXPECT_NEAR(double(flagged) / double(errors.size()), rate, rate * 0.1 + 1e-4) << rate;
    }
}

TEST(ErrorQuantiles, ValidationRefusesEditedTables) {
    const float decreasing[] = {0.0f, 2.0f, 1.0f};
    const float negative[] = {-1.0f, 2.0f};
    const float nan[] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
    const float single[] = {1.0f};
    EXPECT_FALSE(valid_error_quantiles(decreasing, 3));
    EXPECT_FALSE(valid_error_quantiles(negative, 2));
    EXPECT_FALSE(valid_error_quantiles(nan, 2));
    EXPECT_FALSE(valid_error_quantiles(single, 1));
}

namespace {

double autoencoder_loss(const NetworkSpec& spec, const float* parameters, const Matrix& x) {
    Pass pass;
    pass.forward(spec, parameters, x);
    return reconstruction_loss(pass.outputs(), x, nullptr, double(x.cols()));
}

}  // namespace

// Every parameter's analytic gradient of the reconstruction loss against the central difference.
TEST(Autoencoder, ReconstructionLossGradientMatchesFiniteDifferences) {
    for (const bool layer_norm : {false, true}) {
        const int inputs = 5, batch = 6;
        Network network(NetworkSpec::autoencoder(inputs, {4, 2, 4}, Activation::Tanh, layer_norm));
        Rng rng(5);
        network.initialize(rng);
        for (auto& w : network.parameters()) w += float(rng.uniform(-0.1, 0.1));
        Matrix x(inputs, batch);
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.normal());
        const NetworkSpec& spec = network.spec();
        Pass pass;
        pass.forward(spec, network.parameters().data(), x);
        ASSERT_EQ(pass.outputs().rows(), inputs);
        Matrix doutputs;
        reconstruction_loss(pass.outputs(), x, &doutputs, double(batch));
        std::vector<float> analytic(spec.parameter_count());
        pass.backward_outputs(spec, network.parameters().data(), doutputs, analytic.data());
        AlignedFloats& params = network.parameters();
        const float h = 1e-2f;
        for (size_t i = 0; i < params.size(); ++i) {
            const float saved = params[i];
            params[i] = saved + h;
            const double up = autoencoder_loss(spec, params.data(), x);
            params[i] = saved - h;
            const double down = autoencoder_loss(spec, params.data(), x);
            params[i] = saved;
            const double numeric = (up - down) / (2.0 * h);
            EXPECT_NEAR(analytic[i], numeric, 2e-3 + 2e-2 * std::fabs(numeric))
                << "parameter " << i << (layer_norm ? " (layer norm)" : "");
        }
    }
}

// The scoring paths' errors (one row, a batch of small and of large networks) equal the training pass's.
TEST(Autoencoder, ScoringPathsComputeTheTrainingPassError) {
    for (const int width : {8, 256}) {  // 256: past kOneRowBatchMaxWeights, so the batch takes matrix products
        const int inputs = 40, rows = 9;
        Network network(NetworkSpec::autoencoder(inputs, {width, 4, width}, Activation::Relu));
        Rng rng(11);
        network.initialize(rng);
        Matrix x(inputs, rows);
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.normal());
        const SpecView view(network.spec(), network.parameters().data());
        std::vector<float> scratch(batch_scratch_floats(view.view(), rows)), errors(rows);
        reconstruction_errors(view.view(), x.data(), rows, errors.data(), scratch.data());
        Pass pass;
        pass.forward(network.spec(), network.parameters().data(), x);
        for (int j = 0; j < rows; ++j) {
            const double expected = (pass.outputs().col(j) - x.col(j)).squaredNorm() / inputs;
            EXPECT_NEAR(errors[size_t(j)], expected, 1e-4 * (1 + expected)) << width << " row " << j;
            std::vector<float> one(size_t(scratch_floats(view.view())));
            EXPECT_NEAR(reconstruction_error_one(view.view(), x.col(j).data(), one.data()), expected,
                        1e-4 * (1 + expected));
            // explain's terms, one per input, add up to the error.
            std::vector<double> terms(inputs);
            reconstruction_error_terms(view.view(), x.col(j).data(), one.data(), terms.data());
            double sum = 0;
            for (double t : terms) {
                EXPECT_GE(t, 0.0);
                sum += t;
            }
            EXPECT_NEAR(sum, reconstruction_error_one(view.view(), x.col(j).data(), one.data()), 1e-5 * (1 + sum));
        }
    }
}

TEST(Autoencoder, SpecRulesAreEnforced) {
    EXPECT_THROW(NetworkSpec::autoencoder(4, {}, Activation::Relu), std::exception);
    NetworkSpec spec = NetworkSpec::autoencoder(4, {3}, Activation::Relu);
    EXPECT_TRUE(spec.reconstructs());
    EXPECT_FALSE(NetworkSpec::binary_classifier(4, {3}, Activation::Relu).reconstructs());
    spec.embeddings.push_back({0, 10, 2});
    EXPECT_THROW(spec.validate(), std::exception);
    spec.embeddings.clear();
    spec.layers.back().units = 3;
    EXPECT_THROW(spec.validate(), std::exception);
}

namespace {

// Rows on a 2-d plane inside 6 dimensions (x2..x5 are combinations of x0, x1), and anomalies off it.
struct PlaneData {
    std::vector<float> features, labels;
};

PlaneData plane_data(size_t rows, size_t anomalies, uint64_t seed) {
    Rng rng(seed);
    PlaneData d;
    for (size_t r = 0; r < rows; ++r) {
        const bool anomaly = r % (rows / anomalies) == 0;
        const float a = float(rng.normal()), b = float(rng.normal());
        std::vector<float> row{a, b, a + b, a - b, 0.5f * a, -b};
        if (anomaly) row[2] += rng.uniform() < 0.5 ? 4.0f : -4.0f;  // off the plane
        d.features.insert(d.features.end(), row.begin(), row.end());
        d.labels.push_back(anomaly ? 1.0f : 0.0f);
    }
    return d;
}

TrainOptions autoencoder_options(int epochs, const char* threshold) {
    TrainOptions options;
    options.algorithm = "autoencoder";
    options.hidden = {16, 4, 16};
    options.epochs = epochs;
    options.optimizer.learning_rate = 0.01;
    options.threshold = ThresholdRule::parse(threshold);
    return options;
}

}  // namespace

TEST(Autoencoder, TrainsWithoutLabelsAndScoresAnomaliesHigh) {
    const PlaneData d = plane_data(6000, 60, 21);
    const TrainOptions options = autoencoder_options(15, "rate:0.01");
    const Dataset unlabelled{d.features.data(), nullptr, d.labels.size(), 6};
    const TrainResult r = train(unlabelled, options);
    EXPECT_FALSE(r.labelled);
    EXPECT_TRUE(r.spec.reconstructs());
    ASSERT_GT(r.spec.error_quantiles, 1);
    ASSERT_EQ(r.parameters.size(), r.spec.stored_floats());
    const float* table = r.parameters.data() + r.spec.parameter_count();
    EXPECT_TRUE(valid_error_quantiles(table, r.spec.error_quantiles));
    EXPECT_LT(r.epochs.back().validation_loss, r.epochs.front().validation_loss);
    EXPECT_DOUBLE_EQ(r.final_epoch().metrics.threshold, 0.99);  // rate 0.01: the rarest 1 % of training rows
    // Scored as a trigger scores: the anomalies rank far above the plane's rows.
    const SpecView view(r.spec, r.parameters.data());
    ModelView scorer;
    scorer.kind = ModelView::Kind::Autoencoder;
    scorer.network = view.view();
    scorer.error_quantiles = table;
    scorer.error_quantile_count = r.spec.error_quantiles;
    std::vector<float> scratch(size_t(model_scratch_floats(scorer))), scores(d.labels.size());
    size_t flagged = 0, anomalies_flagged = 0;
    for (size_t i = 0; i < d.labels.size(); ++i) {
        scores[i] = score_one(scorer, d.features.data() + i * 6, scratch.data());
        ASSERT_GE(scores[i], 0.0f);
        ASSERT_LE(scores[i], 1.0f);
        flagged += scores[i] >= 0.99f;
        anomalies_flagged += scores[i] >= 0.99f && d.labels[i] > 0.5f;
    }
    EXPECT_GT(average_precision(scores.data(), d.labels.data(), scores.size()), 0.9);
    EXPECT_NEAR(double(flagged) / double(scores.size()), 0.01, 0.005);
    EXPECT_GT(anomalies_flagged, 50u);
    // The batch path scores the same.
    std::vector<float> batch(d.labels.size()), batch_scratch(model_batch_scratch_floats(scorer, 64));
    for (size_t start = 0; start < d.labels.size(); start += 64) {
        const int n = int(std::min<size_t>(64, d.labels.size() - start));
        score_batch(scorer, d.features.data() + start * 6, n, batch.data() + start, batch_scratch.data());
    }
    EXPECT_EQ(batch, scores);
}

TEST(Autoencoder, LabelsOnlyMeasureIt) {
    const PlaneData d = plane_data(4000, 40, 22);
    TrainOptions options = autoencoder_options(10, "rate:0.02");
    const Dataset unlabelled{d.features.data(), nullptr, d.labels.size(), 6};
    const Dataset labelled{d.features.data(), d.labels.data(), d.labels.size(), 6};
    const TrainResult blind = train(unlabelled, options);
    const TrainResult measured = train(labelled, options);
    EXPECT_TRUE(measured.labelled);
    EXPECT_EQ(blind.parameters, measured.parameters);       // the labels do not change the model
    EXPECT_GT(measured.final_epoch().metrics.pr_auc, 0.3);  // 8 anomalies among 800 validation rows: chance is 0.01
    // Without labels, a rule that needs them is refused; with them, it is applied to the scores.
    options.threshold = ThresholdRule::parse("f1");
    EXPECT_THROW(train(unlabelled, options), Error);
    const TrainResult f1 = train(labelled, options);
    EXPECT_GT(f1.final_epoch().metrics.threshold, 0.5);
    options.algorithm = "mlp";
    EXPECT_THROW(train(unlabelled, options), Error);
}

// An autoencoder's score as a feature of another featurizer (spec.anomaly): computed from the row's own
// columns through the autoencoder's featurizer, scaled as a uniform variable, placed before the history.
namespace {

struct TrainedAutoencoder {
    std::unique_ptr<Featurizer> featurizer;
    TrainResult result;
    std::unique_ptr<SpecView> view;  // owns what scorer.network points to
    ModelView scorer;
};

std::vector<InputColumn> plane_columns() {
    std::vector<InputColumn> columns;
    for (int c = 0; c < 6; ++c) columns.push_back({"x" + std::to_string(c), SqlTypeClass::Number});
    return columns;
}

TrainedAutoencoder train_plane_autoencoder(const PlaneData& d) {
    TrainedAutoencoder ae;
    FeaturizerFitter fitter(resolve_spec(plane_columns(), "", "", "", "error"));
    std::vector<RawValue> raw(6);
    for (size_t r = 0; r < d.labels.size(); ++r) {
        for (size_t c = 0; c < 6; ++c) raw[c] = RawValue::of_number(d.features[r * 6 + c]);
        fitter.add(raw.data());
    }
    ae.featurizer = std::make_unique<Featurizer>(fitter.finish());
    std::vector<float> features(d.features.size());
    for (size_t r = 0; r < d.labels.size(); ++r) {
        for (size_t c = 0; c < 6; ++c) raw[c] = RawValue::of_number(d.features[r * 6 + c]);
        ae.featurizer->transform(raw.data(), nullptr, features.data() + r * 6);
    }
    ae.result = train({features.data(), nullptr, d.labels.size(), 6}, autoencoder_options(15, "rate:0.01"));
    ae.scorer.kind = ModelView::Kind::Autoencoder;
    ae.view = std::make_unique<SpecView>(ae.result.spec, ae.result.parameters.data());
    ae.scorer.network = ae.view->view();
    ae.scorer.error_quantiles = ae.result.parameters.data() + ae.result.spec.parameter_count();
    ae.scorer.error_quantile_count = ae.result.spec.error_quantiles;
    return ae;
}

}  // namespace

TEST(AnomalyFeature, IsTheAutoencodersScoreOfTheRow) {
    const PlaneData d = plane_data(3000, 30, 5);
    TrainedAutoencoder ae = train_plane_autoencoder(d);
    // The host: an amount column, the plane's columns only through the autoencoder, and a label.
    std::vector<InputColumn> columns = plane_columns();
    columns.push_back({"amount", SqlTypeClass::Number});
    columns.push_back({"fraud", SqlTypeClass::Boolean});
    std::vector<AnomalySpec> anomaly = parse_anomaly(R"([{"model": "plane", "version": 2}])");
    ASSERT_EQ(anomaly.size(), 1u);
    EXPECT_EQ(anomaly[0].name, "plane_anomaly");
    anomaly[0].inputs = ae.featurizer->inputs();
    anomaly[0].input_types.assign(6, SqlTypeClass::Number);
    const char* ignore_plane =
        R"({"x0": "ignore", "x1": "ignore", "x2": "ignore", "x3": "ignore", "x4": "ignore", "x5": "ignore"})";
    FeaturizerSpec spec = resolve_spec(columns, ignore_plane, "", "fraud", "error", {}, {}, nullptr, anomaly);
    // Stored and read back with its declaration.
    spec = FeaturizerSpec::from_json(spec.to_json());
    ASSERT_EQ(spec.anomaly.size(), 1u);
    EXPECT_EQ(spec.anomaly[0].version, 2);
    EXPECT_EQ(spec.anomaly[0].inputs, ae.featurizer->inputs());
    FeaturizerFitter fitter(spec);
    std::vector<RawValue> raw(fitter.inputs().size());
    ASSERT_EQ(fitter.inputs().size(), 8u);  // amount, x0..x5, fraud
    auto row = [&](size_t r, double amount) {
        for (size_t i = 0; i < raw.size(); ++i) {
            const std::string& name = fitter.inputs()[i];
            raw[i] = name == "amount"  ? RawValue::of_number(amount)
                     : name == "fraud" ? RawValue::of_number(d.labels[r])
                                       : RawValue::of_number(d.features[r * 6 + size_t(name[1] - '0')]);
        }
    };
    for (size_t r = 0; r < 200; ++r) {
        row(r, double(r));
        fitter.add(raw.data());
    }
    Featurizer host = fitter.finish();
    ASSERT_EQ(host.output_count(), 2);
    EXPECT_EQ(host.output_names()[1], "plane_anomaly");
    EXPECT_EQ(host.output_sources()[1], "plane_anomaly");
    EXPECT_EQ(host.first_anomaly_output(), 1);
    std::vector<float> out(2), ae_features(6), scratch(size_t(model_scratch_floats(ae.scorer)));
    row(0, 1.0);
    EXPECT_THROW(host.transform(raw.data(), nullptr, out.data()), Error);  // no model attached yet
    host.attach_anomaly_model(0, ae.featurizer.get(), &ae.scorer);
    size_t anomalies_high = 0;
    for (size_t r = 0; r < d.labels.size(); ++r) {
        row(r, 1.0);
        host.transform(raw.data(), nullptr, out.data());
        std::vector<RawValue> plane(6);
        for (size_t c = 0; c < 6; ++c) plane[c] = RawValue::of_number(d.features[r * 6 + c]);
        ae.featurizer->transform(plane.data(), nullptr, ae_features.data());
        const float score = score_one(ae.scorer, ae_features.data(), scratch.data());
        ASSERT_EQ(out[1], float((double(score) - 0.5) * std::sqrt(12.0))) << "row " << r;
        EXPECT_NEAR(Featurizer::anomaly_score_of_output(out[1]), score, 1e-6);
        anomalies_high += d.labels[r] > 0.5f && score >= 0.99f;
    }
    EXPECT_GT(anomalies_high, 20u);
    // Another featurizer (other inputs) or a model that is not an autoencoder is refused.
    FeaturizerFitter other_fitter(resolve_spec({{"x0", SqlTypeClass::Number}}, "", "", "", "error"));
    std::vector<RawValue> one{RawValue::of_number(1.0)};
    other_fitter.add(one.data());
    const Featurizer other = other_fitter.finish();
    EXPECT_THROW(host.attach_anomaly_model(0, &other, &ae.scorer), Error);
    ModelView classifier = ae.scorer;
    classifier.kind = ModelView::Kind::Network;
    EXPECT_THROW(host.attach_anomaly_model(0, ae.featurizer.get(), &classifier), Error);
}

TEST(AnomalyFeature, DeclarationsAreChecked) {
    for (const char* bad : {R"(3)", R"([{"version": 1}])", R"([{"model": ""}])", R"([{"model": "a", "version": 0}])",
                            R"([{"model": "a", "extra": 1}])", R"([{"model": "a"}, {"model": "a"}])", R"([1])"})
        EXPECT_THROW(parse_anomaly(bad), Error) << bad;
    EXPECT_EQ(parse_anomaly(R"({"model": "a", "name": "odd"})")[0].name, "odd");
    std::vector<AnomalySpec> anomaly = parse_anomaly(R"([{"model": "plane", "version": 1}])");
    anomaly[0].inputs = {"x0", "x1"};
    anomaly[0].input_types = {SqlTypeClass::Number, SqlTypeClass::Number};
    const std::vector<InputColumn> both{{"x0", SqlTypeClass::Number}, {"x1", SqlTypeClass::Number}};
    EXPECT_NO_THROW(resolve_spec(both, "", "", "", "error", {}, {}, nullptr, anomaly));
    // A column the autoencoder reads is missing, of another type, or the label.
    EXPECT_THROW(resolve_spec({{"x0", SqlTypeClass::Number}}, "", "", "", "error", {}, {}, nullptr, anomaly), Error);
    EXPECT_THROW(resolve_spec({{"x0", SqlTypeClass::Number}, {"x1", SqlTypeClass::Text}}, "", "", "", "error", {}, {},
                              nullptr, anomaly),
                 Error);
    EXPECT_THROW(resolve_spec(both, "", "", "x1", "error", {}, {}, nullptr, anomaly), Error);
    // Its name is not a column's.
    anomaly[0].name = "x0";
    EXPECT_THROW(resolve_spec(both, "", "", "", "error", {}, {}, nullptr, anomaly), Error);
}

// An autoencoder whose featurizer keeps history: the reading featurizer keeps those declarations in its own
// state (after its own), fed by its rows, and the feature equals the autoencoder's score of each row with the
// history of the same rows before it.
TEST(AnomalyFeature, KeepsTheAutoencodersHistoryInItsOwnState) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    const char* card_history =
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["count", "mean"]}])";
    auto row = [](size_t r) {
        Rng rng(r + 1);
        return std::vector<RawValue>{RawValue::of_number(double(r % 37)),
                                     RawValue::of_time(int64_t(r) * 600 * 1000000LL),
                                     RawValue::of_number(r % 97 == 0 ? 900.0 : 20.0 + 10.0 * rng.uniform())};
    };
    const size_t rows = 3000;
    FeaturizerFitter ae_fitter(
        resolve_spec(columns, R"({"card": "ignore", "at": "ignore"})", card_history, "", "error"));
    for (size_t r = 0; r < rows; ++r) ae_fitter.add(row(r).data());
    const Featurizer ae_featurizer = ae_fitter.finish();
    ASSERT_TRUE(ae_featurizer.keeps_history());
    const int n = ae_featurizer.output_count();
    std::vector<float> features(rows * size_t(n));
    {
        auto state = ae_featurizer.new_history();
        for (size_t r = 0; r < rows; ++r) {
            const auto raw = row(r);
            ae_featurizer.transform(raw.data(), state.get(), features.data() + r * size_t(n));
            ae_featurizer.observe(raw.data(), state.get());
        }
    }
    TrainOptions options = autoencoder_options(3, "rate:0.01");
    options.hidden = {8, 2, 8};
    const TrainResult result = train({features.data(), nullptr, rows, n}, options);
    const SpecView view(result.spec, result.parameters.data());
    ModelView scorer;
    scorer.kind = ModelView::Kind::Autoencoder;
    scorer.network = view.view();
    scorer.error_quantiles = result.parameters.data() + result.spec.parameter_count();
    scorer.error_quantile_count = result.spec.error_quantiles;

    // The reader: the amount as a column, no history of its own, the autoencoder's score.
    std::vector<AnomalySpec> anomaly = parse_anomaly(R"({"model": "cards", "version": 1})");
    anomaly[0].inputs = ae_featurizer.inputs();
    for (const auto& input : anomaly[0].inputs)
        for (const auto& c : columns)
            if (c.name == input) anomaly[0].input_types.push_back(c.type);
    anomaly[0].history = ae_featurizer.spec().history;
    FeaturizerSpec spec =
        resolve_spec(columns, R"({"card": "ignore", "at": "ignore"})", "", "", "error", {}, {}, nullptr, anomaly);
    EXPECT_EQ(spec.event_time(), "at");
    spec = FeaturizerSpec::from_json(spec.to_json());
    ASSERT_EQ(spec.anomaly[0].history.size(), 1u);
    FeaturizerFitter fitter(spec);
    for (size_t r = 0; r < 100; ++r) fitter.add(row(r).data());
    Featurizer reader = fitter.finish();
    EXPECT_TRUE(reader.keeps_history());
    reader.attach_anomaly_model(0, &ae_featurizer, &scorer);
    // Inputs are resolved by name: the reader's order is its own.
    std::vector<int> from_ae;
    for (const auto& input : reader.inputs())
        from_ae.push_back(int(std::find(ae_featurizer.inputs().begin(), ae_featurizer.inputs().end(), input) -
                              ae_featurizer.inputs().begin()));
    auto reader_state = reader.new_history();
    auto ae_state = ae_featurizer.new_history();
    std::vector<float> out(size_t(reader.output_count())), ae_out(static_cast<size_t>(n)),
        scratch(size_t(model_scratch_floats(scorer)));
    for (size_t r = 0; r < rows; ++r) {
        const auto raw = row(r);
        std::vector<RawValue> reader_raw;
        for (int i : from_ae) reader_raw.push_back(raw[size_t(i)]);
        reader.transform(reader_raw.data(), reader_state.get(), out.data());
        reader.observe(reader_raw.data(), reader_state.get());
        ae_featurizer.transform(raw.data(), ae_state.get(), ae_out.data());
        ae_featurizer.observe(raw.data(), ae_state.get());
        const float score = score_one(scorer, ae_out.data(), scratch.data());
        ASSERT_EQ(out.back(), float((double(score) - 0.5) * std::sqrt(12.0))) << "row " << r;
    }
    // A reader that declares the same card history itself (under another name) shares its slot: the state
    // keeps one declaration, observed once per row, and the feature is the same.
    FeaturizerFitter sharing_fitter(resolve_spec(
        columns, R"({"card": "ignore", "at": "ignore"})",
        R"([{"name": "own", "entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["count", "mean"]}])",
        "", "error", {}, {}, nullptr, anomaly));
    for (size_t r = 0; r < 100; ++r) sharing_fitter.add(row(r).data());
    Featurizer sharing = sharing_fitter.finish();
    sharing.attach_anomaly_model(0, &ae_featurizer, &scorer);
    auto sharing_state = sharing.new_history();
    auto reference_state = reader.new_history();
    std::vector<float> shared_out(size_t(sharing.output_count()));
    for (size_t r = 0; r < 500; ++r) {
        const auto raw = row(r);
        std::vector<RawValue> reader_raw;
        for (int i : from_ae) reader_raw.push_back(raw[size_t(i)]);
        reader.transform(reader_raw.data(), reference_state.get(), out.data());
        reader.observe(reader_raw.data(), reference_state.get());
        std::vector<RawValue> sharing_raw;
        for (const auto& input : sharing.inputs())
            sharing_raw.push_back(
                raw[size_t(std::find(ae_featurizer.inputs().begin(), ae_featurizer.inputs().end(), input) -
                           ae_featurizer.inputs().begin())]);
        sharing.transform(sharing_raw.data(), sharing_state.get(), shared_out.data());
        sharing.observe(sharing_raw.data(), sharing_state.get());
        ASSERT_EQ(shared_out[1], out.back()) << "row " << r;  // amount, the anomaly, then its own history
    }
    EXPECT_EQ(sharing_state->declarations(), 1u);

    // A declaration whose history differs from the autoencoder featurizer's is refused at attach.
    anomaly[0].history[0].windows_us[0] *= 2;
    FeaturizerFitter other(
        resolve_spec(columns, R"({"card": "ignore", "at": "ignore"})", "", "", "error", {}, {}, nullptr, anomaly));
    other.add(row(0).data());
    Featurizer mismatched = other.finish();
    EXPECT_THROW(mismatched.attach_anomaly_model(0, &ae_featurizer, &scorer), Error);
    // Another event time than the reader's own history is refused when resolved.
    anomaly[0].history[0].time = "amount";
    EXPECT_THROW(resolve_spec(columns, "", card_history, "", "error", {}, {}, nullptr, anomaly), Error);
}
