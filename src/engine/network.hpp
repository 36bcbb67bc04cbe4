// A feed-forward network of dense layers whose parameters live in one flat float buffer (the
// tiny-cuda-nn layout): for each layer, its kernel (units x inputs, column-major, which is the
// row-major {inputs, units} tensor stored in dendrite.parameters), its bias (units) and, for a layer with
// layer normalization, its norm_scale and norm_shift (units each). A layer computes
//   z = kernel x + bias;  a = layer_norm ? norm_scale * (z - mean(z)) / sqrt(var(z) + eps) + norm_shift : z;
//   out = activation(a)   (then, while training only, inverted dropout)
#pragma once
#include "engine/engine_only.hpp"

#include <Eigen/Core>
#include <memory>
#include <string>
#include <vector>

#include "engine/elementwise.hpp"
#include "engine/piecewise_encoding.hpp"
#include "engine/rng.hpp"

namespace dendrite::engine {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
// Buffers that Eigen maps as matrices. Aligned to Eigen's largest packet (64 bytes with AVX-512): Eigen's
// vectorised reductions peel unaligned leading elements, so the order of a sum, and with it the last bit of
// a parameter, would otherwise depend on where malloc put the buffer, and one seed would not give one model.
using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;

enum class Activation { Identity, Relu, Tanh, Sigmoid, LeakyRelu, Gelu };

constexpr float kLeakyReluSlope = elementwise::kLeakySlope;  // torch's default negative slope
constexpr float kLayerNormEpsilon = 1e-5f;                   // torch's default

Activation parse_activation(const std::string& name);  // throws InvalidParameter
const char* activation_name(Activation activation);

struct LayerSpec {
    int units;
    Activation activation;
    bool layer_norm = false;
};

// An embedding of one input feature that holds a category index (the featurizer's 'index' encoding: 0 for
// unseen or missing, 1..rows-1 for the kept categories): the dense layers see the table's row instead of
// the index. Tables come first in the flat parameter buffer, row-major {rows, dim}.
constexpr int kMaxEmbeddings = 64;
constexpr long kMaxEmbeddingFloats = 1L << 27;  // per table: 512 MB

struct EmbeddingSpec {
    int feature;  // 0-based input feature
    int rows;     // the index's range: 0 .. rows - 1 (an index outside it reads row 0)
    int dim;
};

// A numeric input feature encoded piecewise-linearly (piecewise_encoding.hpp): the first dense layer sees its
// value followed by one value per bin. Its bins + 1 edges are stored after the trained parameters.
struct EncodingSpec {
    int feature;  // 0-based input feature, not an embedded one
    int bins;     // 2 .. kMaxPiecewiseBins
};

struct NetworkSpec {
    int inputs = 0;
    std::vector<LayerSpec> layers;          // the last one is the output: 1 unit, sigmoid (a classifier), or
                                            // inputs units, identity (an autoencoder, which reconstructs its input)
    std::vector<EmbeddingSpec> embeddings;  // by ascending feature; the first dense layer sees, per input
                                            // feature in order, its value or its embedding's dim values
    std::vector<EncodingSpec> encodings;    // by ascending feature; each adds its bins after the feature's value
    // The encodings' edges, each's bins + 1 in order, when the spec was fitted (training) rather than read
    // from a stored configuration (whose edges are rows of dendrite.parameters, read into the flat buffer).
    std::vector<float> encoding_edges;

    // An autoencoder only: its training rows' reconstruction errors at error_quantiles evenly spaced
    // quantiles (anomaly.hpp), stored after the parameters: they map an error to a score in [0, 1].
    int error_quantiles = 0;

    // hidden = {} gives logistic regression.
    // layer_norm applies to the hidden layers, never to the output.
    static NetworkSpec binary_classifier(int inputs, const std::vector<int>& hidden, Activation activation,
                                         bool layer_norm = false);
    // A network that reconstructs its inputs through the hidden layers (at least one; no embeddings).
    static NetworkSpec autoencoder(int inputs, const std::vector<int>& hidden, Activation activation,
                                   bool layer_norm = false);
    bool reconstructs() const { return !layers.empty() && layers.back().activation == Activation::Identity; }

    int dense_inputs() const;  // the first dense layer's width: inputs, each embedded one as dim, each encoded
                               // one plus its bins
    int layer_inputs(size_t layer) const { return layer == 0 ? dense_inputs() : layers[layer - 1].units; }
    size_t embedding_offset(size_t e) const;  // the table of embeddings[e]
    size_t embedding_parameters() const { return embedding_offset(embeddings.size()); }
    size_t layer_parameters(size_t layer) const;
    size_t kernel_offset(size_t layer) const;
    size_t bias_offset(size_t layer) const {
        return kernel_offset(layer) + size_t(layers[layer].units) * layer_inputs(layer);
    }
    size_t norm_scale_offset(size_t layer) const { return bias_offset(layer) + size_t(layers[layer].units); }
    size_t norm_shift_offset(size_t layer) const { return norm_scale_offset(layer) + size_t(layers[layer].units); }
    size_t parameter_count() const { return kernel_offset(layers.size()); }  // what training updates
    size_t encoding_floats() const;                                          // every encoding's edges
    // The stored buffer: the parameters, the encodings' edges, an autoencoder's error quantiles.
    size_t encoding_offset() const { return parameter_count(); }
    size_t quantile_offset() const { return parameter_count() + encoding_floats(); }
    size_t stored_floats() const { return quantile_offset() + size_t(error_quantiles); }
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
    const bool* layer_norm = nullptr;         // per layer; null: no layer has it
    int embeddings = 0;                       // NetworkSpec::embeddings, as three arrays
    const int* embedding_features = nullptr;
    const int* embedding_rows = nullptr;
    const int* embedding_dims = nullptr;
    int encodings = 0;  // NetworkSpec::encodings, as two arrays, and their edges one after the other
    const int* encoding_features = nullptr;
    const int* encoding_bins = nullptr;
    const float* encoding_edges = nullptr;
};

// The first dense layer's input for one row of raw features x (view.inputs values): each embedded feature
// replaced by its table row, each encoded one followed by its bins' values. out holds dense_inputs(view) floats.
int dense_inputs(const NetworkView& view) noexcept;
void expand_inputs(const NetworkView& view, const float* x, float* out) noexcept;
// The table row an index feature reads: its value when it is a whole number in [0, rows), else row 0 (the
// featurizer's unseen/missing row).
inline int embedding_row(float index, int rows) { return index >= 0.0f && index < float(rows) ? int(index) : 0; }
// True when the first dense layer does not read x as it is (embeddings or encodings).
inline bool expands_inputs(const NetworkView& view) noexcept { return view.embeddings > 0 || view.encodings > 0; }
// How many of the first dense layer's values stand for input feature j, the features taken in order from 0:
// e and k are the caller's cursors into the embeddings and encodings (start both at 0).
inline int dense_width(const NetworkView& view, int j, int& e, int& k) noexcept {
    int width = 1;
    if (e < view.embeddings && view.embedding_features[e] == j) width = view.embedding_dims[e++];
    if (k < view.encodings && view.encoding_features[k] == j) width += view.encoding_bins[k++];
    return width;
}

// A NetworkView of a NetworkSpec and a parameter buffer owned elsewhere, with the per-layer arrays the view
// points to (for the engine's own scoring: timing, tests). The encodings' edges are spec.encoding_edges when the
// spec has them, else the stored buffer's, after the parameters. Not copyable: the view points into it.
class SpecView {
public:
    SpecView(const NetworkSpec& spec, const float* parameters);
    SpecView(const SpecView&) = delete;
    SpecView& operator=(const SpecView&) = delete;
    const NetworkView& view() const { return view_; }

private:
    std::vector<int> units_;
    std::vector<Activation> activations_;
    std::vector<int> embedding_features_, embedding_rows_, embedding_dims_, encoding_features_, encoding_bins_;
    std::unique_ptr<bool[]> layer_norm_;
    NetworkView view_;
};

// Scores one row (the output layer's activation applied). scratch holds scratch_floats(view) floats.
float forward_one(const NetworkView& view, const float* x, float* scratch) noexcept;
// The output layer's pre-activation for one row (a classifier's logit, which forward_one takes the sigmoid
// of), in the same arithmetic. scratch as forward_one's.
float logit_one(const NetworkView& view, const float* x, float* scratch) noexcept;
// An autoencoder's reconstruction error of one row: the mean over its inputs of (output - input)^2.
float reconstruction_error_one(const NetworkView& view, const float* x, float* scratch) noexcept;
// The same error input by input: terms[i] = (output_i - x_i)^2 / inputs, which add up to it (an autoencoder's
// explanation: the inputs it could not reconstruct). scratch as forward_one's.
void reconstruction_error_terms(const NetworkView& view, const float* x, float* scratch, double* terms) noexcept;
// The error for n rows (x: inputs x n), with forward_batch's scratch and its choice between one row at a time
// and matrix products. May throw std::bad_alloc.
void reconstruction_errors(const NetworkView& view, const float* x, int n, float* errors, float* scratch);
int scratch_floats(const NetworkView& view) noexcept;

// Scores n rows at once: x is inputs x n, column-major (one row's features after another), scores gets n
// values. A network of at most kOneRowBatchMaxWeights weights scores row after row through forward_one
// (its weights stay in cache, and skipping zero inputs beats a dense matrix product), so its scores equal
// forward_one's bit for bit; a larger one takes matrix-matrix products, whose scores agree with forward_one
// to float rounding (the summation order differs). scratch holds batch_scratch_floats(view, n) floats. May
// throw std::bad_alloc (Eigen's blocking buffers): call it inside the error boundary.
constexpr size_t kOneRowBatchMaxWeights = 32768;
bool scores_rows_one_at_a_time(const NetworkView& view) noexcept;
void forward_batch(const NetworkView& view, const float* x, int n, float* scores, float* scratch);
size_t batch_scratch_floats(const NetworkView& view, int n) noexcept;

// The values one forward pass over a block of rows keeps for its backward pass. One per training thread.
class Pass {
public:
    // x: inputs x n. dropout > 0 draws inverted-dropout masks for the hidden layers from rng (training).
    // Returns the output layer's pre-activations (logits), 1 x n.
    const RowVector& forward(const NetworkSpec& spec, const float* parameters, const Eigen::Ref<const Matrix>& x,
                             float dropout = 0.0f, Rng* rng = nullptr);
    // Given d(loss)/d(logits) of the last forward(), writes d(loss)/d(parameters) into gradient
    // (parameter_count() floats, overwritten).
    void backward(const NetworkSpec& spec, const float* parameters, const Eigen::Ref<const RowVector>& dlogits,
                  float* gradient);
    // The output layer's pre-activations of the last forward(), units x n (an autoencoder's reconstruction),
    // and backward from d(loss)/d(them).
    const Matrix& outputs() const { return layers_.back().z; }
    void backward_outputs(const NetworkSpec& spec, const float* parameters, const Matrix& doutputs, float* gradient);

private:
    void backward_from_delta(const NetworkSpec& spec, const float* parameters, float* gradient);
    void embedding_backward(const NetworkSpec& spec, const float* parameters, float* gradient);
    struct Layer {
        Matrix z;           // kernel x + bias
        Matrix normalized;  // (z - mean) / std, with layer normalization
        RowVector inverse_std;
        Matrix a;     // the activation's input: the normalized z scaled and shifted (layer norm only)
        Matrix out;   // activation(a), then times the dropout mask
        Matrix mask;  // dropout: 0 or 1 / (1 - rate)
        bool dropped = false;
    };
    const float* input_ = nullptr;      // the first dense layer's input: the raw x, or expanded_
    std::vector<int> embedding_reads_;  // with embeddings: per row of the batch, the row read from each table
    std::vector<int> encoded_features_, encoding_bins_;  // with encodings: the spec's, as arrays
    Eigen::Index rows_ = 0, batch_ = 0;
    Matrix expanded_;        // with embeddings or encodings: dense_inputs() x n
    Matrix input_gradient_;  // with embeddings: d(loss)/d(expanded_)
    std::vector<Layer> layers_;
    RowVector logits_;
    Matrix delta_, delta_next_;
};

class Network {
public:
    explicit Network(NetworkSpec spec);

    // He-uniform before ReLU-like activations, Glorot-uniform otherwise; zero biases; embeddings uniform
    // with unit variance (like a standardized feature).
    void initialize(Rng& rng);

    const NetworkSpec& spec() const { return spec_; }
    AlignedFloats& parameters() { return parameters_; }
    const AlignedFloats& parameters() const { return parameters_; }

    // One Pass over this network's own parameters (no dropout): for scoring and the gradient checks.
    const RowVector& forward(const Eigen::Ref<const Matrix>& x) { return pass_.forward(spec_, parameters_.data(), x); }
    void backward(const Eigen::Ref<const RowVector>& dlogits, float* gradient) {
        pass_.backward(spec_, parameters_.data(), dlogits, gradient);
    }

private:
    NetworkSpec spec_;
    AlignedFloats parameters_;
    Pass pass_;
};

float sigmoid(float z);

}  // namespace dendrite::engine
