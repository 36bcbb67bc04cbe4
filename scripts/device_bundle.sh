#!/usr/bin/env bash
# Run here, before using the GPU machine (the `device` tool's `run`): that machine has CUDA, cmake, a C++
# compiler and PyTorch, but no Debian packages and no network. This puts what the engine's build needs
# there (Eigen, xgboost and its dmlc, GoogleTest; ~3 MB of .deb files) into .device/, which git ignores;
# name .device in run's carry, then run scripts/device_check.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device
cd .device
apt-get download libeigen3-dev libxgboost-dev libxgboost0 libdmlc0 libgtest-dev 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -la
