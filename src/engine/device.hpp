// Training on a device (the CUDA plugin) from the engine's side: loading a plugin, what it can train, and
// the RAII handle on one session. The engine stays free of CUDA: it sees only the C table of
// engine/device_abi.h, which a plugin built by nvcc (kernels/plugin.cu) or a test's host emulation provides.
#pragma once
#include "engine/engine_only.hpp"

#include <string>
#include <vector>

#include "engine/device_abi.h"
#include "engine/network.hpp"

namespace dendrite::engine {

struct TrainOptions;
struct Dataset;

// Opens a plugin with dlopen (once per path and process; never closed: CUDA's libraries do not support
// being unloaded) and returns its table, or null with the reason in *why.
const dendrite_device_api* load_device_plugin(const std::string& path, std::string* why);

// Why these options cannot train on a device, or "" when they can.
std::string device_unsupported_reason(const TrainOptions& options);

// One session on the device; every failure becomes an engine Error (out of memory: OutOfMemory, 53200).
class DeviceRun {
public:
    DeviceRun(const dendrite_device_api* api, const NetworkSpec& spec, const TrainOptions& options, const Dataset& data,
              size_t memory_budget);
    ~DeviceRun();
    DeviceRun(const DeviceRun&) = delete;
    DeviceRun& operator=(const DeviceRun&) = delete;

    void set_parameters(const AlignedFloats& parameters);
    void get_parameters(AlignedFloats* parameters);
    void set_epoch_rows(const std::vector<uint32_t>& rows);
    void step(size_t offset, size_t count, float positive_weight, float negative_weight, double learning_rate);
    double take_loss();
    void predict_logits(const std::vector<uint32_t>& rows, float* logits);

private:
    void check(int code);
    const dendrite_device_api* api_;
    // A network with piecewise-linear encodings trains on the device as the plain network of its first dense
    // layer's inputs: every row expanded here once (the encoding is fixed; the parameters' layout is the same).
    std::vector<float> expanded_features_;
    void* session_ = nullptr;
    dendrite_device_status status_{};
};

}  // namespace dendrite::engine
