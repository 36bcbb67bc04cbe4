// The CUDA plugin of the engine, loaded by dendrite.so with dlopen on first GPU use (never in the postmaster
// or _PG_init). Until the GPU issue lands it only answers whether a usable device is present; its C ABI is
// the narrow boundary: status codes, no exceptions, no C++ types.
#include <cuda_runtime.h>

extern "C" {

// Returns the number of usable CUDA devices (0 when there is none), or -1 when the runtime reports an
// error; message (size bytes) receives the reason.
__attribute__((visibility("default"))) int dendrite_cuda_device_count(char* message, int size) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        if (message && size > 0) {
            const char* text = cudaGetErrorString(status);
            int i = 0;
            for (; text[i] && i < size - 1; ++i) message[i] = text[i];
            message[i] = '\0';
        }
        return status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver ? 0 : -1;
    }
    return count;
}

}
