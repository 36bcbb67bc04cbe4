// The CUDA Backend of kernels/device_trainer.hpp: device memory, cuBLAS (FP32, no TF32, so that results
// stay within float tolerance of the CPU's) for the matrix products, and one generic kernel per launch of
// a per-element functor. Everything runs on one stream of its own; nothing synchronises but download().
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

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

}  // namespace cuda_detail

class CudaBackend {
public:
    static int describe(std::string* name) {
        int count = 0;
        const cudaError_t status = cudaGetDeviceCount(&count);
        if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver)
            device_fail(DENDRITE_DEVICE_UNAVAILABLE,
                        status == cudaErrorNoDevice ? "No CUDA device is present"
                                                    : std::string("No usable CUDA driver (") + cudaGetErrorString(status) + ")");
        cuda_detail::check(status, "cudaGetDeviceCount");
        if (count > 0) {
            cudaDeviceProp properties;
            cuda_detail::check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
            *name = properties.name;
        }
        return count;
    }

    CudaBackend() {
        cuda_detail::check(cudaSetDevice(0), "cudaSetDevice");
        cuda_detail::check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        const cublasStatus_t created = cublasCreate(&cublas_);
        if (created != CUBLAS_STATUS_SUCCESS) {
            cudaStreamDestroy(stream_);
            cuda_detail::check(created, "cublasCreate");
        }
        cublasSetStream(cublas_, stream_);
        cublasSetMathMode(cublas_, CUBLAS_PEDANTIC_MATH);  // plain FP32: no TF32 tensor-core rounding
        cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST);
    }

    ~CudaBackend() {
        cudaStreamSynchronize(stream_);  // nothing in flight may touch memory freed after this
        cublasDestroy(cublas_);
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
        cuda_detail::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy from the GPU");
        cuda_detail::check(cudaStreamSynchronize(stream_), "the GPU's work");
    }
    void zero(void* dst, size_t bytes) { cuda_detail::check(cudaMemsetAsync(dst, 0, bytes, stream_), "cudaMemset"); }

    void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda, const float* b,
              int ldb, float* c, int ldc) {
        const float one = 1.0f, zero = 0.0f;
        cuda_detail::check(cublasSgemm(cublas_, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &one, a, lda, b, ldb, &zero, c,
                                       ldc),
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
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
};

}  // namespace dendrite::device
