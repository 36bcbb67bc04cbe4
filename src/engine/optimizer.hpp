// Optimizers over the flat parameter buffer, with torch's update rules (so that a configuration means the
// same thing in dendrite and in PyTorch), and the learning-rate schedules.
#pragma once
#include "engine/engine_only.hpp"

#include <memory>
#include <string>
#include <vector>

namespace dendrite::engine {

struct OptimizerOptions {
    std::string kind = "adam";  // sgd | adam | adamw | rmsprop
    double learning_rate = 1e-3;
    double momentum = 0.9;                              // sgd (heavy ball, or Nesterov) and rmsprop (0 = none)
    bool nesterov = false;                              // sgd
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam, adamw; epsilon also rmsprop
    double alpha = 0.99;                                // rmsprop: decay of the squared-gradient average
    double weight_decay = 0;  // L2 added to the gradient; decoupled (p -= lr * wd * p) for adamw

    void validate() const;  // throws InvalidParameter
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    // One update with the learning rate of this step (the schedule's value).
    virtual void step(float* parameters, const float* gradient, double learning_rate) = 0;
    void step(float* parameters, const float* gradient) { step(parameters, gradient, base_learning_rate_); }

    static std::unique_ptr<Optimizer> create(const OptimizerOptions& options, size_t parameter_count);

protected:
    double base_learning_rate_ = 1e-3;
};

// SGD: g += wd p; v = momentum v + g; p -= lr (nesterov ? g + momentum v : v).
class Sgd final : public Optimizer {
public:
    Sgd(double learning_rate, double momentum, size_t n, bool nesterov = false, double weight_decay = 0);
    using Optimizer::step;
    void step(float* parameters, const float* gradient, double learning_rate) override;

private:
    float momentum_, weight_decay_;
    bool nesterov_;
    std::vector<float> velocity_;
};

// Adam (Kingma & Ba) with bias correction; decoupled = AdamW (Loshchilov & Hutter).
class Adam final : public Optimizer {
public:
    Adam(double learning_rate, double beta1, double beta2, double epsilon, size_t n, double weight_decay = 0,
         bool decoupled = false);
    using Optimizer::step;
    void step(float* parameters, const float* gradient, double learning_rate) override;

private:
    double beta1_, beta2_, epsilon_, weight_decay_;
    bool decoupled_;
    long t_ = 0;
    std::vector<float> m_, v_;
};

// RMSprop (torch's form): g += wd p; s = alpha s + (1 - alpha) g^2; b = momentum b + g / (sqrt(s) + eps);
// p -= lr b (momentum 0: p -= lr g / (sqrt(s) + eps)).
class RmsProp final : public Optimizer {
public:
    RmsProp(double learning_rate, double alpha, double epsilon, double momentum, size_t n, double weight_decay = 0);
    using Optimizer::step;
    void step(float* parameters, const float* gradient, double learning_rate) override;

private:
    float alpha_, epsilon_, momentum_, weight_decay_;
    std::vector<float> square_average_, buffer_;
};

// Learning rate per step: linear warm-up from lr / warmup_steps to lr over warmup_steps, then
//   constant | step (lr * gamma ^ floor(epoch / step_epochs)) | cosine (lr/2 (1 + cos(pi t / T)) to 0 at the end).
struct Schedule {
    std::string kind = "constant";
    double gamma = 0.1;    // step
    int step_epochs = 10;  // step
    double warmup_epochs = 0;

    void validate() const;  // throws InvalidParameter
    // step: 0-based global step; steps_per_epoch >= 1; total_steps = epochs * steps_per_epoch.
    double learning_rate(double base, long step, long steps_per_epoch, long total_steps) const;
};

// Scales gradient so that its L2 norm is at most max_norm (0: no clipping). Returns the norm before.
double clip_gradient_norm(float* gradient, size_t n, double max_norm);

}  // namespace dendrite::engine
