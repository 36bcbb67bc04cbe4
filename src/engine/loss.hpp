// Binary cross-entropy on logits with per-example weights (class weights).
#pragma once
#include "engine/engine_only.hpp"

#include "engine/network.hpp"

namespace dendrite::engine {

// loss = sum_i w_i * bce(sigmoid(z_i), y_i) / n. When gradient is not null it receives d(loss)/d(z).
double weighted_bce_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                RowVector* gradient);

}  // namespace dendrite::engine
