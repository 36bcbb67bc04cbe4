#include "engine/piecewise_encoding.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dendrite::engine {

namespace {

// An unsigned key that orders as the float does (finite values; -0 and 0 are distinct, adjacent keys).
uint32_t order_key(float value) noexcept {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

float from_order_key(uint32_t key) noexcept {
    const uint32_t bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Gini impurity of a node times its row count: 2 p (1 - p) n.
double weighted_gini(size_t positives, size_t rows) {
    if (rows == 0) return 0;
    return 2.0 * double(positives) * double(rows - positives) / double(rows);
}

}  // namespace

size_t bin_edges_min_leaf(size_t n) noexcept { return std::max<size_t>(10, n / 200); }

std::vector<float> fit_bin_edges(const float* values, const float* labels, size_t n, int max_bins, size_t min_leaf) {
    if (n < 2 || max_bins < 2) return {};
    // Sorted by value, then label: the float's order key above the label bit.
    std::vector<uint64_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = (uint64_t(order_key(values[i])) << 1) | uint64_t(labels[i] > 0.5f);
    std::sort(keys.begin(), keys.end());
    auto value_at = [&](size_t k) { return from_order_key(uint32_t(keys[k] >> 1)); };
    // positives[k]: the positive rows among the first k.
    std::vector<uint32_t> positives(n + 1, 0);
    size_t distinct = 1;
    for (size_t k = 0; k < n; ++k) {
        positives[k + 1] = positives[k] + uint32_t(keys[k] & 1u);
        if (k > 0 && (keys[k] >> 1) != (keys[k - 1] >> 1)) ++distinct;
    }
    if (distinct <= 2) return {};
    min_leaf = std::max<size_t>(1, min_leaf);

    // A leaf: the sorted rows [begin, end), and its best split (left = [begin, split)) with its gain.
    struct Leaf {
        size_t begin, end, split = 0;
        double gain = 0;
    };
    auto best_split = [&](Leaf& leaf) {
        leaf.split = 0;
        leaf.gain = 0;
        const size_t rows = leaf.end - leaf.begin;
        if (rows < 2 * min_leaf) return;
        const size_t leaf_positives = positives[leaf.end] - positives[leaf.begin];
        const double parent = weighted_gini(leaf_positives, rows);
        if (parent <= 0) return;  // pure: no split lowers it
        for (size_t k = leaf.begin + min_leaf; k + min_leaf <= leaf.end; ++k) {
            if ((keys[k] >> 1) == (keys[k - 1] >> 1)) continue;  // a threshold separates distinct values only
            const size_t left_positives = positives[k] - positives[leaf.begin];
            const double gain = parent - weighted_gini(left_positives, k - leaf.begin) -
                                weighted_gini(leaf_positives - left_positives, leaf.end - k);
            if (gain > leaf.gain * (1 + 1e-12) + 1e-12) {
                leaf.gain = gain;
                leaf.split = k;
            }
        }
    };
    std::vector<Leaf> leaves{Leaf{0, n}};
    best_split(leaves[0]);
    std::vector<float> edges{value_at(0), value_at(n - 1)};
    double decrease = 0;  // the splits' total gain: the root's weighted impurity minus the leaves'
    while (int(leaves.size()) < max_bins) {
        size_t best = leaves.size();
        for (size_t l = 0; l < leaves.size(); ++l)
            if (leaves[l].split && (best == leaves.size() || leaves[l].gain > leaves[best].gain)) best = l;
        if (best == leaves.size()) break;
        const Leaf parent = leaves[best];
        decrease += parent.gain;
        edges.push_back(float(0.5 * (double(value_at(parent.split - 1)) + double(value_at(parent.split)))));
        leaves[best] = Leaf{parent.begin, parent.split};
        leaves.push_back(Leaf{parent.split, parent.end});
        best_split(leaves[best]);
        best_split(leaves.back());
    }
    // Bins that separate the label no better than chance are noise the network would fit (and cost every score):
    // on the handbook's weeks, shuffled labels lower the impurity by 0-30 / n of itself, a column that carries
    // signal by 180 / n (a customer's 30-day mean amount) to 14,000 / n (a terminal's 7-day fraud rate).
    const double root = weighted_gini(positives[n], n);
    if (!(decrease >= kMinimumImpurityDecrease * root / double(n))) return {};
    std::sort(edges.begin(), edges.end());
    // A halfway threshold between two neighbouring floats may round onto one of them: keep the edges strictly
    // increasing.
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    if (!valid_bin_edges(edges.data(), int(edges.size()))) return {};
    return edges;
}

bool valid_bin_edges(const float* edges, int count) noexcept {
    if (count < 3 || count > kMaxPiecewiseBins + 1) return false;
    for (int i = 0; i < count; ++i) {
        if (!std::isfinite(edges[i])) return false;
        if (i > 0 && !(edges[i] > edges[i - 1])) return false;
        // The encoding divides by each bin's width: it must not overflow to infinity.
        if (i > 0 && !std::isfinite(edges[i] - edges[i - 1])) return false;
    }
    return true;
}

}  // namespace dendrite::engine
