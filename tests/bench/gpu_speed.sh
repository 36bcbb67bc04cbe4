#!/usr/bin/env bash
# GPU training speed (issue #5), run on the GPU machine by scripts/device_check.sh: dendrite's engine on the
# GPU (the CUDA plugin) against PyTorch on the same GPU, same MLP (30 -> 64 -> 32 -> 1, ReLU, Adam lr 1e-3,
# FP32), batch 512 and 2048, on the CPU benchmark's data (make_train_file.py) at ROWS rows (1.17M by default,
# the size of the issue's "epoch in < 0.1 s"). Prints a table of samples/s and the ratio to the fastest torch configuration,
# and the floor: bytes and FLOPs per step.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
ROWS="${ROWS:-1170000}"
EPOCHS="${EPOCHS:-5}"
COLUMNS=30
PYTHON="${PYTHON:-python3}"  # the GPU machine's python3 holds PyTorch
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
data="$work/train.f32"
"$PYTHON" tests/bench/make_train_file.py "$data" "$ROWS" "$COLUMNS"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
results="$work/results.txt"
for batch in 512 2048; do
  DENDRITE_DEVICE_PLUGIN="$BUILD/dendrite_cuda.so" "$BUILD/train_bench" "$data" "$ROWS" "$COLUMNS" "$EPOCHS" "$batch" 1 | tee -a "$results"
  "$PYTHON" tests/bench/train_torch_gpu.py "$data" "$ROWS" "$COLUMNS" "$EPOCHS" "$batch" | tee -a "$results"
done
"$PYTHON" - "$results" "$ROWS" "$COLUMNS" <<'PY'
import re, sys
rows, columns = int(sys.argv[2]), int(sys.argv[3])
lines = [l for l in open(sys.argv[1]) if "step_samples_per_s=" in l]
def field(line, name):
    return re.search(name + r"=([\d.]+)", line).group(1)
print("\n| batch | dendrite GPU samples/s | fastest torch GPU samples/s | ratio | epoch of %d rows (s) |" % rows)
print("|---|---|---|---|---|")
for batch in ("512", "2048"):
    ours = [float(field(l, "step_samples_per_s")) for l in lines if l.startswith("dendrite-cuda") and f"batch={batch} " in l]
    torch = [float(field(l, "step_samples_per_s")) for l in lines if l.startswith("torch") and f"batch={batch} " in l]
    if ours and torch:
        print(f"| {batch} | {ours[0]:,.0f} | {max(torch):,.0f} | {ours[0] / max(torch):.2f}x | {0.9 * rows / ours[0]:.3f} |")
# The floor of one step of b rows: FLOPs of forward + backward (3 GEMM-sized passes per layer) and the
# bytes the step must move at least (the batch's rows, parameters, gradients and Adam's two moments).
widths = [columns, 64, 32, 1]
params = sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(3))
for b in (512, 2048):
    flops = 3 * 2 * b * sum(widths[i] * widths[i + 1] for i in range(3))
    bytes_ = 4 * (b * (columns + 1) + 4 * params * 2)
    print(f"floor, batch {b}: {flops / 1e6:.1f} MFLOP and {bytes_ / 1e6:.2f} MB per step, {params} parameters")
PY
