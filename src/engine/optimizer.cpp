#include "engine/optimizer.hpp"

#include <cmath>

#include "engine/error.hpp"

namespace dendrite::engine {

std::unique_ptr<Optimizer> Optimizer::create(const OptimizerOptions& options, size_t parameter_count) {
    if (!(options.learning_rate > 0) || !std::isfinite(options.learning_rate))
        fail(ErrorKind::InvalidParameter, "learning_rate must be a positive number");
    if (options.kind == "adam")
        return std::make_unique<Adam>(options.learning_rate, options.beta1, options.beta2, options.epsilon,
                                      parameter_count);
    if (options.kind == "sgd") {
        if (!(options.momentum >= 0 && options.momentum < 1))
            fail(ErrorKind::InvalidParameter, "momentum must be in [0, 1)");
        return std::make_unique<Sgd>(options.learning_rate, options.momentum, parameter_count);
    }
    fail(ErrorKind::InvalidParameter, "unknown optimizer \"" + options.kind + "\"", {}, "Use adam or sgd.");
}

Sgd::Sgd(double learning_rate, double momentum, size_t n)
    : learning_rate_(static_cast<float>(learning_rate)), momentum_(static_cast<float>(momentum)), velocity_(n, 0.0f) {}

void Sgd::step(float* parameters, const float* gradient) {
    const size_t n = velocity_.size();
    for (size_t i = 0; i < n; ++i) {
        velocity_[i] = momentum_ * velocity_[i] + gradient[i];
        parameters[i] -= learning_rate_ * velocity_[i];
    }
}

Adam::Adam(double learning_rate, double beta1, double beta2, double epsilon, size_t n)
    : learning_rate_(learning_rate), beta1_(beta1), beta2_(beta2), epsilon_(epsilon), m_(n, 0.0f), v_(n, 0.0f) {}

void Adam::step(float* parameters, const float* gradient) {
    ++t_;
    const float b1 = static_cast<float>(beta1_), b2 = static_cast<float>(beta2_);
    const float step_size = static_cast<float>(learning_rate_ / (1.0 - std::pow(beta1_, double(t_))));
    const float v_correction = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2_, double(t_))));
    const float epsilon = static_cast<float>(epsilon_);
    const size_t n = m_.size();
    for (size_t i = 0; i < n; ++i) {
        const float g = gradient[i];
        m_[i] = b1 * m_[i] + (1.0f - b1) * g;
        v_[i] = b2 * v_[i] + (1.0f - b2) * g * g;
        // p -= lr * m_hat / (sqrt(v_hat) + eps)
        parameters[i] -= step_size * m_[i] / (std::sqrt(v_[i]) * v_correction + epsilon);
    }
}

}  // namespace dendrite::engine
