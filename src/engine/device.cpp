#include "engine/device.hpp"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "engine/error.hpp"
#include "engine/trainer.hpp"

namespace dendrite::engine {

const dendrite_device_api* load_device_plugin(const std::string& path, std::string* why) {
    static std::mutex mutex;
    static std::map<std::string, const dendrite_device_api*> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = loaded.find(path); found != loaded.end()) return found->second;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* error = dlerror();
        *why = error ? error : ("cannot open " + path);
        return nullptr;  // not cached: the plugin may be installed later
    }
    auto entry = reinterpret_cast<dendrite_device_api_function>(dlsym(handle, DENDRITE_DEVICE_API_SYMBOL));
    const dendrite_device_api* api = entry ? entry() : nullptr;
    if (!api || api->abi_version != DENDRITE_DEVICE_ABI_VERSION) {
        *why = path + (api ? " was built for another version of dendrite" : " is not a dendrite device plugin");
        return nullptr;
    }
    loaded[path] = api;
    return api;
}

std::string device_unsupported_reason(const TrainOptions& options) {
    if (options.algorithm == "gbdt") return "gbdt trains with xgboost's CPU build";
    if (options.layer_norm) return "layer_norm is not implemented on the GPU";
    if (options.dropout > 0) return "dropout is not implemented on the GPU";
    if (!options.index_features.empty())
        return "embeddings (features of the 'index' encoding) are not implemented on the GPU";
    return {};
}

namespace {

int optimizer_code(const std::string& kind) {
    if (kind == "sgd") return DENDRITE_OPT_SGD;
    if (kind == "adamw") return DENDRITE_OPT_ADAMW;
    if (kind == "rmsprop") return DENDRITE_OPT_RMSPROP;
    return DENDRITE_OPT_ADAM;
}

}  // namespace

DeviceRun::DeviceRun(const dendrite_device_api* api, const NetworkSpec& spec, const TrainOptions& options,
                     const Dataset& data, size_t memory_budget)
    : api_(api) {
    const std::string reason = device_unsupported_reason(options);
    if (!reason.empty()) fail(ErrorKind::NotSupported, "this model cannot train on the GPU", reason);
    std::vector<int32_t> units, activations;
    for (const LayerSpec& layer : spec.layers) {
        units.push_back(layer.units);
        activations.push_back(int32_t(layer.activation));
    }
    const float* features = data.features;
    if (!spec.encodings.empty()) {
        const SpecView view(spec, nullptr);  // the edges are the spec's: no parameter is read
        const int width = spec.dense_inputs();
        const size_t encoded_bytes = data.rows * size_t(width) * sizeof(float);
        // kB under 10 MB (a small budget's figures would all read 0 MB), rounded up for what is needed.
        auto size_text = [](size_t bytes, bool up) {
            const bool kb = bytes < (size_t(10) << 20);
            const size_t unit = kb ? size_t(1) << 10 : size_t(1) << 20;
            return std::to_string((bytes + (up ? unit - 1 : 0)) / unit) + (kb ? " kB" : " MB");
        };
        if (encoded_bytes > options.host_memory_headroom)
            fail(ErrorKind::OutOfMemory, "the encoded training rows do not fit in dendrite.training_memory",
                 std::to_string(data.rows) + " rows with their piecewise-linear encodings, " + std::to_string(width) +
                     " values wide, need about " + size_text(encoded_bytes, true) +
                     " on the host for the GPU beside the rows held; " +
                     size_text(options.host_memory_headroom, false) + " of dendrite.training_memory are left.",
                 "Train on the CPU (device => 'cpu'), which encodes a batch at a time, train without the encoding "
                 "(options => '{\"piecewise_bins\": 0}'), or raise dendrite.training_memory if the machine has the "
                 "memory.");
        expanded_features_.resize(data.rows * size_t(width));
        for (size_t i = 0; i < data.rows; ++i)
            expand_inputs(view.view(), data.features + i * size_t(spec.inputs),
                          expanded_features_.data() + i * size_t(width));
        features = expanded_features_.data();
    }
    dendrite_device_config config{};
    config.inputs = spec.dense_inputs();
    config.layers = int32_t(spec.layers.size());
    config.units = units.data();
    config.activations = activations.data();
    const OptimizerOptions& o = options.optimizer;
    config.optimizer = optimizer_code(o.kind);
    config.momentum = o.momentum;
    config.beta1 = o.beta1;
    config.beta2 = o.beta2;
    config.epsilon = o.epsilon;
    config.alpha = o.alpha;
    config.weight_decay = o.weight_decay;
    config.nesterov = o.nesterov;
    config.loss = options.algorithm == "autoencoder" ? DENDRITE_LOSS_RECONSTRUCTION
                  : options.loss.kind == "focal"     ? DENDRITE_LOSS_FOCAL
                                                     : DENDRITE_LOSS_BCE;
    config.focal_gamma = options.loss.focal_gamma;
    config.clip_norm = options.clip_norm;
    config.max_batch = int32_t(std::min<size_t>(size_t(options.batch_size), data.rows));
    config.memory_budget = memory_budget;
    check(api_->open(&config, features, data.labels, data.rows, &session_, &status_));
}

DeviceRun::~DeviceRun() {
    if (session_) api_->close(session_);
}

void DeviceRun::check(int code) {
    if (code == DENDRITE_DEVICE_OK) return;
    const std::string message = status_.message;
    switch (code) {
        case DENDRITE_DEVICE_OUT_OF_MEMORY:
            fail(ErrorKind::OutOfMemory, "out of GPU memory", message,
                 "Train on fewer rows, raise dendrite.gpu_memory, or use device => 'cpu'.");
        case DENDRITE_DEVICE_UNAVAILABLE:
        case DENDRITE_DEVICE_INVALID:
            fail(ErrorKind::NotSupported, "the GPU cannot train this model", message);
        default:
            fail(ErrorKind::Internal, "the GPU failed while training", message,
                 "device => 'cpu' trains the same model on the CPU.");
    }
}

void DeviceRun::set_parameters(const AlignedFloats& parameters) {
    check(api_->set_parameters(session_, parameters.data(), parameters.size(), &status_));
}

void DeviceRun::get_parameters(AlignedFloats* parameters) {
    check(api_->get_parameters(session_, parameters->data(), parameters->size(), &status_));
}

void DeviceRun::set_epoch_rows(const std::vector<uint32_t>& rows) {
    check(api_->set_epoch_rows(session_, rows.data(), rows.size(), &status_));
}

void DeviceRun::step(size_t offset, size_t count, float positive_weight, float negative_weight, double learning_rate) {
    check(api_->step(session_, offset, int32_t(count), positive_weight, negative_weight, learning_rate, &status_));
}

double DeviceRun::take_loss() {
    double sum = 0;
    check(api_->take_loss(session_, &sum, &status_));
    return sum;
}

void DeviceRun::predict_logits(const std::vector<uint32_t>& rows, float* logits) {
    check(api_->predict_logits(session_, rows.data(), rows.size(), logits, &status_));
}

}  // namespace dendrite::engine
