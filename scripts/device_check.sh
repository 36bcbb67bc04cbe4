#!/usr/bin/env bash
# On the GPU machine (see scripts/device_bundle.sh): builds the engine, the CUDA plugin and the unit tests
# standalone (no PostgreSQL) against the carried packages, then runs
#   1. the unit tests, GPU parity included (DeviceCuda.*: CPU vs GPU training, kernels vs the host
#      reference over 40 shapes), and the parity tests again under compute-sanitizer (memcheck);
#   2. the speed benchmark of issue #5 (BENCH=0 skips it): tests/bench/gpu_speed.sh.
# Files for the record go to $OUT when set (the run tool's folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/.device/root"
mkdir -p "$root"
for deb in .device/*.deb; do dpkg -x "$deb" "$root"; done
lib="$root/usr/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
nvidia-smi -L
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DDENDRITE_CLI=OFF -DDENDRITE_WERROR=OFF \
  -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_CXX_FLAGS="-isystem $root/usr/include -isystem $root/usr/include/eigen3" \
  -DCMAKE_EXE_LINKER_FLAGS="-L$lib -Wl,-rpath-link,$lib" -DCMAKE_SHARED_LINKER_FLAGS="-L$lib -Wl,-rpath-link,$lib" >/dev/null
cmake --build build-device -j"$(nproc)" --target engine_tests train_bench dendrite_cuda
out="${OUT:-/tmp}"
build-device/engine_tests 2>&1 | tee "$out/unit_tests.txt" | tail -25
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 3 build-device/engine_tests --gtest_filter='DeviceCuda.*' \
    2>&1 | tee "$out/compute_sanitizer.txt" | tail -8
fi
[ "${BENCH:-1}" = 0 ] || BUILD=build-device bash tests/bench/gpu_speed.sh 2>&1 | tee "$out/gpu_speed.txt"
