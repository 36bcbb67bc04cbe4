// A Backend for kernels/device_trainer.hpp that runs on the CPU: memory from malloc, cuBLAS's gemm
// semantics written out, per-element launches as loops. It lets CI (no GPU) run the device session's exact
// sequence of operations and compare it with the engine's trainer; the CUDA backend differs only in where
// each operation runs.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "../../kernels/device_trainer.hpp"

namespace dendrite::device {

class HostBackend {
public:
    static int describe(std::string* name) {
        *name = "host emulation";
        return 1;
    }
    // Tests set this to make the session's budget check or an allocation fail.
    static inline size_t free_bytes = size_t(1) << 40;
    static inline int allocations_before_failure = -1;  // -1: never fail

    size_t free_memory() const { return free_bytes; }
    void* allocate(size_t bytes) {
        if (allocations_before_failure == 0) device_fail(DENDRITE_DEVICE_OUT_OF_MEMORY, "out of memory (emulated)");
        if (allocations_before_failure > 0) --allocations_before_failure;
        void* p = std::malloc(bytes);
        if (!p) device_fail(DENDRITE_DEVICE_OUT_OF_MEMORY, "out of memory");
        ++live_allocations;
        return p;
    }
    void release(void* p) noexcept {
        if (p) --live_allocations;
        std::free(p);
    }
    void upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
    void download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
    void zero(void* dst, size_t bytes) { std::memset(dst, 0, bytes); }

    // cublasSgemm with alpha 1, beta 0: C (m x n) = op(A) op(B), column-major, op(A) m x k.
    void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
              float* c, int ldc) {
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) {
                float sum = 0;
                for (int p = 0; p < k; ++p) {
                    const float av = transpose_a ? a[p + size_t(i) * lda] : a[i + size_t(p) * lda];
                    const float bv = transpose_b ? b[j + size_t(p) * ldb] : b[p + size_t(j) * ldb];
                    sum += av * bv;
                }
                c[i + size_t(j) * ldc] = sum;
            }
    }
    template <class F>
    void for_each(size_t n, const F& f) {
        for (size_t i = 0; i < n; ++i) f(i);
    }
    template <class F>
    void sum(size_t n, const F& f, double* out, bool accumulate) {
        double total = 0;
        for (size_t i = 0; i < n; ++i) total += f(i);
        *out = accumulate ? *out + total : total;
    }

    static inline long live_allocations = 0;  // what the tests check for leaks
};

}  // namespace dendrite::device
