#include "engine/network.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

namespace dendrite::engine {

namespace {

template <typename Derived>
void apply_activation(Activation activation, Eigen::MatrixBase<Derived>& z) {
    switch (activation) {
        case Activation::Identity: break;
        case Activation::Relu: z = z.cwiseMax(0.0f); break;
        case Activation::Tanh: z = z.array().tanh().matrix(); break;
        case Activation::Sigmoid: z = (1.0f / (1.0f + (-z.array()).exp())).matrix(); break;
    }
}

// delta *= activation'(z), with post = activation(z) already computed.
void multiply_by_derivative(Activation activation, const Matrix& z, const Matrix& post, Matrix& delta) {
    switch (activation) {
        case Activation::Identity: break;
        case Activation::Relu: delta = (z.array() > 0.0f).select(delta, 0.0f); break;
        case Activation::Tanh: delta.array() *= 1.0f - post.array().square(); break;
        case Activation::Sigmoid: delta.array() *= post.array() * (1.0f - post.array()); break;
    }
}

}  // namespace

float sigmoid(float z) {
    // Written so that neither branch overflows.
    if (z >= 0) return 1.0f / (1.0f + std::exp(-z));
    const float e = std::exp(z);
    return e / (1.0f + e);
}

Activation parse_activation(const std::string& name) {
    if (name == "relu") return Activation::Relu;
    if (name == "tanh") return Activation::Tanh;
    if (name == "sigmoid") return Activation::Sigmoid;
    if (name == "identity" || name == "linear") return Activation::Identity;
    fail(ErrorKind::InvalidParameter, "unknown activation \"" + name + "\"", {},
         "Use one of relu, tanh, sigmoid, identity.");
}

const char* activation_name(Activation activation) {
    switch (activation) {
        case Activation::Identity: return "identity";
        case Activation::Relu: return "relu";
        case Activation::Tanh: return "tanh";
        case Activation::Sigmoid: return "sigmoid";
    }
    return "unknown";
}

NetworkSpec NetworkSpec::binary_classifier(int inputs, const std::vector<int>& hidden, Activation activation) {
    NetworkSpec spec;
    spec.inputs = inputs;
    for (int units : hidden) spec.layers.push_back({units, activation});
    spec.layers.push_back({1, Activation::Sigmoid});
    spec.validate();
    return spec;
}

size_t NetworkSpec::kernel_offset(size_t layer) const {
    size_t offset = 0;
    for (size_t l = 0; l < layer; ++l) offset += size_t(layers[l].units) * (layer_inputs(l) + 1);
    return offset;
}

void NetworkSpec::validate() const {
    constexpr int max_width = 65536;
    if (inputs < 1) fail(ErrorKind::InvalidParameter, "a network needs at least one input feature");
    if (inputs > max_width)
        fail(ErrorKind::InvalidParameter, "too many input features",
             "The network has " + std::to_string(inputs) + " inputs; at most " + std::to_string(max_width) +
                 " are supported.");
    if (layers.empty() || layers.back().units != 1)
        fail(ErrorKind::InvalidParameter, "the output layer must have exactly one unit");
    if (layers.size() > 65) fail(ErrorKind::InvalidParameter, "at most 64 hidden layers are supported");
    for (const auto& layer : layers)
        if (layer.units < 1 || layer.units > 4096)
            fail(ErrorKind::InvalidParameter, "hidden layer widths must be between 1 and 4096",
                 "A layer of " + std::to_string(layer.units) + " units was requested.");
}

int scratch_floats(const NetworkView& view) noexcept {
    int widest = view.inputs;
    for (int l = 0; l < view.layers; ++l) widest = std::max(widest, view.units[l]);
    return 2 * widest;
}

namespace {

// Runs the layers of view over n rows (x: inputs x n, column-major) and returns the output layer's
// pre-activations (n values, in scratch). Columns = 1 makes every product a matrix-vector one, which
// allocates nothing; Eigen::Dynamic makes them matrix-matrix products.
template <int Columns>
const float* output_logits(const NetworkView& view, const float* x, Eigen::Index n, float* scratch) {
    using Block = Eigen::Matrix<float, Eigen::Dynamic, Columns>;
    float* in = scratch;
    float* out = scratch + Eigen::Index(scratch_floats(view) / 2) * n;
    const float* current = x;
    const float* parameters = view.parameters;
    int n_in = view.inputs;
    for (int l = 0; l < view.layers; ++l) {
        const int n_out = view.units[l];
        Eigen::Map<const Matrix> kernel(parameters, n_out, n_in);
        Eigen::Map<const Eigen::VectorXf> bias(parameters + size_t(n_out) * n_in, n_out);
        parameters += size_t(n_out) * (n_in + 1);
        Eigen::Map<const Block> input(current, n_in, n);
        Eigen::Map<Block> z(out, n_out, n);
        z.noalias() = kernel * input;
        z.colwise() += bias;
        if (l + 1 == view.layers) return out;
        apply_activation(view.activations[l], z);
        current = out;
        std::swap(in, out);
        n_in = n_out;
    }
    return out;  // unreachable for a validated network: it has an output layer
}

// The output layer's activation on a scalar, in the overflow-safe form.
float output_activation(const NetworkView& view, float logit) {
    return view.activations[view.layers - 1] == Activation::Sigmoid ? sigmoid(logit) : logit;
}

}  // namespace

float forward_one(const NetworkView& view, const float* x, float* scratch) noexcept {
    return output_activation(view, output_logits<1>(view, x, 1, scratch)[0]);
}

size_t batch_scratch_floats(const NetworkView& view, int n) noexcept {
    return size_t(scratch_floats(view)) * size_t(n);
}

void forward_batch(const NetworkView& view, const float* x, int n, float* scores, float* scratch) {
    const float* logits = output_logits<Eigen::Dynamic>(view, x, n, scratch);
    for (int i = 0; i < n; ++i) scores[i] = output_activation(view, logits[i]);
}

Network::Network(NetworkSpec spec) : spec_(std::move(spec)) {
    spec_.validate();
    parameters_.assign(spec_.parameter_count(), 0.0f);
    pre_.resize(spec_.layers.size());
    post_.resize(spec_.layers.size());
}

void Network::initialize(Rng& rng) {
    for (size_t l = 0; l < spec_.layers.size(); ++l) {
        const int n_in = spec_.layer_inputs(l);
        const int n_out = spec_.layers[l].units;
        const bool relu = spec_.layers[l].activation == Activation::Relu;
        const double limit = relu ? std::sqrt(6.0 / n_in) : std::sqrt(6.0 / (n_in + n_out));
        float* kernel = parameters_.data() + spec_.kernel_offset(l);
        for (size_t i = 0; i < size_t(n_in) * n_out; ++i) kernel[i] = static_cast<float>(rng.uniform(-limit, limit));
        std::fill_n(parameters_.data() + spec_.bias_offset(l), n_out, 0.0f);
    }
}

const RowVector& Network::forward(const Eigen::Ref<const Matrix>& x) {
    input_ = x.data();
    batch_ = x.cols();
    const size_t n_layers = spec_.layers.size();
    for (size_t l = 0; l < n_layers; ++l) {
        const int n_in = spec_.layer_inputs(l);
        const int n_out = spec_.layers[l].units;
        Eigen::Map<const Matrix> kernel(parameters_.data() + spec_.kernel_offset(l), n_out, n_in);
        Eigen::Map<const Eigen::VectorXf> bias(parameters_.data() + spec_.bias_offset(l), n_out);
        Matrix& z = pre_[l];
        z.resize(n_out, batch_);
        if (l == 0)
            z.noalias() = kernel * x;
        else
            z.noalias() = kernel * post_[l - 1];
        z.colwise() += bias;
        if (l + 1 < n_layers) {
            post_[l] = z;
            apply_activation(spec_.layers[l].activation, post_[l]);
        }
    }
    logits_ = pre_[n_layers - 1];
    return logits_;
}

void Network::backward(const Eigen::Ref<const RowVector>& dlogits, float* gradient) {
    const size_t n_layers = spec_.layers.size();
    Eigen::Map<const Matrix> x(input_, spec_.inputs, batch_);
    delta_ = dlogits;
    for (size_t l = n_layers; l-- > 0;) {
        const int n_in = spec_.layer_inputs(l);
        const int n_out = spec_.layers[l].units;
        Eigen::Map<Matrix> kernel_gradient(gradient + spec_.kernel_offset(l), n_out, n_in);
        Eigen::Map<Eigen::VectorXf> bias_gradient(gradient + spec_.bias_offset(l), n_out);
        if (l == 0)
            kernel_gradient.noalias() = delta_ * x.transpose();
        else
            kernel_gradient.noalias() = delta_ * post_[l - 1].transpose();
        bias_gradient = delta_.rowwise().sum();
        if (l == 0) break;
        Eigen::Map<const Matrix> kernel(parameters_.data() + spec_.kernel_offset(l), n_out, n_in);
        delta_next_.noalias() = kernel.transpose() * delta_;
        multiply_by_derivative(spec_.layers[l - 1].activation, pre_[l - 1], post_[l - 1], delta_next_);
        delta_.swap(delta_next_);
    }
}

}  // namespace dendrite::engine
