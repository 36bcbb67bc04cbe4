// What scores a row: a network (mlp, logistic_regression) or a tree ensemble (gbdt), as plain data that the
// scoring paths (score, predict, score_query, the guard triggers) use without knowing which.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>

#include "engine/gbdt.hpp"
#include "engine/network.hpp"

namespace dendrite::engine {

struct ModelView {
    // Autoencoder: the network reconstructs its input, and the score is its error's place among the
    // training rows' (anomaly.hpp).
    enum class Kind { Network, Trees, Autoencoder } kind = Kind::Network;
    NetworkView network;
    TreeEnsembleView trees;
    const float* error_quantiles = nullptr;  // Autoencoder
    int error_quantile_count = 0;
};

// One row's score; scratch holds model_scratch_floats(view) floats.
float score_one(const ModelView& view, const float* x, float* scratch) noexcept;
int model_scratch_floats(const ModelView& view) noexcept;

// n rows (x: one row's features after another); scratch holds model_batch_scratch_floats(view, n) floats.
// May throw std::bad_alloc (networks: Eigen's blocking buffers).
void score_batch(const ModelView& view, const float* x, int n, float* scores, float* scratch);
size_t model_batch_scratch_floats(const ModelView& view, int n) noexcept;

// Microseconds per row of score_one (what a trigger pays per row), timed on up to 20,000 rows of data
// (rows x inputs, row-major).
double inline_scoring_microseconds(const ModelView& view, const float* data, size_t rows, int inputs);

}  // namespace dendrite::engine
