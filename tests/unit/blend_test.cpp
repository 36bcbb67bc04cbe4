// A blend (engine/blend.cpp): its members are the mlp and the gbdt trained alone with the same options, its score
// the sigmoid of their weighted logits, its epochs the members' then its own, and its explanations additive.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/explain.hpp"
#include "engine/gbdt.hpp"
#include "engine/metrics.hpp"
#include "engine/model.hpp"
#include "engine/train_options.hpp"
#include "engine/trainer.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

namespace {

TrainOptions blend_options() {
    TrainOptions options;
    options.algorithm = "blend";
    options.hidden = {8};
    options.epochs = 3;
    options.gbdt.rounds = 15;
    options.gbdt.max_depth = 3;
    options.threads = 1;
    options.network_weight = 0.3;
    return options;
}

double logit(double p) { return std::log(p / (1 - p)); }

// A trained blend as the scoring paths see it.
struct BlendScorer {
    explicit BlendScorer(const TrainResult& blend) : network(blend.spec, blend.parameters.data()) {
        view.kind = ModelView::Kind::Blend;
        view.network = network.view();
        view.trees = view_of(blend.trees);
        view.network_weight = blend.network_weight;
    }
    SpecView network;
    ModelView view;
};

}  // namespace

TEST(Blend, MembersAreTheModelsTrainedAloneAndItsEpochsFollowThem) {
    const Data d = make_data(3000, 21);
    const TrainOptions options = blend_options();
    EXPECT_EQ(options.planned_epochs(), 3 + 15 + 1);
    const TrainResult blend = train(d.view(), options);
    TrainOptions alone = options;
    alone.algorithm = "mlp";
    const TrainResult network = train(d.view(), alone);
    alone.algorithm = "gbdt";
    const TrainResult trees = train(d.view(), alone);

    EXPECT_EQ(blend.algorithm, "blend");
    EXPECT_EQ(blend.parameters, network.parameters);
    EXPECT_EQ(blend.trees.value, trees.trees.value);
    EXPECT_EQ(blend.trees.threshold, trees.trees.threshold);
    EXPECT_FLOAT_EQ(blend.network_weight, 0.3f);
    EXPECT_EQ(blend.network_epochs, 3);
    // The network's epochs, the trees' rounds numbered on, then the blend's own row, which is the kept one.
    ASSERT_EQ(blend.epochs.size(), size_t(3 + 15 + 1));
    for (size_t e = 0; e < blend.epochs.size(); ++e) EXPECT_EQ(blend.epochs[e].epoch, int(e) + 1);
    EXPECT_STREQ(blend.epochs[0].unit, "epoch");
    EXPECT_EQ(blend.epochs[2].step, 3);
    EXPECT_STREQ(blend.epochs[3].unit, "round");
    EXPECT_EQ(blend.epochs[3].step, 1);
    EXPECT_EQ(blend.epochs[3].metrics.pr_auc, trees.epochs[0].metrics.pr_auc);
    EXPECT_STREQ(blend.epochs.back().unit, "blend");
    EXPECT_EQ(blend.best_epoch, 19);
    EXPECT_EQ(blend.final_epoch().epoch, 19);
    EXPECT_EQ(blend.training_rows, network.training_rows);
    EXPECT_EQ(blend.evaluation_rows, network.evaluation_rows);
    // The leak check's per-feature separation, measured once for the blend: the network's own figures.
    ASSERT_EQ(blend.feature_separation.size(), 3u);
    EXPECT_EQ(blend.feature_separation, network.feature_separation);
}

TEST(Blend, ScoresTheSigmoidOfTheWeightedLogitsAndMeasuresThoseScores) {
    const Data d = make_data(3000, 22);
    const TrainOptions options = blend_options();
    const TrainResult blend = train(d.view(), options);
    const BlendScorer scorer(blend);
    const ModelView& view = scorer.view;
    ModelView network_alone;
    network_alone.network = scorer.network.view();
    std::vector<float> scratch(size_t(model_scratch_floats(view)));
    std::vector<float> scores, labels;
    for (uint32_t i : blend.evaluation_rows) {
        const float* x = d.features.data() + size_t(i) * 3;
        const float score = score_one(view, x, scratch.data());
        const double expected = 1 / (1 + std::exp(-(0.3 * logit(score_one(network_alone, x, scratch.data())) +
                                                    0.7 * logit(score_trees(view.trees, x)))));
        EXPECT_NEAR(score, expected, 1e-5);
        scores.push_back(score);
        labels.push_back(d.labels[i]);
    }
    // The kept metrics are those of the blend's own scores on the evaluation rows.
    EXPECT_NEAR(average_precision(scores.data(), labels.data(), scores.size()), blend.final_epoch().metrics.pr_auc,
                1e-9);
    // A batch scores row by row: the same numbers.
    std::vector<float> batch(scores.size());
    std::vector<float> rows;
    for (uint32_t i : blend.evaluation_rows)
        rows.insert(rows.end(), &d.features[size_t(i) * 3], &d.features[size_t(i) * 3] + 3);
    std::vector<float> batch_scratch(model_batch_scratch_floats(view, int(scores.size())));
    score_batch(view, rows.data(), int(scores.size()), batch.data(), batch_scratch.data());
    EXPECT_EQ(batch, scores);
}

TEST(Blend, ContributionsAddUpToTheLogitDifference) {
    const Data d = make_data(2000, 23);
    TrainOptions options = blend_options();
    const TrainResult blend = train(d.view(), options);
    const BlendScorer scorer(blend);
    const ModelView& view = scorer.view;
    const float baseline[3] = {0.1f, -0.2f, 0.0f};
    TreeShapScratch scratch;
    std::vector<double> trees_phi, phi(5);
    std::vector<float> score_scratch(size_t(model_scratch_floats(view)));
    double start = 0;  // the blend's logit at the baseline: the network's there, the trees' expected value
    for (int r = 0; r < 50; ++r) {
        const float* x = d.features.data() + size_t(r) * 3;
        blend_contributions(view, x, baseline, 1e-9, 1 << 14, scratch, trees_phi, phi.data());
        EXPECT_NEAR(phi[0] + phi[1] + phi[2], phi[4] - phi[3], 1e-6);
        EXPECT_NEAR(phi[4], logit(score_one(view, x, score_scratch.data())), 1e-4);
        if (r == 0) start = phi[3];
        EXPECT_NEAR(phi[3], start, 1e-12);
    }
}

TEST(Blend, SettingsAreCheckedAndRecorded) {
    const Data d = make_data(500, 24);
    TrainOptions options = blend_options();
    options.network_weight = 1.5;
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    options.network_weight = -0.1;
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    options.network_weight = 0.5;
    options.hidden.clear();
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);
    options = blend_options();
    options.gbdt.max_depth = 99;  // the trees' settings are the blend's too
    EXPECT_EQ(kind_of([&] { train(d.view(), options); }), ErrorKind::InvalidParameter);

    const TrainOptions parsed =
        parse_train_options(R"({"algorithm": "blend", "epochs": 7})", R"({"network_weight": 0.25, "rounds": 40})");
    EXPECT_EQ(parsed.network_weight, 0.25);
    const std::string recorded = train_options_json(parsed);
    for (const char* key : {"\"network_weight\":0.25", "\"rounds\":40", "\"epochs\":7", "\"hidden\":[64,32]"})
        EXPECT_NE(recorded.find(key), std::string::npos) << key << " in " << recorded;
    const TrainOptions again = parse_train_options(R"({"algorithm": "blend"})", "{}");
    EXPECT_EQ(again.network_weight, 0.3);  // the default (0.5 before gbdt's depth-4 trees)
}
