// One training session on a device: the training set uploaded once, the parameters, the optimizer's state
// and one batch's activations, and the sequence of a gradient step (gather, forward, loss, backward,
// clipping, update). Written once over a Backend that supplies memory, matrix products (cuBLAS's
// column-major convention) and per-element launches of the functors below:
//   - kernels/cuda_backend.cuh runs it on CUDA (the plugin, dendrite_cuda.so);
//   - tests/unit/host_backend.hpp runs the same code on the CPU, so that CI, which has no GPU, checks the
//     step's sequence, shapes and offsets against the engine's own trainer.
// The per-element maths is engine/elementwise.hpp, shared with the CPU engine.
//
// A step costs, for L layers: 1 gather, per layer 1 GEMM + 1 fused bias/activation launch forward, 1 fused
// loss launch + 1 loss sum, per layer 2 GEMMs (kernel gradient, bias gradient as a product with ones)
// + 1 GEMM and 1 fused activation-derivative launch for the layer below, 1 optimizer launch over the whole
// flat buffer (2 more with clipping). Nothing is read back during an epoch.
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "engine/device_abi.h"
#include "engine/elementwise.hpp"
#include "engine/signals.hpp"

namespace dendrite::device {

// Thrown inside the plugin only: the C entry points turn it into a dendrite_device_status.
struct DeviceError {
    int code;
    std::string message;
};

[[noreturn]] inline void device_fail(int code, std::string message) { throw DeviceError{code, std::move(message)}; }

// ---- The functors a backend launches, one call per element i. ----

// x (columns x count, column-major: one row after another) = the listed rows of the row-major set.
struct GatherRows {
    const float* features;
    const uint32_t* rows;
    float* x;
    size_t columns;
    DENDRITE_HD void operator()(size_t i) const {
        const size_t j = i / columns, c = i - j * columns;
        x[i] = features[size_t(rows[j]) * columns + c];
    }
};

// z += bias (per unit); out = activation(z). z keeps the activation's input for the backward pass.
struct BiasActivation {
    float* z;
    float* out;
    const float* bias;
    size_t units;
    int activation;
    DENDRITE_HD void operator()(size_t i) const {
        const float a = z[i] + bias[i % units];
        z[i] = a;
        out[i] = elementwise::activate(activation, a);
    }
};

struct AddBias {
    float* z;
    const float* bias;
    size_t units;
    DENDRITE_HD void operator()(size_t i) const { z[i] += bias[i % units]; }
};

// Per example of the batch: its weighted loss term and d(loss)/d(logit).
struct LossGradient {
    const float* logits;
    const float* labels;   // the whole uploaded set
    const uint32_t* rows;  // the batch's rows
    float positive_weight, negative_weight;
    double divisor;
    int loss;
    double focal_gamma;
    float* dlogits;
    double* losses;
    DENDRITE_HD void operator()(size_t i) const {
        const float label = labels[rows[i]];
        const float weight = label > 0.5f ? positive_weight : negative_weight;
        const elementwise::LossTerm term = loss == DENDRITE_LOSS_FOCAL
                                               ? elementwise::focal_term(logits[i], label, weight, focal_gamma, divisor)
                                               : elementwise::bce_term(logits[i], label, weight, divisor);
        dlogits[i] = term.gradient;
        losses[i] = term.loss;
    }
};

// An autoencoder's batch, per element of its outputs (units = inputs, identity): the element's share of the
// batch loss, mean over rows of mean((outputs - x)^2), and d(loss)/d(output), as engine/anomaly.cpp has them.
struct ReconstructionGradient {
    const float* outputs;
    const float* x;
    float scale;  // 2 / (inputs * rows), in float as the engine multiplies
    float* doutputs;
    DENDRITE_HD void operator()(size_t i) const { doutputs[i] = (outputs[i] - x[i]) * scale; }
};

struct ReconstructionLoss {
    const float* outputs;
    const float* x;
    double divisor;  // inputs * rows
    DENDRITE_HD double operator()(size_t i) const {
        const double d = double(outputs[i]) - double(x[i]);
        return d * d / divisor;
    }
};

// delta *= activation'(z), out = activation(z).
struct ActivationBackward {
    float* delta;
    const float* z;
    const float* out;
    int activation;
    DENDRITE_HD void operator()(size_t i) const {
        delta[i] *= elementwise::activation_derivative(activation, z[i], out[i]);
    }
};

struct ReadDouble {
    const double* values;
    DENDRITE_HD double operator()(size_t i) const { return values[i]; }
};

struct SquareOf {
    const float* values;
    DENDRITE_HD double operator()(size_t i) const { return double(values[i]) * double(values[i]); }
};

// Gradient clipping by global norm, the norm (squared, on the device) summed beforehand.
struct ClipByNorm {
    float* gradient;
    const double* squared_norm;
    double max_norm;
    DENDRITE_HD void operator()(size_t i) const {
        const double norm = sqrt(*squared_norm);
        if (norm > max_norm) gradient[i] *= static_cast<float>(max_norm / (norm + 1e-12));
    }
};

struct SgdUpdate {
    float* parameters;
    const float* gradient;
    float* velocity;
    float learning_rate, momentum, weight_decay;
    bool nesterov;
    DENDRITE_HD void operator()(size_t i) const {
        elementwise::sgd_update(parameters[i], gradient[i], velocity[i], learning_rate, momentum, weight_decay,
                                nesterov);
    }
};

struct AdamUpdate {
    float* parameters;
    const float* gradient;
    float* m;
    float* v;
    elementwise::AdamScalars scalars;
    DENDRITE_HD void operator()(size_t i) const {
        elementwise::adam_update(parameters[i], gradient[i], m[i], v[i], scalars);
    }
};

struct RmsPropUpdate {
    float* parameters;
    const float* gradient;
    float* square_average;
    float* buffer;  // null without momentum
    float learning_rate, alpha, epsilon, momentum, weight_decay;
    DENDRITE_HD void operator()(size_t i) const {
        elementwise::rmsprop_update(parameters[i], gradient[i], square_average[i], buffer ? buffer + i : nullptr,
                                    learning_rate, alpha, epsilon, momentum, weight_decay);
    }
};

// ---- The session. ----

template <class Backend>
class Session {
public:
    // Rows scored per launch sequence by predict_logits (and the activation buffers' width).
    static constexpr size_t kPredictChunk = 4096;

    Session(const dendrite_device_config& config, const float* features, const float* labels, size_t rows)
        : config_(config), rows_(rows) {
        if (config.inputs < 1 || config.layers < 1 || !config.units || !config.activations || config.max_batch < 1)
            device_fail(DENDRITE_DEVICE_INVALID, "invalid network configuration");
        if (config.loss < DENDRITE_LOSS_BCE || config.loss > DENDRITE_LOSS_RECONSTRUCTION)
            device_fail(DENDRITE_DEVICE_INVALID, "unknown loss");
        reconstructs_ = config.loss == DENDRITE_LOSS_RECONSTRUCTION;
        if (reconstructs_ && (config.units[config.layers - 1] != config.inputs ||
                              config.activations[config.layers - 1] != DENDRITE_ACT_IDENTITY))
            device_fail(DENDRITE_DEVICE_INVALID, "an autoencoder's output layer must have one identity unit per input");
        if (!reconstructs_ && config.units[config.layers - 1] != 1)
            device_fail(DENDRITE_DEVICE_INVALID, "the output layer must have one unit");
        if (config.optimizer < DENDRITE_OPT_SGD || config.optimizer > DENDRITE_OPT_RMSPROP)
            device_fail(DENDRITE_DEVICE_INVALID, "unknown optimizer");
        inputs_ = size_t(config.inputs);
        size_t offset = 0, widest = inputs_;
        for (int l = 0; l < config.layers; ++l) {
            if (config.units[l] < 1 || config.activations[l] < 0 || config.activations[l] > DENDRITE_ACT_GELU)
                device_fail(DENDRITE_DEVICE_INVALID, "invalid layer configuration");
            units_.push_back(size_t(config.units[l]));
            activations_.push_back(config.activations[l]);
            kernel_offsets_.push_back(offset);
            offset += units_.back() * layer_inputs(size_t(l));
            bias_offsets_.push_back(offset);
            offset += units_.back();
            widest = std::max(widest, units_.back());
        }
        config_.units = nullptr;  // the caller's arrays are not kept
        config_.activations = nullptr;
        parameter_count_ = offset;
        capacity_ = std::max(size_t(config.max_batch), kPredictChunk);

        // Everything the session will hold, checked against the budget before the first allocation.
        size_t activation_floats = 0;
        for (size_t units : units_) activation_floats += 2 * units * capacity_;  // z and out per layer
        const size_t optimizer_floats = config.optimizer == DENDRITE_OPT_SGD                               ? 1
                                        : config.optimizer == DENDRITE_OPT_RMSPROP && config.momentum <= 0 ? 1
                                                                                                           : 2;
        const size_t bytes = sizeof(float) * (rows * (inputs_ + 1) + parameter_count_ * (2 + optimizer_floats) +
                                              capacity_ * (inputs_ + 2 * widest + 1) + activation_floats) +
                             sizeof(uint32_t) * (rows + capacity_) + sizeof(double) * (capacity_ + 2);
        const size_t mib = size_t(1) << 20;
        if (config.memory_budget > 0 && bytes > config.memory_budget)
            device_fail(DENDRITE_DEVICE_OUT_OF_MEMORY, "training needs " + std::to_string(bytes / mib + 1) +
                                                           " MiB of GPU memory, over the budget of " +
                                                           std::to_string(config.memory_budget / mib) + " MiB");
        const size_t available = backend_.free_memory();
        if (bytes > available)
            device_fail(DENDRITE_DEVICE_OUT_OF_MEMORY, "training needs " + std::to_string(bytes / mib + 1) +
                                                           " MiB of GPU memory and the GPU has " +
                                                           std::to_string(available / mib) + " MiB free");

        features_ = allocate<float>(rows * inputs_);
        labels_ = allocate<float>(rows);
        epoch_rows_ = allocate<uint32_t>(rows);
        predict_rows_ = allocate<uint32_t>(capacity_);
        parameters_ = allocate<float>(parameter_count_);
        gradient_ = allocate<float>(parameter_count_);
        state_a_ = allocate<float>(parameter_count_);
        if (optimizer_floats > 1) state_b_ = allocate<float>(parameter_count_);
        x_ = allocate<float>(capacity_ * inputs_);
        delta_ = allocate<float>(capacity_ * widest);
        delta_next_ = allocate<float>(capacity_ * widest);
        ones_ = allocate<float>(capacity_);
        losses_ = allocate<double>(capacity_);
        loss_sum_ = allocate<double>(1);
        squared_norm_ = allocate<double>(1);
        for (size_t units : units_) {
            z_.push_back(allocate<float>(units * capacity_));
            out_.push_back(allocate<float>(units * capacity_));
        }
        backend_.upload(features_, features, sizeof(float) * rows * inputs_);
        backend_.upload(labels_, labels, sizeof(float) * rows);
        const std::vector<float> ones(capacity_, 1.0f);
        backend_.upload(ones_, ones.data(), sizeof(float) * capacity_);
        backend_.zero(state_a_, sizeof(float) * parameter_count_);
        if (state_b_) backend_.zero(state_b_, sizeof(float) * parameter_count_);
        backend_.zero(loss_sum_, sizeof(double));
    }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    size_t parameter_count() const { return parameter_count_; }

    void set_parameters(const float* parameters, size_t count) {
        check_parameter_count(count);
        backend_.upload(parameters_, parameters, sizeof(float) * count);
    }

    void get_parameters(float* parameters, size_t count) {
        check_parameter_count(count);
        backend_.download(parameters, parameters_, sizeof(float) * count);
    }

    void set_epoch_rows(const uint32_t* rows, size_t count) {
        check_rows(rows, count, rows_);
        backend_.upload(epoch_rows_, rows, sizeof(uint32_t) * count);
        epoch_row_count_ = count;
    }

    void step(size_t offset, int count, float positive_weight, float negative_weight, double learning_rate) {
        if (count < 1 || count > config_.max_batch || offset > epoch_row_count_ ||
            size_t(count) > epoch_row_count_ - offset)
            device_fail(DENDRITE_DEVICE_INVALID, "a step outside the epoch's rows or larger than max_batch");
        const size_t n = size_t(count);
        const uint32_t* rows = epoch_rows_ + offset;
        const float* logits = forward(rows, n);
        if (reconstructs_) {  // the outputs (inputs x n) against x_, the batch's own inputs
            const size_t elements = n * inputs_;
            backend_.for_each(elements,
                              ReconstructionGradient{logits, x_, float(2.0 / (double(inputs_) * double(n))), delta_});
            backend_.sum(elements, ReconstructionLoss{logits, x_, double(inputs_) * double(n)}, loss_sum_, true);
        } else {
            backend_.for_each(n, LossGradient{logits, labels_, rows, positive_weight, negative_weight, double(n),
                                              config_.loss, config_.focal_gamma, delta_, losses_});
            backend_.sum(n, ReadDouble{losses_}, loss_sum_, true);
        }
        backward(n);
        if (config_.clip_norm > 0) {
            backend_.sum(parameter_count_, SquareOf{gradient_}, squared_norm_, false);
            backend_.for_each(parameter_count_, ClipByNorm{gradient_, squared_norm_, config_.clip_norm});
        }
        update(learning_rate);
    }

    double take_loss() {
        double sum = 0;
        backend_.download(&sum, loss_sum_, sizeof(double));
        backend_.zero(loss_sum_, sizeof(double));
        return sum;
    }

    void predict_logits(const uint32_t* rows, size_t count, float* logits) {
        if (reconstructs_) device_fail(DENDRITE_DEVICE_INVALID, "an autoencoder has no logits");
        check_rows(rows, count, rows_);
        for (size_t first = 0; first < count; first += capacity_) {
            const size_t n = std::min(capacity_, count - first);
            backend_.upload(predict_rows_, rows + first, sizeof(uint32_t) * n);
            backend_.download(logits + first, forward(predict_rows_, n), sizeof(float) * n);
        }
    }

private:
    template <class T>
    T* allocate(size_t count) {
        allocations_.pointers.reserve(allocations_.pointers.size() + 1);  // push_back cannot throw after allocating
        T* p = static_cast<T*>(backend_.allocate(sizeof(T) * std::max<size_t>(count, 1)));
        allocations_.pointers.push_back(p);
        return p;
    }

    size_t layer_inputs(size_t layer) const { return layer == 0 ? inputs_ : units_[layer - 1]; }

    void check_parameter_count(size_t count) const {
        if (count != parameter_count_)
            device_fail(DENDRITE_DEVICE_INVALID,
                        "expected " + std::to_string(parameter_count_) + " parameters, got " + std::to_string(count));
    }

    // Row indices are checked on the host: a kernel must never read outside the uploaded set.
    static void check_rows(const uint32_t* rows, size_t count, size_t limit) {
        for (size_t i = 0; i < count; ++i)
            if (rows[i] >= limit) device_fail(DENDRITE_DEVICE_INVALID, "a row index outside the uploaded training set");
    }

    // The logits (1 x n; an autoencoder's outputs, inputs x n) of the listed rows (a device array).
    const float* forward(const uint32_t* rows, size_t n) {
        backend_.for_each(n * inputs_, GatherRows{features_, rows, x_, inputs_});
        const float* input = x_;
        for (size_t l = 0; l < units_.size(); ++l) {
            const size_t units = units_[l], fan_in = layer_inputs(l);
            backend_.gemm(false, false, int(units), int(n), int(fan_in), parameters_ + kernel_offsets_[l], int(units),
                          input, int(fan_in), z_[l], int(units));
            if (l + 1 == units_.size()) {
                backend_.for_each(n * units, AddBias{z_[l], parameters_ + bias_offsets_[l], units});
                return z_[l];
            }
            backend_.for_each(n * units,
                              BiasActivation{z_[l], out_[l], parameters_ + bias_offsets_[l], units, activations_[l]});
            input = out_[l];
        }
        return z_.back();
    }

    // From delta_ = d(loss)/d(logits), the gradient of every parameter into gradient_.
    void backward(size_t n) {
        float* delta = delta_;
        float* below = delta_next_;
        for (size_t l = units_.size(); l-- > 0;) {
            const size_t units = units_[l], fan_in = layer_inputs(l);
            const float* input = l == 0 ? x_ : out_[l - 1];
            // d kernel = delta (units x n) input^T (n x fan_in); d bias = delta ones (n x 1).
            backend_.gemm(false, true, int(units), int(fan_in), int(n), delta, int(units), input, int(fan_in),
                          gradient_ + kernel_offsets_[l], int(units));
            backend_.gemm(false, false, int(units), 1, int(n), delta, int(units), ones_, int(n),
                          gradient_ + bias_offsets_[l], int(units));
            if (l == 0) break;
            // The layer below: kernel^T (fan_in x units) delta, times its activation's derivative.
            backend_.gemm(true, false, int(fan_in), int(n), int(units), parameters_ + kernel_offsets_[l], int(units),
                          delta, int(units), below, int(fan_in));
            backend_.for_each(n * fan_in, ActivationBackward{below, z_[l - 1], out_[l - 1], activations_[l - 1]});
            std::swap(delta, below);
        }
    }

    void update(double learning_rate) {
        ++t_;
        const float lr = static_cast<float>(learning_rate);
        switch (config_.optimizer) {
            case DENDRITE_OPT_SGD:
                backend_.for_each(parameter_count_,
                                  SgdUpdate{parameters_, gradient_, state_a_, lr, float(config_.momentum),
                                            float(config_.weight_decay), config_.nesterov != 0});
                break;
            case DENDRITE_OPT_RMSPROP:
                backend_.for_each(
                    parameter_count_,
                    RmsPropUpdate{parameters_, gradient_, state_a_, state_b_, lr, float(config_.alpha),
                                  float(config_.epsilon), float(config_.momentum), float(config_.weight_decay)});
                break;
            default:
                backend_.for_each(parameter_count_,
                                  AdamUpdate{parameters_, gradient_, state_a_, state_b_,
                                             elementwise::adam_scalars(learning_rate, config_.beta1, config_.beta2,
                                                                       config_.epsilon, config_.weight_decay,
                                                                       config_.optimizer == DENDRITE_OPT_ADAMW, t_)});
        }
    }

    // Released by a member, not by ~Session, so that a constructor that fails half-way (out of memory on
    // the device) frees what it had allocated. Declared after backend_: destroyed before it.
    struct Allocations {
        Backend* backend;
        std::vector<void*> pointers;
        ~Allocations() {
            for (void* p : pointers) backend->release(p);
        }
    };
    Backend backend_;
    Allocations allocations_{&backend_, {}};
    dendrite_device_config config_;
    size_t rows_, inputs_ = 0, parameter_count_ = 0, capacity_ = 0, epoch_row_count_ = 0;
    std::vector<size_t> units_, kernel_offsets_, bias_offsets_;
    std::vector<int> activations_;
    float *features_ = nullptr, *labels_ = nullptr, *parameters_ = nullptr, *gradient_ = nullptr;
    float *state_a_ = nullptr, *state_b_ = nullptr;  // the optimizer's: velocity | m, v | square average, buffer
    float *x_ = nullptr, *delta_ = nullptr, *delta_next_ = nullptr, *ones_ = nullptr;
    uint32_t *epoch_rows_ = nullptr, *predict_rows_ = nullptr;
    double *losses_ = nullptr, *loss_sum_ = nullptr, *squared_norm_ = nullptr;
    std::vector<float*> z_, out_;
    long t_ = 0;
    bool reconstructs_ = false;
};

// ---- The C entry points over a Backend: no exception leaves them. ----

// CUDA's runtime and cuBLAS start threads of their own when the driver and the handles are first set up:
// the entry points that may start them (describe, open) run in a SignalsBlocked scope.
using engine::SignalsBlocked;

template <class Backend>
struct Api {
    static int fail_status(dendrite_device_status* status, int code, const std::string& message) {
        if (status) {
            status->code = code;
            snprintf(status->message, sizeof(status->message), "%s", message.c_str());
        }
        return code;
    }

    template <class F>
    static int guarded(dendrite_device_status* status, F&& f) {
        try {
            f();
            if (status) {
                status->code = DENDRITE_DEVICE_OK;
                status->message[0] = '\0';
            }
            return DENDRITE_DEVICE_OK;
        } catch (const DeviceError& e) {
            return fail_status(status, e.code, e.message);
        } catch (const std::bad_alloc&) {
            return fail_status(status, DENDRITE_DEVICE_OUT_OF_MEMORY, "out of host memory in the device plugin");
        } catch (...) {
            return fail_status(status, DENDRITE_DEVICE_FAILED, "unexpected error in the device plugin");
        }
    }

    static Session<Backend>* of(void* session) { return static_cast<Session<Backend>*>(session); }

    static int describe(int* devices, char* name, size_t name_size, dendrite_device_status* status) {
        const SignalsBlocked blocked;
        return guarded(status, [&] {
            std::string device_name;
            *devices = Backend::describe(&device_name);
            if (name && name_size > 0) snprintf(name, name_size, "%s", device_name.c_str());
        });
    }
    static int open(const dendrite_device_config* config, const float* features, const float* labels, size_t rows,
                    void** session, dendrite_device_status* status) {
        *session = nullptr;
        const SignalsBlocked blocked;
        return guarded(status, [&] { *session = new Session<Backend>(*config, features, labels, rows); });
    }
    static int set_parameters(void* s, const float* parameters, size_t count, dendrite_device_status* status) {
        return guarded(status, [&] { of(s)->set_parameters(parameters, count); });
    }
    static int get_parameters(void* s, float* parameters, size_t count, dendrite_device_status* status) {
        return guarded(status, [&] { of(s)->get_parameters(parameters, count); });
    }
    static int set_epoch_rows(void* s, const uint32_t* rows, size_t count, dendrite_device_status* status) {
        return guarded(status, [&] { of(s)->set_epoch_rows(rows, count); });
    }
    static int step(void* s, size_t offset, int32_t count, float positive_weight, float negative_weight,
                    double learning_rate, dendrite_device_status* status) {
        return guarded(status, [&] { of(s)->step(offset, count, positive_weight, negative_weight, learning_rate); });
    }
    static int take_loss(void* s, double* loss_sum, dendrite_device_status* status) {
        return guarded(status, [&] { *loss_sum = of(s)->take_loss(); });
    }
    static int predict_logits(void* s, const uint32_t* rows, size_t count, float* logits,
                              dendrite_device_status* status) {
        return guarded(status, [&] { of(s)->predict_logits(rows, count, logits); });
    }
    static void close(void* s) { delete of(s); }

    static const dendrite_device_api* table() {
        static const dendrite_device_api api = {DENDRITE_DEVICE_ABI_VERSION,
                                                describe,
                                                open,
                                                set_parameters,
                                                get_parameters,
                                                set_epoch_rows,
                                                step,
                                                take_loss,
                                                predict_logits,
                                                close};
        return &api;
    }
};

}  // namespace dendrite::device
