// Optimizers over the flat parameter buffer.
#pragma once
#include "engine/engine_only.hpp"

#include <memory>
#include <string>
#include <vector>

namespace dendrite::engine {

struct OptimizerOptions {
    std::string kind = "adam";  // adam | sgd
    double learning_rate = 1e-3;
    double momentum = 0.9;      // sgd
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    virtual void step(float* parameters, const float* gradient) = 0;

    static std::unique_ptr<Optimizer> create(const OptimizerOptions& options, size_t parameter_count);
};

// Plain SGD with (heavy-ball) momentum: v = momentum * v + g; p -= lr * v.
class Sgd final : public Optimizer {
public:
    Sgd(double learning_rate, double momentum, size_t n);
    void step(float* parameters, const float* gradient) override;

private:
    float learning_rate_, momentum_;
    std::vector<float> velocity_;
};

// Adam (Kingma & Ba) with bias correction.
class Adam final : public Optimizer {
public:
    Adam(double learning_rate, double beta1, double beta2, double epsilon, size_t n);
    void step(float* parameters, const float* gradient) override;

private:
    double learning_rate_, beta1_, beta2_, epsilon_;
    long t_ = 0;
    std::vector<float> m_, v_;
};

}  // namespace dendrite::engine
