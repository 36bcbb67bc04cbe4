#include "engine/loss.hpp"

#include <cmath>

namespace dendrite::engine {

double weighted_bce_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                RowVector* gradient) {
    const Eigen::Index n = logits.size();
    if (gradient) gradient->resize(n);
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const double z = logits[i];
        const double y = labels[i];
        const double w = weights ? weights[i] : 1.0;
        // log(1 + exp(-|z|)) + max(z, 0) - y z: stable for any z.
        total += w * (std::log1p(std::exp(-std::fabs(z))) + std::fmax(z, 0.0) - y * z);
        if (gradient) (*gradient)[i] = static_cast<float>(w * (sigmoid(static_cast<float>(z)) - y) / n);
    }
    return n > 0 ? total / n : 0.0;
}

}  // namespace dendrite::engine
