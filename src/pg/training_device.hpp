// Where dendrite.train runs: the CPU, or the GPU through the CUDA plugin (dendrite_cuda.so, loaded with
// dlopen on first use and probed once per backend), as the device argument and dendrite.device ask.
#pragma once

#include "engine/device_abi.h"
#include "engine/trainer.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Where a training runs: the CPU, or the GPU through the CUDA plugin.
struct DeviceChoice {
    const char* name;                // stored with the version and returned by train: "cpu" | "cuda"
    const dendrite_device_api* api;  // null: the CPU
};

// The device argument's value, before any row is read; a training that must run on the GPU (device =>
// 'cuda', or 'auto' with dendrite.device = 'cuda') fails here when there is none.
bool device_is_required(const char* device);
// 0A000 with the reason when no GPU is usable.
void require_gpu();
// Once the featurizer is known (its index features decide whether a network embeds): the CPU or the GPU.
DeviceChoice choose_device(const char* device, const engine::TrainOptions& parsed, int n_index_features,
                           const int* index_feature);

}  // namespace dendrite::pg
