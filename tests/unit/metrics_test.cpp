// Fraud metrics against small cases computed by hand, ties included.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/error.hpp"
#include "engine/metrics.hpp"

using namespace dendrite::engine;

namespace {
// Positives score 0.9, 0.8 and 0.1; negatives 0.8 (tied with a positive) and 0.3.
const float kScores[] = {0.9f, 0.8f, 0.8f, 0.3f, 0.1f};
const float kLabels[] = {1, 0, 1, 0, 1};
}  // namespace

TEST(Metrics, AveragePrecisionWithTies) {
    // Thresholds 0.9: R=1/3 P=1; 0.8: R=2/3 P=2/3; 0.3: R=2/3; 0.1: R=1 P=3/5.
    // AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 34/45.
    EXPECT_NEAR(average_precision(kScores, kLabels, 5), 34.0 / 45.0, 1e-12);
}

TEST(Metrics, RocAucWithTies) {
    // 6 positive/negative pairs: 0.9 beats both, 0.8 beats 0.3 and ties 0.8 (1/2), 0.1 beats none -> 3.5/6.
    EXPECT_NEAR(roc_auc(kScores, kLabels, 5), 3.5 / 6.0, 1e-12);
}

TEST(Metrics, NanScoreIsADataError) {
    // A NaN score (a network whose arithmetic overflowed) would break the sort and hang the grouping of
    // equal thresholds: it is refused, whichever metric asks.
    const float scores[] = {0.9f, std::nanf(""), 0.3f};
    const float labels[] = {1, 0, 1};
    for (auto metric : {+[](const float*s, const float*l) { return average_precision(s, l, 3); },
                        +[](const float*s, const float*l) { return roc_auc(s, l, 3); }}) {
        try {
            metric(scores, labels);
            FAIL() << "a NaN score was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Data);
        }
    }
    EXPECT_THROW(evaluate(scores, labels, 3), Error);
}

TEST(Metrics, MaxF1Threshold) {
    // F1 at 0.9 = 0.5, at 0.8 = 2/3, at 0.3 = 4/7, at 0.1 = 0.75.
    EXPECT_FLOAT_EQ(float(max_f1_threshold(kScores, kLabels, 5)), 0.1f);
    const Metrics m = evaluate(kScores, kLabels, 5);
    EXPECT_EQ(m.confusion.tp, 3);
    EXPECT_EQ(m.confusion.fp, 2);
    EXPECT_EQ(m.confusion.tn, 0);
    EXPECT_EQ(m.confusion.fn, 0);
    EXPECT_NEAR(m.confusion.f1(), 0.75, 1e-12);
}

TEST(Metrics, ConfusionAtThreshold) {
    const Confusion c = confusion_at(kScores, kLabels, 5, 0.8);
    EXPECT_EQ(c.tp, 2);
    EXPECT_EQ(c.fp, 1);
    EXPECT_EQ(c.tn, 1);
    EXPECT_EQ(c.fn, 1);
    EXPECT_NEAR(c.precision(), 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(c.recall(), 2.0 / 3.0, 1e-12);
}

TEST(Metrics, PerfectAndInvertedRankings) {
    const float scores[] = {0.1f, 0.2f, 0.7f, 0.9f};
    const float labels[] = {0, 0, 1, 1};
    const float inverted[] = {1, 1, 0, 0};
    EXPECT_DOUBLE_EQ(roc_auc(scores, labels, 4), 1.0);
    EXPECT_DOUBLE_EQ(average_precision(scores, labels, 4), 1.0);
    EXPECT_DOUBLE_EQ(roc_auc(scores, inverted, 4), 0.0);
    EXPECT_DOUBLE_EQ(average_precision(scores, inverted, 4), 0.5 * 1.0 / 3.0 + 0.5 * 0.5);
}

TEST(Metrics, AllTiedScores) {
    const float scores[] = {0.5f, 0.5f, 0.5f, 0.5f};
    const float labels[] = {1, 0, 0, 0};
    EXPECT_DOUBLE_EQ(roc_auc(scores, labels, 4), 0.5);
    EXPECT_DOUBLE_EQ(average_precision(scores, labels, 4), 0.25);
}

TEST(Metrics, NoPositives) {
    const float scores[] = {0.5f, 0.2f};
    const float labels[] = {0, 0};
    EXPECT_DOUBLE_EQ(average_precision(scores, labels, 2), 0.0);
    EXPECT_DOUBLE_EQ(roc_auc(scores, labels, 2), 0.5);
    EXPECT_DOUBLE_EQ(confusion_at(scores, labels, 2, 0.5).precision(), 0.0);
}

// Ten scores, highest first: labels 1 1 0 1 0 0 1 0 0 0 (4 positives).
namespace {
const float kTen[] = {0.95f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f};
const float kTenLabels[] = {1, 1, 0, 1, 0, 0, 1, 0, 0, 0};
}  // namespace

TEST(Metrics, ThresholdForATargetPrecision) {
    // Precision at each cut: 1, 1, 2/3, 3/4, 3/5, 1/2, 4/7, ... The lowest threshold with precision >= 0.75
    // is 0.7 (3 of 4 positives found).
    const Metrics m = evaluate(kTen, kTenLabels, 10, ThresholdRule::parse("precision:0.75"));
    EXPECT_FLOAT_EQ(float(m.threshold), 0.7f);
    EXPECT_TRUE(m.threshold_met);
    EXPECT_EQ(m.confusion.tp, 3);
    EXPECT_EQ(m.confusion.fp, 1);
    // Unreachable precision: the most precise threshold, flagged as not met.
    const float labels[] = {0, 1, 0, 1, 0, 0, 1, 0, 0, 0};
    const Metrics unmet = evaluate(kTen, labels, 10, ThresholdRule::parse("precision:0.9"));
    EXPECT_FALSE(unmet.threshold_met);
    EXPECT_FLOAT_EQ(float(unmet.threshold), 0.7f);  // precision 1/2 at 0.9 and 2/4 at 0.7: the one that finds more
}

TEST(Metrics, ThresholdForATargetRecall) {
    // Recall 0.75 needs 3 positives: first reached at 0.7.
    EXPECT_FLOAT_EQ(float(evaluate(kTen, kTenLabels, 10, ThresholdRule::parse("recall:0.75")).threshold), 0.7f);
    EXPECT_FLOAT_EQ(float(evaluate(kTen, kTenLabels, 10, ThresholdRule::parse("recall:1")).threshold), 0.4f);
}

TEST(Metrics, FixedThresholdAndMaxF1) {
    EXPECT_DOUBLE_EQ(evaluate(kTen, kTenLabels, 10, ThresholdRule::parse("0.55")).threshold, 0.55);
    // F1 per cut: 0.4, 0.667, 0.571, 0.75, 0.667, 0.6, 0.727, ...: the best is at 0.7.
    EXPECT_FLOAT_EQ(float(evaluate(kTen, kTenLabels, 10).threshold), 0.7f);
}

TEST(Metrics, RecallAtPrecision) {
    EXPECT_DOUBLE_EQ(recall_at_precision(kTen, kTenLabels, 10, 0.9), 0.5);  // the top two
    EXPECT_DOUBLE_EQ(recall_at_precision(kTen, kTenLabels, 10, 0.75), 0.75);
    EXPECT_DOUBLE_EQ(evaluate(kTen, kTenLabels, 10).recall_at_precision_90, 0.5);
}

TEST(Metrics, ThresholdRuleParsing) {
    EXPECT_EQ(ThresholdRule::parse("f1").kind, ThresholdRule::Kind::MaxF1);
    EXPECT_EQ(ThresholdRule::parse("precision:0.9").text(), "precision:0.9");
    EXPECT_EQ(ThresholdRule::parse("recall:0.8").kind, ThresholdRule::Kind::Recall);
    EXPECT_EQ(ThresholdRule::parse("0.3").kind, ThresholdRule::Kind::Fixed);
    for (const char* bad : {"", "precision", "precision:", "precision:1.5", "precision:0", "accuracy:0.9", "2", "nan",
                            "recall:abc", "0.5x"})
        EXPECT_THROW(ThresholdRule::parse(bad), Error) << bad;
}

// Each class's scores per bin of [0, 1]: a score on an edge goes to the bin above it, 1 to the last bin, and a
// NaN or out-of-range score nowhere.
TEST(Metrics, ScoreHistogramPerClass) {
    const std::vector<float> scores{0.0f, 0.049f, 0.05f, 0.5f, 0.999f, 1.0f, NAN, 1.5f, 0.3f};
    const std::vector<float> labels{0, 0, 1, 1, 1, 0, 1, 1, 0};
    const ScoreHistogram h = score_histogram(scores.data(), labels.data(), scores.size(), 20);
    ASSERT_EQ(h.positives.size(), 20u);
    ASSERT_EQ(h.negatives.size(), 20u);
    EXPECT_EQ(h.negatives[0], 2);   // 0 and 0.049
    EXPECT_EQ(h.positives[1], 1);   // 0.05
    EXPECT_EQ(h.positives[10], 1);  // 0.5
    EXPECT_EQ(h.positives[19], 1);  // 0.999
    EXPECT_EQ(h.negatives[19], 1);  // 1
    EXPECT_EQ(h.negatives[6], 1);   // 0.3
    int64_t total = 0;
    for (int b = 0; b < 20; ++b) total += h.positives[size_t(b)] + h.negatives[size_t(b)];
    EXPECT_EQ(total, 7);  // NaN and 1.5 counted nowhere
}
