// Losses on logits with per-example weights (class weights): binary cross-entropy and focal loss.
#pragma once
#include "engine/engine_only.hpp"

#include <string>

#include "engine/network.hpp"

namespace dendrite::engine {

struct LossOptions {
    std::string kind = "bce";  // bce | focal
    double focal_gamma = 2.0;  // focal: (1 - p_t)^gamma down-weights the easy examples; 0 = bce

    void validate() const;  // throws InvalidParameter
};

// loss = sum_i w_i * bce(sigmoid(z_i), y_i) / divisor (divisor 0: n). When gradient is not null it receives
// d(loss)/d(z). The divisor lets threads that each take a slice of a batch produce the batch's gradient.
double weighted_bce_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                RowVector* gradient, double divisor = 0);

// Focal loss (Lin et al.): sum_i -w_i (1 - p_t)^gamma log(p_t) / divisor, p_t = p for y = 1, 1 - p for y = 0.
double weighted_focal_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                  double gamma, RowVector* gradient, double divisor = 0);

double loss_with_logits(const LossOptions& options, const Eigen::Ref<const RowVector>& logits, const float* labels,
                        const float* weights, RowVector* gradient, double divisor = 0);

}  // namespace dendrite::engine
