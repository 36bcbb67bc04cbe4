"""The training-speed benchmarks' data (tests/bench/training_speed.sh on the CPU, gpu_speed.sh on a GPU), so
that both measure on the same file: ROWS x COLUMNS standard-normal features, the label a noisy non-linear
function of 6 of them, ~3 % positive; rows x (columns + 1) little-endian float32, the label last.
Usage: python3 make_train_file.py PATH ROWS COLUMNS"""
import sys

import numpy as np

path, rows, columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
x = rng.standard_normal((rows, columns), dtype=np.float32)
z = 1.5 * x[:, 0] * x[:, 1] + np.abs(x[:, 2]) + 0.8 * x[:, 3] - 0.5 * x[:, 4] ** 2 + np.sin(2 * x[:, 5]) + 0.7 * rng.standard_normal(rows)
y = (z > np.quantile(z, 0.97)).astype(np.float32)
np.hstack([x, y[:, None]]).astype(np.float32).tofile(path)
