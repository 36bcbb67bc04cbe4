#include "engine/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "engine/elementwise.hpp"
#include "engine/error.hpp"

namespace dendrite::engine {

void OptimizerOptions::validate() const {
    if (!(learning_rate > 0) || !std::isfinite(learning_rate))
        fail(ErrorKind::InvalidParameter, "learning_rate must be a positive number");
    if (kind != "sgd" && kind != "adam" && kind != "adamw" && kind != "rmsprop")
        fail(ErrorKind::InvalidParameter, "unknown optimizer \"" + kind + "\"", {}, "Use sgd, adam, adamw or rmsprop.");
    if (!(momentum >= 0 && momentum < 1)) fail(ErrorKind::InvalidParameter, "momentum must be in [0, 1)");
    if (nesterov && (kind != "sgd" || momentum == 0))
        fail(ErrorKind::InvalidParameter, "nesterov needs optimizer sgd with a momentum above 0");
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        fail(ErrorKind::InvalidParameter, "beta1 and beta2 must be in [0, 1)");
    if (!(alpha >= 0 && alpha < 1)) fail(ErrorKind::InvalidParameter, "alpha must be in [0, 1)");
    if (!(epsilon > 0) || !std::isfinite(epsilon))
        fail(ErrorKind::InvalidParameter, "epsilon must be a positive number");
    if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
        fail(ErrorKind::InvalidParameter, "weight_decay must be a non-negative number");
}

std::unique_ptr<Optimizer> Optimizer::create(const OptimizerOptions& options, size_t parameter_count) {
    options.validate();
    std::unique_ptr<Optimizer> optimizer;
    if (options.kind == "sgd")
        optimizer = std::make_unique<Sgd>(options.learning_rate, options.momentum, parameter_count, options.nesterov,
                                          options.weight_decay);
    else if (options.kind == "rmsprop")
        optimizer = std::make_unique<RmsProp>(options.learning_rate, options.alpha, options.epsilon, options.momentum,
                                              parameter_count, options.weight_decay);
    else
        optimizer = std::make_unique<Adam>(options.learning_rate, options.beta1, options.beta2, options.epsilon,
                                           parameter_count, options.weight_decay, options.kind == "adamw");
    return optimizer;
}

Sgd::Sgd(double learning_rate, double momentum, size_t n, bool nesterov, double weight_decay)
    : momentum_(static_cast<float>(momentum)),
      weight_decay_(static_cast<float>(weight_decay)),
      nesterov_(nesterov),
      velocity_(n, 0.0f) {
    base_learning_rate_ = learning_rate;
}

void Sgd::step(float* parameters, const float* gradient, double learning_rate) {
    const float lr = static_cast<float>(learning_rate);
    const size_t n = velocity_.size();
    for (size_t i = 0; i < n; ++i)
        elementwise::sgd_update(parameters[i], gradient[i], velocity_[i], lr, momentum_, weight_decay_, nesterov_);
}

Adam::Adam(double learning_rate, double beta1, double beta2, double epsilon, size_t n, double weight_decay,
           bool decoupled)
    : beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      weight_decay_(weight_decay),
      decoupled_(decoupled),
      m_(n, 0.0f),
      v_(n, 0.0f) {
    base_learning_rate_ = learning_rate;
}

void Adam::step(float* parameters, const float* gradient, double learning_rate) {
    ++t_;
    const elementwise::AdamScalars scalars =
        elementwise::adam_scalars(learning_rate, beta1_, beta2_, epsilon_, weight_decay_, decoupled_, t_);
    const size_t n = m_.size();
    for (size_t i = 0; i < n; ++i) elementwise::adam_update(parameters[i], gradient[i], m_[i], v_[i], scalars);
}

RmsProp::RmsProp(double learning_rate, double alpha, double epsilon, double momentum, size_t n, double weight_decay)
    : alpha_(static_cast<float>(alpha)),
      epsilon_(static_cast<float>(epsilon)),
      momentum_(static_cast<float>(momentum)),
      weight_decay_(static_cast<float>(weight_decay)),
      square_average_(n, 0.0f),
      buffer_(momentum > 0 ? n : 0, 0.0f) {
    base_learning_rate_ = learning_rate;
}

void RmsProp::step(float* parameters, const float* gradient, double learning_rate) {
    const float lr = static_cast<float>(learning_rate);
    const size_t n = square_average_.size();
    for (size_t i = 0; i < n; ++i)
        elementwise::rmsprop_update(parameters[i], gradient[i], square_average_[i],
                                    momentum_ > 0 ? &buffer_[i] : nullptr, lr, alpha_, epsilon_, momentum_,
                                    weight_decay_);
}

void Schedule::validate() const {
    if (kind != "constant" && kind != "step" && kind != "cosine")
        fail(ErrorKind::InvalidParameter, "unknown learning-rate schedule \"" + kind + "\"", {},
             "Use constant, step or cosine.");
    if (!(gamma > 0 && gamma <= 1)) fail(ErrorKind::InvalidParameter, "the step schedule's gamma must be in (0, 1]");
    if (step_epochs < 1) fail(ErrorKind::InvalidParameter, "the step schedule's step_epochs must be at least 1");
    if (!(warmup_epochs >= 0) || !std::isfinite(warmup_epochs))
        fail(ErrorKind::InvalidParameter, "warmup_epochs must be a non-negative number");
}

double Schedule::learning_rate(double base, long step, long steps_per_epoch, long total_steps) const {
    const long warmup_steps = long(std::ceil(warmup_epochs * double(steps_per_epoch)));
    if (step < warmup_steps) return base * double(step + 1) / double(warmup_steps);
    if (kind == "step") return base * std::pow(gamma, double(step / steps_per_epoch / step_epochs));
    if (kind == "cosine") {
        const double span = double(std::max(1L, total_steps - warmup_steps));
        const double t = double(step - warmup_steps) / span;
        return base * 0.5 * (1.0 + std::cos(M_PI * t));
    }
    return base;
}

double clip_gradient_norm(float* gradient, size_t n, double max_norm) {
    double squares = 0;
    for (size_t i = 0; i < n; ++i) squares += double(gradient[i]) * gradient[i];
    const double norm = std::sqrt(squares);
    if (max_norm > 0 && norm > max_norm) {
        const float scale = static_cast<float>(max_norm / (norm + 1e-12));
        for (size_t i = 0; i < n; ++i) gradient[i] *= scale;
    }
    return norm;
}

}  // namespace dendrite::engine
