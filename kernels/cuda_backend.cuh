// The CUDA Backend of kernels/device_trainer.hpp: device memory, cuBLAS (FP32, no TF32, so that results
// stay within float tolerance of the CPU's) for the matrix products, and one generic kernel per launch of
// a per-element functor. Everything runs on one stream of its own; nothing synchronises but download().
// cuBLAS is opened with dlopen when the first session starts, not linked: loading the plugin then costs a
// backend little (cuBLAS's relocations alone are ~95 MB of private memory), which matters on the servers
// with no GPU where 'auto' loads it only to learn that there is none.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <string>

#include "device_trainer.hpp"

namespace dendrite::device {

namespace cuda_detail {

constexpr int kThreads = 256;

template <class F>
__global__ void for_each_kernel(size_t n, F f) {
    const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) f(i);
}

// One block, a fixed order of additions: the same sum on every run (atomics would not give that).
template <class F>
__global__ void sum_kernel(size_t n, F f, double* out, bool accumulate) {
    __shared__ double partial[kThreads];
    double s = 0;
    for (size_t i = threadIdx.x; i < n; i += kThreads) s += f(i);
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int width = kThreads / 2; width > 0; width /= 2) {
        if (int(threadIdx.x) < width) partial[threadIdx.x] += partial[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = accumulate ? *out + partial[0] : partial[0];
}

inline void check(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    const int code = status == cudaErrorMemoryAllocation ? DENDRITE_DEVICE_OUT_OF_MEMORY
                     : status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver
                         ? DENDRITE_DEVICE_UNAVAILABLE
                         : DENDRITE_DEVICE_FAILED;
    device_fail(code, std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

inline void check(cublasStatus_t status, const char* what) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    device_fail(status == CUBLAS_STATUS_ALLOC_FAILED ? DENDRITE_DEVICE_OUT_OF_MEMORY : DENDRITE_DEVICE_FAILED,
                std::string(what) + ": cuBLAS status " + std::to_string(int(status)));
}

// The cuBLAS entry points the backend calls (cublas_v2.h's macros name the _v2 symbols).
struct Cublas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSetPointerMode_v2) set_pointer_mode;
    decltype(&cublasSgemm_v2) sgemm;
};

inline Cublas load_cublas() {
    // The soname of the major version the plugin was compiled against, found through the plugin's
    // RUNPATH (the CUDA toolkit's library folder) or the loader's usual paths.
    const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char* error = dlerror();
        device_fail(DENDRITE_DEVICE_UNAVAILABLE, "cuBLAS could not be loaded: " + std::string(error ? error : name));
    }
    auto symbol = [&](const char* symbol_name) {
        void* address = dlsym(library, symbol_name);
        if (!address) device_fail(DENDRITE_DEVICE_UNAVAILABLE, name + " lacks " + symbol_name);
        return address;
    };
    Cublas table;
    table.create = reinterpret_cast<decltype(table.create)>(symbol("cublasCreate_v2"));
    table.destroy = reinterpret_cast<decltype(table.destroy)>(symbol("cublasDestroy_v2"));
    table.set_stream = reinterpret_cast<decltype(table.set_stream)>(symbol("cublasSetStream_v2"));
    table.set_math_mode = reinterpret_cast<decltype(table.set_math_mode)>(symbol("cublasSetMathMode"));
    table.set_pointer_mode = reinterpret_cast<decltype(table.set_pointer_mode)>(symbol("cublasSetPointerMode_v2"));
    table.sgemm = reinterpret_cast<decltype(table.sgemm)>(symbol("cublasSgemm_v2"));
    return table;
}

// Loaded once per process; a failed load is tried again by the next session (a static whose initialiser
// throws is not initialised).
inline const Cublas& cublas() {
    static const Cublas table = load_cublas();
    return table;
}

}  // namespace cuda_detail

class CudaBackend {
public:
    static int describe(std::string* name) {
        int count = 0;
        const cudaError_t status = cudaGetDeviceCount(&count);
        if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver)
            device_fail(DENDRITE_DEVICE_UNAVAILABLE,
                        status == cudaErrorNoDevice
                            ? "No CUDA device is present"
                            : std::string("No usable CUDA driver (") + cudaGetErrorString(status) + ")");
        cuda_detail::check(status, "cudaGetDeviceCount");
        if (count > 0) {
            cudaDeviceProp properties;
            cuda_detail::check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
            *name = properties.name;
        }
        return count;
    }

    CudaBackend() : api_(cuda_detail::cublas()) {
        cuda_detail::check(cudaSetDevice(0), "cudaSetDevice");
        cuda_detail::check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        const cublasStatus_t created = api_.create(&cublas_);
        if (created != CUBLAS_STATUS_SUCCESS) {
            cudaStreamDestroy(stream_);
            cuda_detail::check(created, "cublasCreate");
        }
        api_.set_stream(cublas_, stream_);
        api_.set_math_mode(cublas_, CUBLAS_PEDANTIC_MATH);  // plain FP32: no TF32 tensor-core rounding
        api_.set_pointer_mode(cublas_, CUBLAS_POINTER_MODE_HOST);
    }

    ~CudaBackend() {
        cudaStreamSynchronize(stream_);  // nothing in flight may touch memory freed after this
        api_.destroy(cublas_);
        cudaStreamDestroy(stream_);
    }

    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    size_t free_memory() const {
        size_t free = 0, total = 0;
        cuda_detail::check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
        return free;
    }

    void* allocate(size_t bytes) {
        void* p = nullptr;
        cuda_detail::check(cudaMalloc(&p, bytes), "cudaMalloc");
        return p;
    }
    void release(void* p) noexcept {
        cudaStreamSynchronize(stream_);
        cudaFree(p);
    }
    // From pageable host memory: waits until the copy is done, so the caller may reuse its buffer.
    void upload(void* dst, const void* src, size_t bytes) {
        cuda_detail::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpy to the GPU");
        cuda_detail::check(cudaStreamSynchronize(stream_), "the GPU's work");
    }
    void download(void* dst, const void* src, size_t bytes) {
        cuda_detail::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_),
                           "cudaMemcpy from the GPU");
        cuda_detail::check(cudaStreamSynchronize(stream_), "the GPU's work");
    }
    void zero(void* dst, size_t bytes) { cuda_detail::check(cudaMemsetAsync(dst, 0, bytes, stream_), "cudaMemset"); }

    void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
              float* c, int ldc) {
        const float one = 1.0f, zero = 0.0f;
        cuda_detail::check(
            api_.sgemm(cublas_, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                       k, &one, a, lda, b, ldb, &zero, c, ldc),
            "cublasSgemm");
    }

    template <class F>
    void for_each(size_t n, const F& f) {
        if (n == 0) return;
        const unsigned blocks = unsigned((n + cuda_detail::kThreads - 1) / cuda_detail::kThreads);
        cuda_detail::for_each_kernel<<<blocks, cuda_detail::kThreads, 0, stream_>>>(n, f);
        cuda_detail::check(cudaGetLastError(), "a kernel launch");
    }

    template <class F>
    void sum(size_t n, const F& f, double* out, bool accumulate) {
        cuda_detail::sum_kernel<<<1, cuda_detail::kThreads, 0, stream_>>>(n, f, out, accumulate);
        cuda_detail::check(cudaGetLastError(), "a kernel launch");
    }

private:
    const cuda_detail::Cublas& api_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
};

}  // namespace dendrite::device
