// Piecewise-linear encodings of a network's numeric inputs (Gorishniy, Rubachev and Babenko, "On Embeddings
// for Numerical Features in Tabular Deep Learning", NeurIPS 2022) with target-aware bins. A ReLU network
// ramps where a tree steps: it cannot put a sharp threshold on one input (an amount over 220, a terminal's
// fraud rate above zero) without spending many units on it. Encoded, feature j's value x becomes, beside x
// itself, one value per bin of its training values: 1 for the bins left of x, x's place inside its own bin
// (0..1), 0 for the bins right of it, so that the first dense layer can give each bin its own slope. The
// bins' edges are the thresholds of a small decision tree grown on that feature alone against the label,
// i.e. where the label's rate changes. On the handbook's weeks this is what closed most of the network's gap
// to the trees (docs/benchmarks.md, issue #28, session 34).
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dendrite::engine {

constexpr int kMaxPiecewiseBins = 64;
// The least that a feature's bins must lower the Gini impurity of its rows, as a multiple of (the rows'
// impurity / their count): bins drawn by chance lower it less (0-30 times on the handbook's weeks).
constexpr double kMinimumImpurityDecrease = 50;

// The bin edges e_0 < e_1 < ... < e_b (b + 1 floats, b >= 2 bins) of one feature: e_0 and e_b are its least and
// greatest value among the rows, the inner edges the thresholds of a decision tree of at most max_bins leaves
// grown on the feature alone (best first by the decrease of Gini impurity, as scikit-learn grows a tree with
// max_leaf_nodes; each leaf keeps at least min_leaf rows; a threshold halfway between two neighbouring
// values). Empty when the feature has at most two distinct values (a flag: bins add nothing to it) or the
// splits lower the rows' impurity by less than kMinimumImpurityDecrease / n of it (no more than chance
// would). values and labels: n each; labels 0 or 1. Deterministic: it sorts by value, ties by label. May
// throw std::bad_alloc.
std::vector<float> fit_bin_edges(const float* values, const float* labels, size_t n, int max_bins, size_t min_leaf);

// The leaf size fit_bin_edges is given for n training rows: 0.5 % of them, at least 10.
size_t bin_edges_min_leaf(size_t n) noexcept;

// True when edges holds count >= 3 finite, strictly increasing values (at least two bins): what a version's
// stored edges must be before anything scores with them.
bool valid_bin_edges(const float* edges, int count) noexcept;

// The encoding of x over the bins edges[0..bins]: value t is (x - e_t) / (e_{t+1} - e_t), at most 1 except in
// the last bin and at least 0 except in the first, so that the two outer bins extend linearly beyond the
// training rows' range (as x itself does) rather than saturating.
inline void encode_piecewise(const float* edges, int bins, float x, float* out) noexcept {
    for (int t = 0; t < bins; ++t) {
        float v = (x - edges[t]) / (edges[t + 1] - edges[t]);
        if (t > 0 && v < 0.0f) v = 0.0f;
        if (t + 1 < bins && v > 1.0f) v = 1.0f;
        out[t] = v;
    }
}

}  // namespace dendrite::engine
