#include "engine/drift.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "engine/parallel.hpp"

namespace dendrite::engine {

namespace {
constexpr size_t kDistinctBins = 10;

// A float's bits as a key whose unsigned order is the float's order (negatives reversed below positives;
// -0 just below +0), and back.
uint32_t order_key(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits & 0x80000000u ? ~bits : bits | 0x80000000u;
}

float from_order_key(uint32_t key) {
    const uint32_t bits = key & 0x80000000u ? key & 0x7fffffffu : ~key;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Sorts [begin, end) (finite floats) ascending: an LSD radix sort of the order keys, three passes of 11 bits.
// The deciles are then read by index. Selecting each with nth_element took twice as long, in branches a
// random sample mispredicts (half of a 300k x 30 training's baselines, issue #26).
void sort_sample(float* begin, float* end, std::vector<uint32_t>& keys, std::vector<uint32_t>& scratch) {
    const size_t n = size_t(end - begin);
    keys.resize(n);
    scratch.resize(n);
    for (size_t i = 0; i < n; ++i) keys[i] = order_key(begin[i]);
    constexpr int kBits = 11;
    constexpr uint32_t kMask = (1u << kBits) - 1;
    for (int shift = 0; shift < 32; shift += kBits) {
        size_t start[kMask + 1] = {};
        for (uint32_t key : keys) ++start[(key >> shift) & kMask];
        size_t at = 0;
        for (size_t& s : start) at += std::exchange(s, at);
        for (uint32_t key : keys) scratch[start[(key >> shift) & kMask]++] = key;
        keys.swap(scratch);
    }
    for (size_t i = 0; i < n; ++i) begin[i] = from_order_key(keys[i]);
}
}  // namespace

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
    // the cache on every value).
    std::vector<float> sample(n * size_t(columns));
    for (size_t r = 0, i = 0; r < n_rows; r += stride, ++i)
        for (int j = 0; j < columns; ++j) sample[size_t(j) * n + i] = rows[r * size_t(columns) + size_t(j)];
    WorkerPool pool(std::min(threads, columns));
    pool.run(columns, [&](int j) {
        std::vector<uint32_t> keys, scratch;
        float* begin = sample.data() + size_t(j) * n;
        float* end = begin + n;
        FeatureBaseline& b = baselines[size_t(j)];
        // The mean and spread in sample (row) order, before the values are moved.
        double sum = 0;
        for (const float* v = begin; v != end; ++v) sum += *v;
        b.mean = sum / double(n);
        double squares = 0;
        for (const float* v = begin; v != end; ++v) squares += (double(*v) - b.mean) * (double(*v) - b.mean);
        b.stddev = std::sqrt(squares / double(n));
        // A feature of at most kDistinctBins values (a boolean, a one-hot column) gets a bin per value, so
        // that a rare value (2 % of the rows) has a bin of its own; any other, a bin per decile.
        std::vector<float> distinct;  // sorted; a continuous column stops it after kDistinctBins + 1 values
        for (const float* v = begin; v != end && distinct.size() <= kDistinctBins; ++v) {
            const auto at = std::lower_bound(distinct.begin(), distinct.end(), *v);
            if (at == distinct.end() || *at != *v) distinct.insert(at, *v);
        }
        if (distinct.size() <= kDistinctBins) {
            b.edges.assign(distinct.begin() + 1, distinct.end());
        } else {
            // The deciles: the values the sorted sample holds at n * decile / 10.
            sort_sample(begin, end, keys, scratch);
            for (int decile = 1; decile <= 9; ++decile) {
                const float edge = begin[std::min(n - 1, n * size_t(decile) / 10)] + 0.0f;  // -0 as 0
                // An edge equal to the smallest value would leave bin 0 empty by construction.
                if (edge > *begin && (b.edges.empty() || edge > b.edges.back())) b.edges.push_back(edge);
            }
        }
        BinCounts counts(b.edges.size() + 1);
        for (const float* v = begin; v != end; ++v) counts.add(b.edges, *v);
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
