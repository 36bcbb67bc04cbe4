// Training baselines, the population stability index and the stored PR/ROC curves, on hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/drift.hpp"
#include "engine/metrics.hpp"

namespace dendrite::engine {
namespace {

TEST(Drift, BinsAreHalfOpenAtTheirUpperEdge) {
    const std::vector<float> edges{1.0f, 2.0f};
    EXPECT_EQ(bin_of(edges, 0.5f), 0u);
    EXPECT_EQ(bin_of(edges, 1.0f), 1u);  // an edge belongs to the bin above it
    EXPECT_EQ(bin_of(edges, 1.5f), 1u);
    EXPECT_EQ(bin_of(edges, 2.0f), 2u);
    EXPECT_EQ(bin_of(edges, 99.0f), 2u);
    EXPECT_EQ(bin_of({}, 3.0f), 0u);
}

TEST(Drift, ContinuousFeatureGetsDecileBins) {
    std::vector<float> rows(1000);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i);
    const auto baselines = feature_baselines(rows.data(), rows.size(), 1);
    ASSERT_EQ(baselines.size(), 1u);
    const FeatureBaseline& b = baselines[0];
    ASSERT_EQ(b.edges.size(), 9u);
    EXPECT_FLOAT_EQ(b.edges[0], 100.0f);
    EXPECT_FLOAT_EQ(b.edges[8], 900.0f);
    for (double f : b.fractions) EXPECT_DOUBLE_EQ(f, 0.1);
    EXPECT_DOUBLE_EQ(b.mean, 499.5);
    EXPECT_NEAR(b.stddev, std::sqrt((1000.0 * 1000.0 - 1) / 12.0), 1e-9);
}

TEST(Drift, RareBinaryValueKeepsItsOwnBin) {
    // Column 0: 2 % ones (a one-hot column); column 1: constant.
    std::vector<float> rows(2 * 1000, 0.0f);
    for (size_t i = 0; i < 20; ++i) rows[2 * i] = 1.0f;
    for (size_t i = 0; i < 1000; ++i) rows[2 * i + 1] = 7.0f;
    const auto baselines = feature_baselines(rows.data(), 1000, 2);
    ASSERT_EQ(baselines[0].edges, std::vector<float>{1.0f});
    EXPECT_DOUBLE_EQ(baselines[0].fractions[0], 0.98);
    EXPECT_DOUBLE_EQ(baselines[0].fractions[1], 0.02);
    EXPECT_TRUE(baselines[1].edges.empty());
    EXPECT_EQ(baselines[1].fractions, std::vector<double>{1.0});
    EXPECT_DOUBLE_EQ(baselines[1].stddev, 0.0);
}

// Columns are shared out over threads: the same numbers, to the bit, as one thread.
TEST(Drift, ThreadsGiveTheSameBaselines) {
    const size_t n_rows = 120001;
    const int columns = 7;
    std::vector<float> rows(n_rows * columns);
    uint64_t state = 12345;
    for (float& v : rows) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        v = float(int64_t(state >> 33) % 2001 - 1000) / 37.0f;
    }
    for (size_t r = 0; r < n_rows; ++r)
        rows[r * columns + 3] = float((r / 3) % 3);  // few distinct values (the sample takes every third row)
    const auto one = feature_baselines(rows.data(), n_rows, columns, 50000, 1);
    const auto two = feature_baselines(rows.data(), n_rows, columns, 50000, 2);
    ASSERT_EQ(one.size(), size_t(columns));
    for (int j = 0; j < columns; ++j) {
        EXPECT_EQ(one[size_t(j)].edges, two[size_t(j)].edges) << j;
        EXPECT_EQ(one[size_t(j)].fractions, two[size_t(j)].fractions) << j;
        EXPECT_EQ(one[size_t(j)].mean, two[size_t(j)].mean) << j;
        EXPECT_EQ(one[size_t(j)].stddev, two[size_t(j)].stddev) << j;
    }
    EXPECT_EQ(one[3].edges, (std::vector<float>{1.0f, 2.0f}));
}

// The deciles (read from a radix-sorted sample) must be the values std::sort puts at n * decile / 10, ties,
// a heavy lump at the smallest value, negatives and zeros of both signs included.
TEST(Drift, SelectedDecilesAreThoseOfASortedSample) {
    const size_t n_rows = 30011;
    const int columns = 4;
    std::vector<float> rows(n_rows * columns);
    uint64_t state = 99;
    for (size_t r = 0; r < n_rows; ++r) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const int64_t u = int64_t(state >> 33) % 1000;
        rows[r * columns + 0] = float(u) / 7.0f;                // continuous
        rows[r * columns + 1] = float(u % 40);                  // 40 values: many ties at each decile
        rows[r * columns + 2] = u < 350 ? 0.0f : float(u) - 3;  // 35 % at the smallest value
        // Negatives, and zeros of both signs at the fifth decile (an edge is stored as 0, never -0).
        rows[r * columns + 3] = u < 450 ? -float(u) / 3 : u < 560 ? (u % 2 ? -0.0f : 0.0f) : float(u);
    }
    const auto baselines = feature_baselines(rows.data(), n_rows, columns, 50000, 2);
    for (int j = 0; j < columns; ++j) {
        std::vector<float> sorted(n_rows);
        for (size_t r = 0; r < n_rows; ++r) sorted[r] = rows[r * columns + size_t(j)];
        std::sort(sorted.begin(), sorted.end());
        std::vector<float> expected;
        for (int decile = 1; decile <= 9; ++decile) {
            const float edge = sorted[std::min(n_rows - 1, n_rows * size_t(decile) / 10)];
            if (edge > sorted[0] && (expected.empty() || edge > expected.back())) expected.push_back(edge);
        }
        EXPECT_EQ(baselines[size_t(j)].edges, expected) << j;
        size_t below_first_edge = size_t(std::lower_bound(sorted.begin(), sorted.end(), expected[0]) - sorted.begin());
        EXPECT_DOUBLE_EQ(baselines[size_t(j)].fractions[0], double(below_first_edge) / double(n_rows)) << j;
    }
    EXPECT_EQ(baselines[2].edges.size(), 6u);  // the lump takes the first three deciles' edges
    EXPECT_FALSE(std::signbit(baselines[3].edges[4])) << baselines[3].edges[4];
    EXPECT_EQ(baselines[3].edges[4], 0.0f);
}

TEST(Drift, SamplesLargeInputsAtAStride) {
    std::vector<float> rows(200000);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i % 1000);
    const auto b = feature_baselines(rows.data(), rows.size(), 1, 50000)[0];
    EXPECT_EQ(b.edges.size(), 9u);
    double total = 0;
    for (double f : b.fractions) total += f;
    EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(Drift, PopulationStabilityByHand) {
    EXPECT_DOUBLE_EQ(population_stability({0.5, 0.5}, {50, 50}), 0.0);
    // (0.9 - 0.5) ln(0.9 / 0.5) + (0.1 - 0.5) ln(0.1 / 0.5)
    EXPECT_NEAR(population_stability({0.5, 0.5}, {90, 10}), 0.4 * std::log(1.8) - 0.4 * std::log(0.2), 1e-12);
    // An empty bin counts as 1e-4, not as zero (which would make the index infinite).
    EXPECT_NEAR(population_stability({0.5, 0.5}, {100, 0}),
                (1 - 0.5) * std::log(1 / 0.5) + (1e-4 - 0.5) * std::log(1e-4 / 0.5), 1e-12);
    EXPECT_DOUBLE_EQ(population_stability({0.5, 0.5}, {0, 0}), 0.0);  // nothing to compare
}

TEST(Curves, SummaryKeepsEveryMovingPoint) {
    const float scores[] = {0.9f, 0.8f, 0.7f, 0.6f};
    const float labels[] = {1, 0, 1, 0};
    const CurveSummary s = summarize_curve(Curve::of(scores, labels, 4));
    ASSERT_EQ(s.size(), 4u);
    EXPECT_FLOAT_EQ(s.thresholds[0], 0.9f);
    EXPECT_FLOAT_EQ(s.precision[0], 1.0f);
    EXPECT_FLOAT_EQ(s.recall[0], 0.5f);
    EXPECT_FLOAT_EQ(s.false_positive_rate[0], 0.0f);
    EXPECT_FLOAT_EQ(s.precision[2], 2.0f / 3.0f);
    EXPECT_FLOAT_EQ(s.recall[2], 1.0f);
    EXPECT_FLOAT_EQ(s.false_positive_rate[3], 1.0f);
}

TEST(Curves, SummaryThinsToTheResolutionButKeepsTheEnds) {
    const float scores[] = {0.9f, 0.8f, 0.7f, 0.6f};
    const float labels[] = {1, 0, 1, 0};
    const CurveSummary s = summarize_curve(Curve::of(scores, labels, 4), 0.6);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_FLOAT_EQ(s.thresholds[0], 0.9f);
    EXPECT_FLOAT_EQ(s.thresholds[1], 0.6f);
    EXPECT_EQ(summarize_curve(Curve::of(scores, labels, 0)).size(), 0u);
}

}  // namespace
}  // namespace dendrite::engine
