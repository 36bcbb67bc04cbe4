// The CUDA plugin's host side, which runs without a GPU: cuBLAS is found and its entry points resolve
// (kernels/cuda_backend.cuh opens it with dlopen), and calling through them answers (without a GPU,
// cublasCreate reports that it cannot initialise instead of succeeding).
#include <gtest/gtest.h>

#include "cuda_backend.cuh"

using namespace dendrite::device;

TEST(CudaLoader, CublasIsFoundAndItsEntryPointsResolve) {
    const cuda_detail::Cublas& table = cuda_detail::cublas();
    EXPECT_NE(table.create, nullptr);
    EXPECT_NE(table.destroy, nullptr);
    EXPECT_NE(table.set_stream, nullptr);
    EXPECT_NE(table.set_math_mode, nullptr);
    EXPECT_NE(table.set_pointer_mode, nullptr);
    EXPECT_NE(table.sgemm, nullptr);
    int devices = 0;
    const bool gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
    cublasHandle_t handle = nullptr;
    const cublasStatus_t status = table.create(&handle);
    if (gpu) {
        EXPECT_EQ(status, CUBLAS_STATUS_SUCCESS);
        table.destroy(handle);
    } else {
        EXPECT_NE(status, CUBLAS_STATUS_SUCCESS);
    }
}

TEST(CudaLoader, DescribeWithoutAGpuSaysWhy) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) GTEST_SKIP() << "a GPU is present";
    std::string name;
    try {
        CudaBackend::describe(&name);
        ADD_FAILURE() << "describe did not fail";
    } catch (const DeviceError& e) {
        EXPECT_EQ(e.code, DENDRITE_DEVICE_UNAVAILABLE);
        EXPECT_TRUE(e.message.rfind("No ", 0) == 0) << e.message;
    }
}
