// Drift of a feature between the rows a model was trained on and the rows it scores now: the training
// rows' deciles of every feature are stored with the version (dendrite.feature_baselines); the current
// rows are counted into the same bins and compared by the population stability index.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dendrite::engine {

// One feature's distribution on the training rows. edges are the distinct interior deciles, ascending (or,
// for a feature with at most 10 distinct values, every value but the smallest);
// bin b holds the values v with edges[b-1] <= v < edges[b] (bin 0: v < edges[0]; the last: v >= the last
// edge), so a constant feature has no edge and one bin, a 0/1 feature one edge and two bins.
struct FeatureBaseline {
    std::vector<float> edges;
    std::vector<double> fractions;  // edges.size() + 1, summing to 1
    double mean = 0, stddev = 0;
};

size_t bin_of(const float* edges, size_t n_edges, float value);
inline size_t bin_of(const std::vector<float>& edges, float value) { return bin_of(edges.data(), edges.size(), value); }

// The baseline of every column of a rows x columns row-major matrix, from at most max_rows rows taken
// at an even stride (deciles need no more). Columns are independent: threads (as WorkerPool takes it) share
// them out, with the same numbers as one thread.
std::vector<FeatureBaseline> feature_baselines(const float* rows, size_t n_rows, int columns, size_t max_rows = 50000,
                                               int threads = 1);

// Counts of current values per bin of a baseline, with their sum and mean.
struct BinCounts {
    std::vector<int64_t> counts;
    double sum = 0;
    int64_t rows = 0;
    explicit BinCounts(size_t bins) : counts(bins, 0) {}
    void add(const std::vector<float>& edges, float value) {
        ++counts[bin_of(edges, value)];
        sum += value;
        ++rows;
    }
    double mean() const { return rows ? sum / double(rows) : 0.0; }
};

// PSI = sum over bins of (actual - expected) * ln(actual / expected), each fraction floored at 1e-4 so an
// empty bin counts as rare rather than infinite. Under 0.1: stable; 0.1-0.25: moderate; over 0.25: drifted.
double population_stability(const std::vector<double>& expected, const std::vector<int64_t>& actual_counts);

}  // namespace dendrite::engine
