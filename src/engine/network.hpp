// A feed-forward network of dense layers whose parameters live in one flat float buffer (the
// tiny-cuda-nn layout): for each layer, its kernel (units x inputs, column-major, which is the
// row-major {inputs, units} tensor stored in dendrite.parameters) and then its bias (units).
#pragma once
#include "engine/engine_only.hpp"

#include <Eigen/Core>
#include <string>
#include <vector>

#include "engine/rng.hpp"

namespace dendrite::engine {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
// Buffers that Eigen maps as matrices. Aligned to Eigen's largest packet (64 bytes with AVX-512): Eigen's
// vectorised reductions peel unaligned leading elements, so the order of a sum, and with it the last bit of
// a parameter, would otherwise depend on where malloc put the buffer, and one seed would not give one model.
using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;

enum class Activation { Identity, Relu, Tanh, Sigmoid };

Activation parse_activation(const std::string& name);  // throws InvalidParameter
const char* activation_name(Activation activation);

struct LayerSpec {
    int units;
    Activation activation;
};

struct NetworkSpec {
    int inputs = 0;
    std::vector<LayerSpec> layers;  // the last one is the output: 1 unit, sigmoid

    // hidden = {} gives logistic regression.
    static NetworkSpec binary_classifier(int inputs, const std::vector<int>& hidden, Activation activation);

    int layer_inputs(size_t layer) const { return layer == 0 ? inputs : layers[layer - 1].units; }
    size_t kernel_offset(size_t layer) const;
    size_t bias_offset(size_t layer) const { return kernel_offset(layer) + size_t(layers[layer].units) * layer_inputs(layer); }
    size_t parameter_count() const { return kernel_offset(layers.size()); }
    void validate() const;  // throws InvalidParameter
};

// Plain-data view of a network for the scoring paths: it can live in memory that PostgreSQL owns (no
// destructors), and scoring through it allocates nothing and cannot throw.
struct NetworkView {
    int inputs = 0;
    int layers = 0;
    const int* units = nullptr;               // per layer
    const Activation* activations = nullptr;  // per layer
    const float* parameters = nullptr;        // the flat buffer, NetworkSpec's layout
};

// Scores one row (the output layer's activation applied). scratch holds 2 * scratch_floats(view) floats.
float forward_one(const NetworkView& view, const float* x, float* scratch) noexcept;
int scratch_floats(const NetworkView& view) noexcept;

// Scores n rows at once: x is inputs x n, column-major (one row's features after another), scores gets n
// values. Matrix-matrix products instead of n matrix-vector ones; the scores agree with forward_one to float
// rounding (the summation order differs). scratch holds batch_scratch_floats(view, n) floats. May throw
// std::bad_alloc (Eigen's blocking buffers): call it inside the error boundary.
void forward_batch(const NetworkView& view, const float* x, int n, float* scores, float* scratch);
size_t batch_scratch_floats(const NetworkView& view, int n) noexcept;

class Network {
public:
    explicit Network(NetworkSpec spec);

    void initialize(Rng& rng);  // He-uniform before ReLU, Glorot-uniform otherwise; zero biases

    const NetworkSpec& spec() const { return spec_; }
    AlignedFloats& parameters() { return parameters_; }
    const AlignedFloats& parameters() const { return parameters_; }

    // x: inputs x batch. Returns the output layer's pre-activations (logits), 1 x batch, and keeps the
    // intermediate values for backward().
    const RowVector& forward(const Eigen::Ref<const Matrix>& x);

    // Given d(loss)/d(logits) for the last forward() batch, writes d(loss)/d(parameters) into gradient
    // (parameter_count() floats, overwritten).
    void backward(const Eigen::Ref<const RowVector>& dlogits, float* gradient);

private:
    NetworkSpec spec_;
    AlignedFloats parameters_;
    const float* input_ = nullptr;
    Eigen::Index batch_ = 0;
    std::vector<Matrix> pre_;   // z of each layer
    std::vector<Matrix> post_;  // activation(z) of each hidden layer
    RowVector logits_;
    Matrix delta_, delta_next_;
};

float sigmoid(float z);

}  // namespace dendrite::engine
