#include "pg/training_device.hpp"

#include <cstring>
#include <string>

#include "engine/device.hpp"
#include "pg/boundary.hpp"
#include "pg/settings.hpp"

namespace dendrite::pg {

namespace {

// The CUDA plugin and its first device, looked up once per backend (again when dendrite.cuda_library
// changes): plain data, as it lives as long as the backend.
struct GpuState {
    bool probed;
    char library[MAXPGPATH];
    const dendrite_device_api* api;  // null: no usable GPU, and why says why
    char why[700];
    char name[256];
};
GpuState gpu_state;
bool gpu_fallback_noticed = false;  // 'auto' says once per backend that it trains on the CPU for want of a GPU

const GpuState& probe_gpu() {
    char path[MAXPGPATH];
    const char* library = cuda_library ? cuda_library : "$libdir/dendrite_cuda.so";
    if (strncmp(library, "$libdir", 7) == 0)
        snprintf(path, sizeof path, "%s%s", pkglib_path, library + 7);
    else
        strlcpy(path, library, sizeof path);
    if (gpu_state.probed && strcmp(gpu_state.library, path) == 0) return gpu_state;
    memset(&gpu_state, 0, sizeof gpu_state);
    strlcpy(gpu_state.library, path, sizeof gpu_state.library);
    engine_call([&] {
        std::string why;
        const dendrite_device_api* api = engine::load_device_plugin(path, &why);
        if (!api) {
            snprintf(gpu_state.why, sizeof gpu_state.why, "The CUDA plugin could not be loaded: %s.", why.c_str());
            return;
        }
        int devices = 0;
        dendrite_device_status status{};
        if (api->describe(&devices, gpu_state.name, sizeof gpu_state.name, &status) != DENDRITE_DEVICE_OK)
            snprintf(gpu_state.why, sizeof gpu_state.why, "%s.", status.message);
        else if (devices == 0)
            snprintf(gpu_state.why, sizeof gpu_state.why, "No CUDA device is present.");
        else
            gpu_state.api = api;
    });
    gpu_state.probed = true;
    return gpu_state;
}

}  // namespace

bool device_is_required(const char* device) {
    if (strcmp(device, "cuda") == 0) return true;
    if (strcmp(device, "auto") == 0) return default_device == int(DefaultDevice::Cuda);
    if (strcmp(device, "cpu") == 0) return false;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown device \"%s\"", device),
                    errhint("Use 'auto', 'cpu' or 'cuda'.")));
    return false;
}

void require_gpu() {
    const GpuState& gpu = probe_gpu();
    if (!gpu.api)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("no usable GPU"), errdetail("%s", gpu.why),
                        errhint("Use device => 'cpu', or 'auto' to train on the GPU only when one is usable.")));
}

DeviceChoice choose_device(const char* device, const engine::TrainOptions& parsed, int n_index_features,
                           const int* index_feature) {
    const DeviceChoice cpu{"cpu", nullptr};
    const bool required = device_is_required(device);
    if (!required && (strcmp(device, "cpu") == 0 || default_device == int(DefaultDevice::Cpu))) return cpu;
    char unsupported[256] = "";
    engine_call([&] {
        engine::TrainOptions options = parsed;
        for (int i = 0; i < n_index_features; ++i) options.index_features.push_back({index_feature[i], 2});
        strlcpy(unsupported, engine::device_unsupported_reason(options).c_str(), sizeof unsupported);
    });
    if (required) {
        require_gpu();
        if (*unsupported)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("this model cannot train on the GPU"),
                            errdetail("%s.", unsupported), errhint("Use device => 'cpu' or 'auto'.")));
        return {"cuda", gpu_state.api};
    }
    const GpuState& gpu = probe_gpu();
    if (!gpu.api) {
        if (!gpu_fallback_noticed)
            ereport(NOTICE, (errmsg("no usable GPU: training on the CPU"), errdetail("%s", gpu.why),
                             errhint("SET dendrite.device = 'cpu' to train on the CPU without looking for one.")));
        gpu_fallback_noticed = true;
        return cpu;
    }
    if (*unsupported) {
        ereport(NOTICE, (errmsg("training on the CPU: %s", unsupported)));
        return cpu;
    }
    return {"cuda", gpu.api};
}

}  // namespace dendrite::pg
