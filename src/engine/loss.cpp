#include "engine/loss.hpp"

#include <cmath>

#include "engine/elementwise.hpp"
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
        const elementwise::LossTerm term = elementwise::bce_term(logits[i], labels[i], weights ? weights[i] : 1.0f, d);
        total += term.loss;
        if (gradient) (*gradient)[i] = term.gradient;
    }
    return total;
}

double weighted_focal_with_logits(const Eigen::Ref<const RowVector>& logits, const float* labels, const float* weights,
                                  double gamma, RowVector* gradient, double divisor) {
    const Eigen::Index n = logits.size();
    const double d = divisor > 0 ? divisor : double(n);
    if (gradient) gradient->resize(n);
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const elementwise::LossTerm term =
            elementwise::focal_term(logits[i], labels[i], weights ? weights[i] : 1.0f, gamma, d);
        total += term.loss;
        if (gradient) (*gradient)[i] = term.gradient;
    }
    return total;
}

double loss_with_logits(const LossOptions& options, const Eigen::Ref<const RowVector>& logits, const float* labels,
                        const float* weights, RowVector* gradient, double divisor) {
    if (options.kind == "focal")
        return weighted_focal_with_logits(logits, labels, weights, options.focal_gamma, gradient, divisor);
    return weighted_bce_with_logits(logits, labels, weights, gradient, divisor);
}

}  // namespace dendrite::engine
