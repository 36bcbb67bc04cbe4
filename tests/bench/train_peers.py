"""Fit times of the other peers on train_bench's file: scikit-learn's MLPClassifier (64, 32, adam, the same batch and
epochs) and xgboost (hist, depth 6, eta 0.1, ROUNDS rounds, 2 threads). Usage: train_peers.py FILE ROWS COLUMNS EPOCHS BATCH ROUNDS"""
import sys
import time
import warnings

import numpy as np

path, rows, columns, epochs, batch, rounds = sys.argv[1], *map(int, sys.argv[2:7])
data = np.fromfile(path, dtype=np.float32, count=rows * (columns + 1)).reshape(rows, columns + 1)
n = rows - rows // 10
x, y = data[:n, :columns], data[:n, columns]

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

warnings.simplefilter("ignore", ConvergenceWarning)
start = time.perf_counter()
MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=batch, max_iter=epochs, tol=0, n_iter_no_change=10**9,
              random_state=42).fit(x, y)
seconds = time.perf_counter() - start
print(f"sklearn mlp batch={batch} epochs={epochs} step_samples_per_s={n * epochs / seconds:.0f} seconds={seconds:.3f}")

import xgboost

# xgboost's default histogram (256 bins), and dendrite's (1,024 bins: engine/gbdt.hpp says why), which is the
# same model dendrite fits: the comparison of like with like.
for max_bin in (256, 1024):
    start = time.perf_counter()
    xgboost.XGBClassifier(n_estimators=rounds, max_depth=6, learning_rate=0.1, tree_method="hist", n_jobs=2,
                          max_bin=max_bin).fit(x, y)
    print(f"xgboost gbdt rounds={rounds} max_bin={max_bin} seconds={time.perf_counter() - start:.3f}")
