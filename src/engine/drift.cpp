#include "engine/drift.hpp"

#include <algorithm>
#include <cmath>

#include "engine/parallel.hpp"

namespace dendrite::engine {

namespace {
constexpr size_t kDistinctBins = 10;
}

size_t bin_of(const float* edges, size_t n_edges, float value) {
    return size_t(std::upper_bound(edges, edges + n_edges, value) - edges);
}

std::vector<FeatureBaseline> feature_baselines(const float* rows, size_t n_rows, int columns, size_t max_rows,
                                               int threads) {
    std::vector<FeatureBaseline> baselines(size_t(std::max(columns, 0)));
    if (n_rows == 0 || columns <= 0) return baselines;
    const size_t stride = std::max<size_t>(1, (n_rows + max_rows - 1) / std::max<size_t>(1, max_rows));
    const size_t n = (n_rows + stride - 1) / stride;
    // The sample, one column after another (read row by row: a column-wise walk of a wide matrix misses
    // the cache on every value); each column is then sorted in place.
    std::vector<float> sample(n * size_t(columns));
    for (size_t r = 0, i = 0; r < n_rows; r += stride, ++i)
        for (int j = 0; j < columns; ++j) sample[size_t(j) * n + i] = rows[r * size_t(columns) + size_t(j)];
    WorkerPool pool(std::min(threads, columns));
    pool.run(columns, [&](int j) {
        float* begin = sample.data() + size_t(j) * n;
        std::sort(begin, begin + n);
        FeatureBaseline& b = baselines[size_t(j)];
        // A feature of at most kDistinctBins values (a boolean, a one-hot column) gets a bin per value, so
        // that a rare value (2 % of the rows) has a bin of its own; any other, a bin per decile.
        std::vector<float> distinct;
        for (const float* v = begin; v != begin + n; ++v)
            if (distinct.empty() || *v > distinct.back()) {
                distinct.push_back(*v);
                if (distinct.size() > kDistinctBins) break;
            }
        if (distinct.size() <= kDistinctBins) {
            b.edges.assign(distinct.begin() + 1, distinct.end());
        } else {
            for (int decile = 1; decile <= 9; ++decile) {
                const float edge = begin[std::min(n - 1, n * size_t(decile) / 10)];
                // An edge equal to the smallest value would leave bin 0 empty by construction.
                if (edge > begin[0] && (b.edges.empty() || edge > b.edges.back())) b.edges.push_back(edge);
            }
        }
        BinCounts counts(b.edges.size() + 1);
        double squares = 0;
        for (const float* v = begin; v != begin + n; ++v) counts.add(b.edges, *v);
        b.mean = counts.mean();
        for (const float* v = begin; v != begin + n; ++v) squares += (double(*v) - b.mean) * (double(*v) - b.mean);
        b.stddev = std::sqrt(squares / double(n));
        b.fractions.resize(counts.counts.size());
        for (size_t k = 0; k < counts.counts.size(); ++k) b.fractions[k] = double(counts.counts[k]) / double(n);
    });
    return baselines;
}

double population_stability(const std::vector<double>& expected, const std::vector<int64_t>& actual_counts) {
    int64_t total = 0;
    for (int64_t c : actual_counts) total += c;
    if (total == 0 || expected.size() != actual_counts.size()) return 0.0;
    constexpr double kFloor = 1e-4;
    double psi = 0;
    for (size_t k = 0; k < expected.size(); ++k) {
        const double e = std::max(expected[k], kFloor);
        const double a = std::max(double(actual_counts[k]) / double(total), kFloor);
        psi += (a - e) * std::log(a / e);
    }
    return psi;
}

}  // namespace dendrite::engine
