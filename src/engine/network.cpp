#include "engine/network.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "engine/elementwise.hpp"
#include "engine/error.hpp"

namespace dendrite::engine {

namespace {

// The device ABI numbers activations as Activation does: the kernels and elementwise.hpp use those numbers.
static_assert(int(Activation::Identity) == DENDRITE_ACT_IDENTITY && int(Activation::Relu) == DENDRITE_ACT_RELU &&
              int(Activation::Tanh) == DENDRITE_ACT_TANH && int(Activation::Sigmoid) == DENDRITE_ACT_SIGMOID &&
              int(Activation::LeakyRelu) == DENDRITE_ACT_LEAKY_RELU && int(Activation::Gelu) == DENDRITE_ACT_GELU);

float gelu(float v) { return elementwise::activate(DENDRITE_ACT_GELU, v); }
float gelu_derivative(float v) { return elementwise::activation_derivative(DENDRITE_ACT_GELU, v, 0.0f); }

template <typename Derived>
void apply_activation(Activation activation, Eigen::MatrixBase<Derived>& z) {
    switch (activation) {
        case Activation::Identity:
            break;
        case Activation::Relu:
            z = z.cwiseMax(0.0f);
            break;
        case Activation::LeakyRelu:
            z = z.cwiseMax(kLeakyReluSlope * z);
            break;
        case Activation::Gelu:
            z = z.unaryExpr([](float v) { return gelu(v); });
            break;
        case Activation::Tanh:
            z = z.array().tanh().matrix();
            break;
        case Activation::Sigmoid:
            z = (1.0f / (1.0f + (-z.array()).exp())).matrix();
            break;
    }
}

// delta *= activation'(a), with out = activation(a) already computed.
void multiply_by_derivative(Activation activation, const Matrix& a, const Matrix& out, Matrix& delta) {
    switch (activation) {
        case Activation::Identity:
            break;
        case Activation::Relu:
            delta = (a.array() > 0.0f).select(delta, 0.0f);
            break;
        case Activation::LeakyRelu:
            delta = (a.array() > 0.0f).select(delta, kLeakyReluSlope * delta);
            break;
        case Activation::Gelu:
            delta.array() *= a.unaryExpr([](float v) { return gelu_derivative(v); }).array();
            break;
        case Activation::Tanh:
            delta.array() *= 1.0f - out.array().square();
            break;
        case Activation::Sigmoid:
            delta.array() *= out.array() * (1.0f - out.array());
            break;
    }
}

// Layer normalization of each column of z in place: z = scale * (z - mean) / sqrt(var + eps) + shift.
// normalized and inverse_std, when given, keep the intermediate values for the backward pass.
template <typename Derived>
void layer_normalize(Eigen::MatrixBase<Derived>& z, const float* scale, const float* shift, Matrix* normalized,
                     RowVector* inverse_std) {
    const Eigen::Index units = z.rows(), n = z.cols();
    Eigen::Map<const Eigen::VectorXf> gamma(scale, units), beta(shift, units);
    if (normalized) normalized->resize(units, n);
    if (inverse_std) inverse_std->resize(n);
    for (Eigen::Index j = 0; j < n; ++j) {
        auto column = z.col(j);
        const float mean = column.mean();
        const float variance = (column.array() - mean).square().mean();
        const float inv = 1.0f / std::sqrt(variance + kLayerNormEpsilon);
        column = ((column.array() - mean) * inv).matrix();
        if (normalized) normalized->col(j) = column;
        if (inverse_std) (*inverse_std)[j] = inv;
        column = (column.array() * gamma.array() + beta.array()).matrix();
    }
}

bool relu_like(Activation activation) {
    return activation == Activation::Relu || activation == Activation::LeakyRelu || activation == Activation::Gelu;
}

// x (inputs values) -> out (the first dense layer's input): each feature's value, or, for feature
// features[e], the dims[e] values of its table row; an encoded feature's bins' values follow. tables: the first
// table; the others follow it. edges: the first encoding's; the others follow it. rows_read, when given,
// receives the row of each table that x read (for the backward pass).
struct InputExpansion {
    int inputs;
    int n_embeddings;
    const int* features;
    const int* rows;
    const int* dims;
    const float* tables;
    int n_encodings;
    const int* encoded_features;
    const int* bins;
    const float* edges;
};

void expand_row(const InputExpansion& expansion, const float* x, float* out, int* rows_read = nullptr) {
    int e = 0, k = 0;
    const float* tables = expansion.tables;
    const float* edges = expansion.edges;
    for (int j = 0; j < expansion.inputs; ++j) {
        if (e < expansion.n_embeddings && expansion.features[e] == j) {
            const int read = embedding_row(x[j], expansion.rows[e]);
            if (rows_read) rows_read[e] = read;
            const float* row = tables + size_t(read) * size_t(expansion.dims[e]);
            out = std::copy(row, row + expansion.dims[e], out);
            tables += size_t(expansion.rows[e]) * size_t(expansion.dims[e]);
            ++e;
        } else {
            *out++ = x[j];
        }
        if (k < expansion.n_encodings && expansion.encoded_features[k] == j) {
            encode_piecewise(edges, expansion.bins[k], x[j], out);
            out += expansion.bins[k];
            edges += expansion.bins[k] + 1;
            ++k;
        }
    }
}

InputExpansion expansion_of(const NetworkView& view) {
    return {view.inputs,     view.embeddings, view.embedding_features, view.embedding_rows, view.embedding_dims,
            view.parameters, view.encodings,  view.encoding_features,  view.encoding_bins,  view.encoding_edges};
}

// One row's affine layer, z = bias + kernel * x, reading only the kernel columns of the non-zero inputs.
// A trigger scores one row at a time with caches the insert has just emptied, and a typical row is mostly
// zeros (one-hot codes, hashed buckets; about half of a ReLU layer's outputs): reading ~40 % of the weights
// from L2 and keeping the sums in registers takes half the time of a dense matrix-vector product, which
// reads all of them (docs/benchmarks.md, session 11). forward_one and the batch path for small networks
// both run this, so a trigger's score and dendrite.score's agree bit for bit. Skipping 0 * w changes only
// the order of the sum: weights are finite (the model cache refuses a version with any other).
using Lanes = float __attribute__((vector_size(64)));  // 16 floats: one AVX-512 register, or four SSE ones
constexpr int kLanes = 16;
constexpr int kInputBlock = 256;  // inputs listed at a time (the list lives on the stack)

// Unaligned loads and stores. Through references: a function returning Lanes by value has a
// target-dependent ABI, which GCC warns of (-Wpsabi) in builds without AVX-512.
inline void load_lanes(Lanes& v, const float* p) { std::memcpy(&v, p, sizeof v); }
inline void store_lanes(float* p, const Lanes& v) { std::memcpy(p, &v, sizeof v); }

// p rounded up to a multiple of 64 bytes (at most kLanes - 1 floats further).
inline float* align_to_lanes(float* p) {
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63));
}

// The indices (first + j) of the non-zero values among x[0..n), n <= kInputBlock, into index; their count.
// NaN counts as non-zero, so it reaches the score as a dense product would carry it.
int nonzero_inputs(const float* x, int n, int first, int* index) {
    int m = 0, j = 0;
#if defined(__AVX512F__)
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + kLanes <= n; j += kLanes) {
        const __mmask16 nonzero = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
        // Compressed into a register, then stored: vpcompressd's memory form is microcoded on AMD (~10x slower).
        const __m512i indices =
            _mm512_maskz_compress_epi32(nonzero, _mm512_add_epi32(lane, _mm512_set1_epi32(first + j)));
        _mm512_storeu_si512(index + m, indices);
        m += __builtin_popcount(nonzero);
    }
#endif
    for (; j < n; ++j) {  // branch-free: a non-zero input keeps its slot
        index[m] = first + j;
        m += x[j] != 0.0f;
    }
    return m;
}

// z[o, o + 16 * Blocks) += the listed inputs' kernel columns times their values, the sums in registers (two
// sets of accumulators, every other input, so that consecutive multiply-adds do not wait on each other).
template <int Blocks>
void add_listed_columns(const float* kernel, int n_out, int o, const float* x, const int* index, int m, float* z) {
    Lanes even[Blocks], odd[Blocks];
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) {
        load_lanes(even[b], z + o + kLanes * b);
        odd[b] = Lanes{};
    }
    int t = 0;
    for (; t + 2 <= m; t += 2) {
        const float v0 = x[index[t]], v1 = x[index[t + 1]];
        const float* c0 = kernel + size_t(index[t]) * size_t(n_out) + o;
        const float* c1 = kernel + size_t(index[t + 1]) * size_t(n_out) + o;
#pragma GCC unroll 4
        for (int b = 0; b < Blocks; ++b) {
            Lanes w0, w1;
            load_lanes(w0, c0 + kLanes * b);
            load_lanes(w1, c1 + kLanes * b);
            even[b] += v0 * w0;
            odd[b] += v1 * w1;
        }
    }
    if (t < m) {
        const float v0 = x[index[t]];
        const float* c0 = kernel + size_t(index[t]) * size_t(n_out) + o;
#pragma GCC unroll 4
        for (int b = 0; b < Blocks; ++b) {
            Lanes w0;
            load_lanes(w0, c0 + kLanes * b);
            even[b] += v0 * w0;
        }
    }
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) store_lanes(z + o + kLanes * b, even[b] + odd[b]);
}

// z (n_out floats) = bias + kernel * x, kernel n_out x n_in column-major.
void affine_one_row(const float* kernel, const float* bias, const float* x, int n_in, int n_out, float* z) {
    std::copy_n(bias, n_out, z);
    int index[kInputBlock];
    for (int first = 0; first < n_in; first += kInputBlock) {
        const int m = nonzero_inputs(x + first, std::min(kInputBlock, n_in - first), first, index);
        if (m == 0) continue;
        int o = 0;
        for (; o + 4 * kLanes <= n_out; o += 4 * kLanes) add_listed_columns<4>(kernel, n_out, o, x, index, m, z);
        switch ((n_out - o) / kLanes) {
            case 3:
                add_listed_columns<3>(kernel, n_out, o, x, index, m, z);
                o += 3 * kLanes;
                break;
            case 2:
                add_listed_columns<2>(kernel, n_out, o, x, index, m, z);
                o += 2 * kLanes;
                break;
            case 1:
                add_listed_columns<1>(kernel, n_out, o, x, index, m, z);
                o += kLanes;
                break;
            default:
                break;
        }
        // The last n_out % 16 outputs (an output layer's one) one at a time, four partial sums each.
        for (; o < n_out; ++o) {
            float partial[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            int t = 0;
            for (; t + 4 <= m; t += 4)
                for (int k = 0; k < 4; ++k)
                    partial[k] += x[index[t + k]] * kernel[size_t(index[t + k]) * size_t(n_out) + o];
            for (; t < m; ++t) partial[0] += x[index[t]] * kernel[size_t(index[t]) * size_t(n_out) + o];
            z[o] += (partial[0] + partial[1]) + (partial[2] + partial[3]);
        }
    }
}
}  // namespace

float sigmoid(float z) { return elementwise::sigmoid(z); }

Activation parse_activation(const std::string& name) {
    if (name == "relu") return Activation::Relu;
    if (name == "leaky_relu") return Activation::LeakyRelu;
    if (name == "gelu") return Activation::Gelu;
    if (name == "tanh") return Activation::Tanh;
    if (name == "sigmoid") return Activation::Sigmoid;
    if (name == "identity" || name == "linear") return Activation::Identity;
    fail(ErrorKind::InvalidParameter, "unknown activation \"" + name + "\"", {},
         "Use one of relu, leaky_relu, gelu, tanh, sigmoid, identity.");
}

const char* activation_name(Activation activation) {
    switch (activation) {
        case Activation::Identity:
            return "identity";
        case Activation::Relu:
            return "relu";
        case Activation::LeakyRelu:
            return "leaky_relu";
        case Activation::Gelu:
            return "gelu";
        case Activation::Tanh:
            return "tanh";
        case Activation::Sigmoid:
            return "sigmoid";
    }
    return "unknown";
}

NetworkSpec NetworkSpec::binary_classifier(int inputs, const std::vector<int>& hidden, Activation activation,
                                           bool layer_norm) {
    NetworkSpec spec;
    spec.inputs = inputs;
    for (int units : hidden) spec.layers.push_back({units, activation, layer_norm});
    spec.layers.push_back({1, Activation::Sigmoid, false});
    spec.validate();
    return spec;
}

NetworkSpec NetworkSpec::autoencoder(int inputs, const std::vector<int>& hidden, Activation activation,
                                     bool layer_norm) {
    NetworkSpec spec;
    spec.inputs = inputs;
    for (int units : hidden) spec.layers.push_back({units, activation, layer_norm});
    spec.layers.push_back({inputs, Activation::Identity, false});
    spec.validate();
    return spec;
}

int NetworkSpec::dense_inputs() const {
    int width = inputs;
    for (const auto& e : embeddings) width += e.dim - 1;
    for (const auto& k : encodings) width += k.bins;
    return width;
}

size_t NetworkSpec::encoding_floats() const {
    size_t floats = 0;
    for (const auto& k : encodings) floats += size_t(k.bins) + 1;
    return floats;
}

size_t NetworkSpec::embedding_offset(size_t e) const {
    size_t offset = 0;
    for (size_t i = 0; i < e; ++i) offset += size_t(embeddings[i].rows) * size_t(embeddings[i].dim);
    return offset;
}

size_t NetworkSpec::layer_parameters(size_t layer) const {
    const size_t units = size_t(layers[layer].units);
    return units * (size_t(layer_inputs(layer)) + 1) + (layers[layer].layer_norm ? 2 * units : 0);
}

size_t NetworkSpec::kernel_offset(size_t layer) const {
    size_t offset = embedding_parameters();
    for (size_t l = 0; l < layer; ++l) offset += layer_parameters(l);
    return offset;
}

void NetworkSpec::validate() const {
    constexpr int max_width = 65536;
    if (inputs < 1) fail(ErrorKind::InvalidParameter, "a network needs at least one input feature");
    if (inputs > max_width)
        fail(ErrorKind::InvalidParameter, "too many input features",
             "The network has " + std::to_string(inputs) + " inputs; at most " + std::to_string(max_width) +
                 " are supported.");
    if (layers.empty()) fail(ErrorKind::InvalidParameter, "a network needs an output layer");
    if (reconstructs()) {
        if (layers.back().units != inputs)
            fail(ErrorKind::InvalidParameter, "an autoencoder's output layer must have one unit per input");
        if (layers.size() < 2) fail(ErrorKind::InvalidParameter, "an autoencoder needs at least one hidden layer");
        if (!embeddings.empty())
            fail(ErrorKind::InvalidParameter, "an autoencoder cannot embed features", {},
                 "Encode the featurizer's categorical columns as 'onehot' or 'frequency' rather than 'index'.");
        if (error_quantiles < 0 || error_quantiles > 100001)
            fail(ErrorKind::InvalidParameter, "an autoencoder's error quantile table is out of range");
    } else {
        if (layers.back().units != 1 || layers.back().activation != Activation::Sigmoid)
            fail(ErrorKind::InvalidParameter, "the output layer must have exactly one unit");
        if (error_quantiles != 0) fail(ErrorKind::InvalidParameter, "only an autoencoder has error quantiles");
    }
    if (layers.size() > 65) fail(ErrorKind::InvalidParameter, "at most 64 hidden layers are supported");
    if (layers.back().layer_norm) fail(ErrorKind::InvalidParameter, "the output layer cannot have layer normalization");
    for (const auto& layer : layers)
        if (layer.units < 1 || layer.units > 4096)
            fail(ErrorKind::InvalidParameter, "hidden layer widths must be between 1 and 4096",
                 "A layer of " + std::to_string(layer.units) + " units was requested.");
    if (embeddings.size() > size_t(kMaxEmbeddings))
        fail(ErrorKind::InvalidParameter, "at most " + std::to_string(kMaxEmbeddings) + " features can be embedded");
    int previous = -1;
    for (const auto& e : embeddings) {
        if (e.feature <= previous || e.feature >= inputs)
            fail(ErrorKind::Internal, "embeddings must name distinct input features in ascending order");
        if (e.rows < 1 || e.rows > 10000000)
            fail(ErrorKind::InvalidParameter, "an embedded feature has " + std::to_string(e.rows) + " categories", {},
                 "At most 10,000,000 categories can be embedded.");
        if (e.dim < 1 || e.dim > 1024) fail(ErrorKind::InvalidParameter, "embedding_dim must be between 1 and 1024");
        if (long(e.rows) * long(e.dim) > kMaxEmbeddingFloats)
            fail(ErrorKind::InvalidParameter,
                 "an embedding table of " + std::to_string(e.rows) + " x " + std::to_string(e.dim) + " is too large",
                 {}, "Keep fewer categories (max_categories in the featurizer) or lower embedding_dim.");
        previous = e.feature;
    }
    if (encodings.size() > size_t(max_width)) fail(ErrorKind::Internal, "too many encoded features");
    previous = -1;
    size_t embedded = 0;
    for (const auto& k : encodings) {
        if (k.feature <= previous || k.feature >= inputs)
            fail(ErrorKind::Internal, "encodings must name distinct input features in ascending order");
        while (embedded < embeddings.size() && embeddings[embedded].feature < k.feature) ++embedded;
        if (embedded < embeddings.size() && embeddings[embedded].feature == k.feature)
            fail(ErrorKind::Internal, "an embedded feature cannot be encoded too");
        if (k.bins < 2 || k.bins > kMaxPiecewiseBins)
            fail(ErrorKind::InvalidParameter,
                 "an encoded feature must have between 2 and " + std::to_string(kMaxPiecewiseBins) + " bins");
        previous = k.feature;
    }
    if (!encodings.empty() && reconstructs())
        fail(ErrorKind::InvalidParameter, "an autoencoder cannot encode its inputs", {},
             "Leave piecewise_bins at 0: an autoencoder reconstructs the featurizer's values as they are.");
    if (!encoding_edges.empty() && encoding_edges.size() != encoding_floats())
        fail(ErrorKind::Internal, "the encodings' edges do not match their bins");
    if (dense_inputs() > max_width) fail(ErrorKind::InvalidParameter, "too many input features after embedding");
}

SpecView::SpecView(const NetworkSpec& spec, const float* parameters) : layer_norm_(new bool[spec.layers.size()]) {
    for (size_t l = 0; l < spec.layers.size(); ++l) {
        units_.push_back(spec.layers[l].units);
        activations_.push_back(spec.layers[l].activation);
        layer_norm_[l] = spec.layers[l].layer_norm;
    }
    for (const auto& e : spec.embeddings) {
        embedding_features_.push_back(e.feature);
        embedding_rows_.push_back(e.rows);
        embedding_dims_.push_back(e.dim);
    }
    for (const auto& k : spec.encodings) {
        encoding_features_.push_back(k.feature);
        encoding_bins_.push_back(k.bins);
    }
    view_ = NetworkView{spec.inputs,
                        int(spec.layers.size()),
                        units_.data(),
                        activations_.data(),
                        parameters,
                        layer_norm_.get(),
                        int(spec.embeddings.size()),
                        embedding_features_.data(),
                        embedding_rows_.data(),
                        embedding_dims_.data(),
                        int(spec.encodings.size()),
                        encoding_features_.data(),
                        encoding_bins_.data(),
                        spec.encoding_edges.empty() ? parameters + spec.encoding_offset() : spec.encoding_edges.data()};
}

int dense_inputs(const NetworkView& view) noexcept {
    int width = view.inputs;
    for (int e = 0; e < view.embeddings; ++e) width += view.embedding_dims[e] - 1;
    for (int k = 0; k < view.encodings; ++k) width += view.encoding_bins[k];
    return width;
}

void expand_inputs(const NetworkView& view, const float* x, float* out) noexcept {
    expand_row(expansion_of(view), x, out);
}

int scratch_floats(const NetworkView& view) noexcept {
    int widest = std::max(view.inputs, dense_inputs(view));
    for (int l = 0; l < view.layers; ++l) widest = std::max(widest, view.units[l]);
    return 2 * (widest + kLanes);  // two layers' values, each room to start on a 64-byte boundary
}

namespace {

// Runs the layers of view over n rows (x: inputs x n, column-major) and returns the output layer's
// pre-activations (n values, in scratch). Columns = 1 (n = 1) runs each layer through affine_one_row, which
// allocates nothing; Eigen::Dynamic makes them matrix-matrix products.
template <int Columns>
const float* output_logits(const NetworkView& view, const float* x, Eigen::Index n, float* scratch) {
    using Block = Eigen::Matrix<float, Eigen::Dynamic, Columns>;
    float* in = scratch;
    float* out = scratch + Eigen::Index(scratch_floats(view) / 2) * n;
    if constexpr (Columns == 1) {
        // Eigen's vectorized tanh, exp and sums treat an unaligned vector's head and tail with scalar code,
        // whose results differ in the last bit: one row's layers start on 64-byte boundaries, so that its
        // score does not depend on where the caller's scratch lies (a trigger's and dendrite.score's agree).
        in = align_to_lanes(in);
        out = align_to_lanes(out);
    }
    const float* current = x;
    const float* parameters = view.parameters;
    int n_in = view.inputs;
    if (expands_inputs(view)) {
        n_in = dense_inputs(view);
        const InputExpansion expansion = expansion_of(view);
        for (Eigen::Index j = 0; j < n; ++j) expand_row(expansion, x + j * view.inputs, in + j * n_in);
        current = in;
        for (int e = 0; e < view.embeddings; ++e)
            parameters += size_t(view.embedding_rows[e]) * size_t(view.embedding_dims[e]);
    }
    for (int l = 0; l < view.layers; ++l) {
        const int n_out = view.units[l];
        const float* kernel = parameters;
        const float* bias = parameters + size_t(n_out) * n_in;
        const float* norm_scale = bias + n_out;
        const bool normalized = view.layer_norm && view.layer_norm[l];
        parameters += size_t(n_out) * (n_in + 1) + (normalized ? 2 * size_t(n_out) : 0);
        Eigen::Map<Block> z(out, n_out, n);
        if constexpr (Columns == 1) {
            affine_one_row(kernel, bias, current, n_in, n_out, out);
        } else {
            z.noalias() = Eigen::Map<const Matrix>(kernel, n_out, n_in) * Eigen::Map<const Block>(current, n_in, n);
            z.colwise() += Eigen::Map<const Eigen::VectorXf>(bias, n_out);
        }
        if (l + 1 == view.layers) return out;
        if (normalized) layer_normalize(z, norm_scale, norm_scale + n_out, nullptr, nullptr);
        apply_activation(view.activations[l], z);
        current = out;
        std::swap(in, out);
        n_in = n_out;
    }
    return out;  // unreachable for a validated network: it has an output layer
}

// The output layer's activation on a scalar, in the overflow-safe form. An infinite logit from finite inputs and
// parameters is the network's 32-bit arithmetic overflowing (a feature far outside the training rows' range):
// it scores NaN, which every scoring path refuses as an overflow, rather than a score of exactly 0 or 1.
float output_activation(const NetworkView& view, float logit) {
    if (view.activations[view.layers - 1] != Activation::Sigmoid) return logit;
    return std::isinf(logit) ? std::numeric_limits<float>::quiet_NaN() : sigmoid(logit);
}

// forward_one's body, kept out of line so that forward_batch's rows run the very same instructions (a
// precaution: an inlined copy could be compiled differently, other multiply-add contractions for one,
// and differ in the last bit).
__attribute__((noinline)) float score_row(const NetworkView& view, const float* x, float* scratch) noexcept {
    return output_activation(view, output_logits<1>(view, x, 1, scratch)[0]);
}

float mean_squared_difference(const float* a, const float* b, int n) noexcept {
    float sum = 0;
    for (int i = 0; i < n; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
    return sum / float(n);
}

__attribute__((noinline)) float reconstruction_error_row(const NetworkView& view, const float* x,
                                                         float* scratch) noexcept {
    return mean_squared_difference(output_logits<1>(view, x, 1, scratch), x, view.inputs);
}

}  // namespace

float reconstruction_error_one(const NetworkView& view, const float* x, float* scratch) noexcept {
    return reconstruction_error_row(view, x, scratch);
}

void reconstruction_error_terms(const NetworkView& view, const float* x, float* scratch, double* terms) noexcept {
    const float* outputs = output_logits<1>(view, x, 1, scratch);
    for (int i = 0; i < view.inputs; ++i) {
        const float d = outputs[i] - x[i];
        terms[i] = double(d * d) / double(view.inputs);
    }
}

void reconstruction_errors(const NetworkView& view, const float* x, int n, float* errors, float* scratch) {
    if (scores_rows_one_at_a_time(view)) {
        for (int i = 0; i < n; ++i)
            errors[i] = reconstruction_error_row(view, x + size_t(i) * size_t(view.inputs), scratch);
        return;
    }
    const float* outputs = output_logits<Eigen::Dynamic>(view, x, n, scratch);  // inputs x n
    for (int i = 0; i < n; ++i)
        errors[i] = mean_squared_difference(outputs + size_t(i) * size_t(view.inputs),
                                            x + size_t(i) * size_t(view.inputs), view.inputs);
}

float forward_one(const NetworkView& view, const float* x, float* scratch) noexcept {
    return score_row(view, x, scratch);
}

float logit_one(const NetworkView& view, const float* x, float* scratch) noexcept {
    return output_logits<1>(view, x, 1, scratch)[0];
}

size_t batch_scratch_floats(const NetworkView& view, int n) noexcept {
    return size_t(scratch_floats(view)) * size_t(n);
}

bool scores_rows_one_at_a_time(const NetworkView& view) noexcept {
    size_t weights = 0;
    int n_in = dense_inputs(view);
    for (int l = 0; l < view.layers; ++l) {
        weights += size_t(view.units[l]) * size_t(n_in);
        n_in = view.units[l];
    }
    return weights <= kOneRowBatchMaxWeights;
}

void forward_batch(const NetworkView& view, const float* x, int n, float* scores, float* scratch) {
    if (scores_rows_one_at_a_time(view)) {
        for (int i = 0; i < n; ++i) scores[i] = score_row(view, x + size_t(i) * size_t(view.inputs), scratch);
        return;
    }
    const float* logits = output_logits<Eigen::Dynamic>(view, x, n, scratch);
    for (int i = 0; i < n; ++i) scores[i] = output_activation(view, logits[i]);
}

Network::Network(NetworkSpec spec) : spec_(std::move(spec)) {
    spec_.validate();
    parameters_.assign(spec_.parameter_count(), 0.0f);
}

void Network::initialize(Rng& rng) {
    const double unit_variance = std::sqrt(3.0);
    for (size_t i = 0; i < spec_.embedding_parameters(); ++i)
        parameters_[i] = static_cast<float>(rng.uniform(-unit_variance, unit_variance));
    for (size_t l = 0; l < spec_.layers.size(); ++l) {
        const int n_in = spec_.layer_inputs(l);
        const int n_out = spec_.layers[l].units;
        const double limit =
            relu_like(spec_.layers[l].activation) ? std::sqrt(6.0 / n_in) : std::sqrt(6.0 / (n_in + n_out));
        float* kernel = parameters_.data() + spec_.kernel_offset(l);
        for (size_t i = 0; i < size_t(n_in) * n_out; ++i) kernel[i] = static_cast<float>(rng.uniform(-limit, limit));
        std::fill_n(parameters_.data() + spec_.bias_offset(l), n_out, 0.0f);
        if (spec_.layers[l].layer_norm) {
            std::fill_n(parameters_.data() + spec_.norm_scale_offset(l), n_out, 1.0f);
            std::fill_n(parameters_.data() + spec_.norm_shift_offset(l), n_out, 0.0f);
        }
    }
}

const RowVector& Pass::forward(const NetworkSpec& spec, const float* parameters, const Eigen::Ref<const Matrix>& x,
                               float dropout, Rng* rng) {
    input_ = x.data();
    rows_ = x.rows();
    batch_ = x.cols();
    if (!spec.embeddings.empty() || !spec.encodings.empty()) {
        const int n_embeddings = int(spec.embeddings.size()), n_encodings = int(spec.encodings.size());
        int features[kMaxEmbeddings], rows[kMaxEmbeddings], dims[kMaxEmbeddings];  // validate() bounds the count
        for (int e = 0; e < n_embeddings; ++e) {
            features[e] = spec.embeddings[size_t(e)].feature;
            rows[e] = spec.embeddings[size_t(e)].rows;
            dims[e] = spec.embeddings[size_t(e)].dim;
        }
        encoded_features_.resize(size_t(n_encodings));
        encoding_bins_.resize(size_t(n_encodings));
        for (int k = 0; k < n_encodings; ++k) {
            encoded_features_[size_t(k)] = spec.encodings[size_t(k)].feature;
            encoding_bins_[size_t(k)] = spec.encodings[size_t(k)].bins;
        }
        if (n_encodings > 0 && spec.encoding_edges.size() != spec.encoding_floats())
            fail(ErrorKind::Internal, "a network with encodings was trained without their edges");
        const InputExpansion expansion{spec.inputs,
                                       n_embeddings,
                                       features,
                                       rows,
                                       dims,
                                       parameters,
                                       n_encodings,
                                       encoded_features_.data(),
                                       encoding_bins_.data(),
                                       spec.encoding_edges.data()};
        expanded_.resize(spec.dense_inputs(), batch_);
        embedding_reads_.resize(size_t(batch_) * size_t(n_embeddings));
        for (Eigen::Index j = 0; j < batch_; ++j)
            expand_row(expansion, x.col(j).data(), expanded_.data() + j * expanded_.rows(),
                       embedding_reads_.data() + j * n_embeddings);
        input_ = expanded_.data();
        rows_ = expanded_.rows();
    }
    const size_t n_layers = spec.layers.size();
    layers_.resize(n_layers);
    const Matrix* previous = nullptr;  // the previous layer's output
    for (size_t l = 0; l < n_layers; ++l) {
        const LayerSpec& layer_spec = spec.layers[l];
        const int n_in = spec.layer_inputs(l);
        const int n_out = layer_spec.units;
        Eigen::Map<const Matrix> kernel(parameters + spec.kernel_offset(l), n_out, n_in);
        Eigen::Map<const Eigen::VectorXf> bias(parameters + spec.bias_offset(l), n_out);
        Layer& layer = layers_[l];
        layer.z.resize(n_out, batch_);
        if (l == 0)
            layer.z.noalias() = kernel * Eigen::Map<const Matrix>(input_, rows_, batch_);
        else
            layer.z.noalias() = kernel * *previous;
        layer.z.colwise() += bias;
        if (l + 1 == n_layers) break;
        const Matrix* activation_input = &layer.z;
        if (layer_spec.layer_norm) {
            layer.a = layer.z;
            layer_normalize(layer.a, parameters + spec.norm_scale_offset(l), parameters + spec.norm_shift_offset(l),
                            &layer.normalized, &layer.inverse_std);
            activation_input = &layer.a;
        }
        layer.out = *activation_input;
        apply_activation(layer_spec.activation, layer.out);
        layer.dropped = dropout > 0.0f && rng;
        if (layer.dropped) {
            const float keep = 1.0f - dropout, kept_scale = 1.0f / keep;
            layer.mask.resize(n_out, batch_);
            float* mask = layer.mask.data();
            for (Eigen::Index i = 0; i < layer.mask.size(); ++i) mask[i] = rng->uniform() < keep ? kept_scale : 0.0f;
            layer.out.array() *= layer.mask.array();
        }
        previous = &layer.out;
    }
    if (layers_[n_layers - 1].z.rows() == 1) logits_ = layers_[n_layers - 1].z;  // an autoencoder: outputs()
    return logits_;
}

void Pass::backward(const NetworkSpec& spec, const float* parameters, const Eigen::Ref<const RowVector>& dlogits,
                    float* gradient) {
    delta_ = dlogits;
    backward_from_delta(spec, parameters, gradient);
}

void Pass::backward_outputs(const NetworkSpec& spec, const float* parameters, const Matrix& doutputs, float* gradient) {
    delta_ = doutputs;
    backward_from_delta(spec, parameters, gradient);
}

void Pass::backward_from_delta(const NetworkSpec& spec, const float* parameters, float* gradient) {
    const size_t n_layers = spec.layers.size();
    Eigen::Map<const Matrix> x(input_, rows_, batch_);
    for (size_t l = n_layers; l-- > 0;) {
        const int n_in = spec.layer_inputs(l);
        const int n_out = spec.layers[l].units;
        Eigen::Map<Matrix> kernel_gradient(gradient + spec.kernel_offset(l), n_out, n_in);
        Eigen::Map<Eigen::VectorXf> bias_gradient(gradient + spec.bias_offset(l), n_out);
        if (l == 0)
            kernel_gradient.noalias() = delta_ * x.transpose();
        else
            kernel_gradient.noalias() = delta_ * layers_[l - 1].out.transpose();
        bias_gradient = delta_.rowwise().sum();
        if (l == 0) {
            if (!spec.embeddings.empty()) embedding_backward(spec, parameters, gradient);
            break;
        }
        Eigen::Map<const Matrix> kernel(parameters + spec.kernel_offset(l), n_out, n_in);
        delta_next_.noalias() = kernel.transpose() * delta_;

        // Back through layer l - 1: dropout, activation, layer normalization.
        const size_t k = l - 1;
        const LayerSpec& below = spec.layers[k];
        Layer& layer = layers_[k];
        if (layer.dropped) {
            delta_next_.array() *= layer.mask.array();
            // out holds activation(a) * mask; the derivatives of tanh and sigmoid need activation(a) itself.
            if (below.activation == Activation::Tanh || below.activation == Activation::Sigmoid) {
                layer.out = below.layer_norm ? layer.a : layer.z;
                apply_activation(below.activation, layer.out);
            }
        }
        multiply_by_derivative(below.activation, below.layer_norm ? layer.a : layer.z, layer.out, delta_next_);
        if (below.layer_norm) {
            const Eigen::Index units = below.units;
            Eigen::Map<const Eigen::VectorXf> gamma(parameters + spec.norm_scale_offset(k), units);
            Eigen::Map<Eigen::VectorXf> gamma_gradient(gradient + spec.norm_scale_offset(k), units);
            Eigen::Map<Eigen::VectorXf> beta_gradient(gradient + spec.norm_shift_offset(k), units);
            gamma_gradient = (delta_next_.array() * layer.normalized.array()).rowwise().sum().matrix();
            beta_gradient = delta_next_.rowwise().sum();
            // d(loss)/dz = inv_std * (g - mean(g) - xhat * mean(g * xhat)), with g = delta * gamma, per column.
            delta_next_.array().colwise() *= gamma.array();
            for (Eigen::Index j = 0; j < batch_; ++j) {
                auto g = delta_next_.col(j);
                const auto xhat = layer.normalized.col(j);
                const float mean_g = g.mean();
                const float mean_gx = g.dot(xhat) / float(units);
                g = ((g.array() - mean_g - xhat.array() * mean_gx) * layer.inverse_std[j]).matrix();
            }
        }
        delta_.swap(delta_next_);
    }
}

// d(loss)/d(table rows): the first layer's input gradient, added into the rows the batch read (a row read
// twice gets both). delta_ holds the first layer's d(loss)/dz.
void Pass::embedding_backward(const NetworkSpec& spec, const float* parameters, float* gradient) {
    std::fill_n(gradient, spec.embedding_parameters(), 0.0f);
    Eigen::Map<const Matrix> kernel(parameters + spec.kernel_offset(0), spec.layers[0].units, rows_);
    input_gradient_.noalias() = kernel.transpose() * delta_;
    // Where each embedding's values sit in the first layer's input, and where its table starts.
    const size_t n_embeddings = spec.embeddings.size();
    Eigen::Index position[kMaxEmbeddings];
    float* table[kMaxEmbeddings];
    for (size_t e = 0, widened = 0, k = 0; e < n_embeddings; ++e) {
        // The encoded features before this one widen the input by their bins.
        for (; k < spec.encodings.size() && spec.encodings[k].feature < spec.embeddings[e].feature; ++k)
            widened += size_t(spec.encodings[k].bins);
        position[e] = Eigen::Index(spec.embeddings[e].feature) + Eigen::Index(widened);
        widened += size_t(spec.embeddings[e].dim - 1);
        table[e] = gradient + spec.embedding_offset(e);
    }
    for (Eigen::Index j = 0; j < batch_; ++j) {
        const int* reads = embedding_reads_.data() + size_t(j) * n_embeddings;
        for (size_t e = 0; e < n_embeddings; ++e) {
            const int dim = spec.embeddings[e].dim;
            float* row = table[e] + size_t(reads[e]) * size_t(dim);
            const float* g = input_gradient_.data() + j * rows_ + position[e];
            for (int k = 0; k < dim; ++k) row[k] += g[k];
        }
    }
}

}  // namespace dendrite::engine
