// Per-element formulas that the CPU engine and the CUDA kernels share: one definition of each loss term,
// optimizer update and activation, compiled by g++ for the CPU and by nvcc for the device, so that the two
// backends cannot drift apart. Plain C maths functions only (no Eigen, no std:: overloads nvcc lacks).
#pragma once

#include <math.h>

#include "engine/device_abi.h"

#ifdef __CUDACC__
#define DENDRITE_HD __host__ __device__
#else
#define DENDRITE_HD
#endif

namespace dendrite::elementwise {

// Activations by the device ABI's DENDRITE_ACT_* numbers (engine::Activation's values, asserted in
// network.cpp).
constexpr float kLeakySlope = 0.01f;  // torch's default negative slope

DENDRITE_HD inline float sigmoid(float z) {
    // Written so that neither branch overflows.
    if (z >= 0) return 1.0f / (1.0f + expf(-z));
    const float e = expf(z);
    return e / (1.0f + e);
}

DENDRITE_HD inline float activate(int activation, float a) {
    switch (activation) {
        case DENDRITE_ACT_RELU:
            return a > 0.0f ? a : 0.0f;
        case DENDRITE_ACT_LEAKY_RELU:
            return a > 0.0f ? a : kLeakySlope * a;
        case DENDRITE_ACT_GELU:
            return 0.5f * a * (1.0f + erff(a * 0.70710678118654752f));
        case DENDRITE_ACT_TANH:
            return tanhf(a);
        case DENDRITE_ACT_SIGMOID:
            return 1.0f / (1.0f + expf(-a));
        default:
            return a;
    }
}

// d activation(a) / da, given out = activation(a).
DENDRITE_HD inline float activation_derivative(int activation, float a, float out) {
    switch (activation) {
        case DENDRITE_ACT_RELU:
            return a > 0.0f ? 1.0f : 0.0f;
        case DENDRITE_ACT_LEAKY_RELU:
            return a > 0.0f ? 1.0f : kLeakySlope;
        case DENDRITE_ACT_GELU:
            return 0.5f * (1.0f + erff(a * 0.70710678118654752f)) + a * 0.39894228040143268f * expf(-0.5f * a * a);
        case DENDRITE_ACT_TANH:
            return 1.0f - out * out;
        case DENDRITE_ACT_SIGMOID:
            return out * (1.0f - out);
        default:
            return 1.0f;
    }
}

// One example's weighted loss (divided by divisor) and d(loss)/d(logit).
struct LossTerm {
    double loss;
    float gradient;
};

// Binary cross-entropy on a logit: log(1 + exp(-|z|)) + max(z, 0) - y z, stable for any z.
DENDRITE_HD inline LossTerm bce_term(float logit, float label, float weight, double divisor) {
    const double z = logit, y = label, w = weight;
    LossTerm term;
    term.loss = w * (log1p(exp(-fabs(z))) + fmax(z, 0.0) - y * z) / divisor;
    term.gradient = static_cast<float>(w * (sigmoid(logit) - y) / divisor);
    return term;
}

// Focal loss (Lin et al.): -w (1 - p_t)^gamma log(p_t), p_t = sigmoid(s z), s = +1 for y = 1, -1 for y = 0;
// d/dz = s (gamma p_t (1 - p_t)^gamma log p_t - (1 - p_t)^(gamma + 1)).
DENDRITE_HD inline LossTerm focal_term(float logit, float label, float weight, double gamma, double divisor) {
    const double s = label > 0.5f ? 1.0 : -1.0;
    const double sz = s * double(logit), w = weight;
    const double log_pt = -(log1p(exp(-fabs(sz))) + fmax(-sz, 0.0));
    const double pt = exp(log_pt), one_minus = 1.0 - pt;
    const double modulator = gamma == 0 ? 1.0 : pow(one_minus, gamma);
    LossTerm term;
    term.loss = -w * modulator * log_pt / divisor;
    term.gradient = static_cast<float>(w * s * (gamma * pt * modulator * log_pt - modulator * one_minus) / divisor);
    return term;
}

// SGD: g += wd p; v = momentum v + g; p -= lr (nesterov ? g + momentum v : v).
DENDRITE_HD inline void sgd_update(float& parameter, float gradient, float& velocity, float learning_rate,
                                   float momentum, float weight_decay, bool nesterov) {
    const float g = gradient + weight_decay * parameter;
    velocity = momentum * velocity + g;
    parameter -= learning_rate * (nesterov ? g + momentum * velocity : velocity);
}

// Adam's per-step constants, computed once per step in double (as torch does) from the step number t >= 1.
struct AdamScalars {
    float beta1, beta2, step_size, v_correction, epsilon, coupled_decay, decay_factor;
};

inline AdamScalars adam_scalars(double learning_rate, double beta1, double beta2, double epsilon, double weight_decay,
                                bool decoupled, long t) {
    AdamScalars s;
    s.beta1 = static_cast<float>(beta1);
    s.beta2 = static_cast<float>(beta2);
    s.step_size = static_cast<float>(learning_rate / (1.0 - pow(beta1, double(t))));
    s.v_correction = static_cast<float>(1.0 / sqrt(1.0 - pow(beta2, double(t))));
    s.epsilon = static_cast<float>(epsilon);
    s.coupled_decay = decoupled ? 0.0f : static_cast<float>(weight_decay);
    s.decay_factor = decoupled ? static_cast<float>(1.0 - learning_rate * weight_decay) : 1.0f;
    return s;
}

// Adam (Kingma & Ba) with bias correction; AdamW's decoupled decay when decay_factor != 1:
// p = p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps).
DENDRITE_HD inline void adam_update(float& parameter, float gradient, float& m, float& v, const AdamScalars& s) {
    const float g = gradient + s.coupled_decay * parameter;
    m = s.beta1 * m + (1.0f - s.beta1) * g;
    v = s.beta2 * v + (1.0f - s.beta2) * g * g;
    parameter = parameter * s.decay_factor - s.step_size * m / (sqrtf(v) * s.v_correction + s.epsilon);
}

// RMSprop (torch's form): g += wd p; s = alpha s + (1 - alpha) g^2; b = momentum b + g / (sqrt(s) + eps);
// p -= lr b (momentum 0: no buffer, p -= lr g / (sqrt(s) + eps)).
DENDRITE_HD inline void rmsprop_update(float& parameter, float gradient, float& square_average, float* buffer,
                                       float learning_rate, float alpha, float epsilon, float momentum,
                                       float weight_decay) {
    const float g = gradient + weight_decay * parameter;
    square_average = alpha * square_average + (1.0f - alpha) * g * g;
    const float update = g / (sqrtf(square_average) + epsilon);
    if (momentum > 0) {
        *buffer = momentum * *buffer + update;
        parameter -= learning_rate * *buffer;
    } else {
        parameter -= learning_rate * update;
    }
}

}  // namespace dendrite::elementwise
