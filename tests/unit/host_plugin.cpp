// A device plugin that runs kernels/device_trainer.hpp on the host emulation: the same C table as the CUDA
// plugin, so that the tests on machines without a GPU can point dendrite.cuda_library (or train_bench's
// DENDRITE_DEVICE_PLUGIN) at it and drive the whole device path inside a PostgreSQL backend. Never installed.
#include "host_backend.hpp"

extern "C" __attribute__((visibility("default"))) const dendrite_device_api* dendrite_device_api_v1(void) {
    return dendrite::device::Api<dendrite::device::HostBackend>::table();
}
