// What scores a row: a network (mlp, logistic_regression), a tree ensemble (gbdt) or a blend of the two, as
// plain data that the scoring paths (score, predict, score_query, the guard triggers) use without knowing which.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>

#include "engine/gbdt.hpp"
#include "engine/network.hpp"

namespace dendrite::engine {

struct ModelView {
    // Autoencoder: the network reconstructs its input, and the score is its error's place among the
    // training rows' (anomaly.hpp).
    // Blend: a classifier network and a tree ensemble trained on the same rows; the score is the sigmoid of
    // blend_logit(network_weight, the network's logit, the trees' margin).
    enum class Kind { Network, Trees, Autoencoder, Blend } kind = Kind::Network;
    NetworkView network;
    TreeEnsembleView trees;
    const float* error_quantiles = nullptr;  // Autoencoder
    int error_quantile_count = 0;
    float network_weight = 0.5f;  // Blend: the network's share of the logit, in [0, 1]
};

// A blend's logit: the weighted mean of its members' logits (the one formula training and scoring share).
inline float blend_logit(float network_weight, float network_logit, float trees_margin) noexcept {
    return network_weight * network_logit + (1.0f - network_weight) * trees_margin;
}

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
