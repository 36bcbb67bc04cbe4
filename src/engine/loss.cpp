#include "engine/loss.hpp"

#include <cmath>

#include "engine/error.hpp"

namespace dendrite::engine {

void LossOptions::validate() const {
    if (kind != "bce" && kind != "focal")
        fail(ErrorKind::InvalidParameter, "unknown loss \"" + kind + "\"", {}, "Use bce or focal.");
    if (!(focal_gamma >= 0 && focal_gamma <= 10))
        fail(ErrorKind::InvalidParameter, "focal_gamma must be between 0 and 10");
}

double weighted_bce_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                RowVector* gradient, double divisor) {
    const Eigen::Index n = logits.size();
    const double d = divisor > 0 ? divisor : double(n);
    if (gradient) gradient->resize(n);
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const double z = logits[i];
        const double y = labels[i];
        const double w = weights ? weights[i] : 1.0;
        // log(1 + exp(-|z|)) + max(z, 0) - y z: stable for any z.
        total += w * (std::log1p(std::exp(-std::fabs(z))) + std::fmax(z, 0.0) - y * z);
        if (gradient) (*gradient)[i] = static_cast<float>(w * (sigmoid(static_cast<float>(z)) - y) / d);
    }
    return n > 0 ? total / d : 0.0;
}

double weighted_focal_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                  double gamma, RowVector* gradient, double divisor) {
    const Eigen::Index n = logits.size();
    const double d = divisor > 0 ? divisor : double(n);
    if (gradient) gradient->resize(n);
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const double s = labels[i] > 0.5f ? 1.0 : -1.0;  // p_t = sigmoid(s z)
        const double sz = s * double(logits[i]);
        const double w = weights ? weights[i] : 1.0;
        const double log_pt = -(std::log1p(std::exp(-std::fabs(sz))) + std::fmax(-sz, 0.0));  // log sigmoid(sz)
        const double pt = std::exp(log_pt);
        const double one_minus = 1.0 - pt;
        const double modulator = gamma == 0 ? 1.0 : std::pow(one_minus, gamma);
        total += -w * modulator * log_pt;
        // d/dz = s (gamma p_t (1 - p_t)^gamma log p_t - (1 - p_t)^(gamma + 1))
        if (gradient)
            (*gradient)[i] = static_cast<float>(w * s * (gamma * pt * modulator * log_pt - modulator * one_minus) / d);
    }
    return n > 0 ? total / d : 0.0;
}

double loss_with_logits(const LossOptions& options, const Eigen::Ref<const RowVector>& logits, const float* labels,
                        const float* weights, RowVector* gradient, double divisor) {
    if (options.kind == "focal")
        return weighted_focal_with_logits(logits, labels, weights, options.focal_gamma, gradient, divisor);
    return weighted_bce_with_logits(logits, labels, weights, gradient, divisor);
}

}  // namespace dendrite::engine
