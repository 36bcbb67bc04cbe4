// The CUDA plugin of the engine (dendrite_cuda.so), loaded by dendrite.so with dlopen on first GPU use,
// never in the postmaster or _PG_init: a server without CUDA loads and runs dendrite.so unchanged. Its only
// export is the C table of engine/device_abi.h; the session it drives is kernels/device_trainer.hpp on the
// CUDA backend of kernels/cuda_backend.cuh.
#include "cuda_backend.cuh"

extern "C" __attribute__((visibility("default"))) const dendrite_device_api* dendrite_device_api_v1(void) {
    return dendrite::device::Api<dendrite::device::CudaBackend>::table();
}
