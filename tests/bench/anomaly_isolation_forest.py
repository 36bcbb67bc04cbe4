"""The peer for tests/bench/anomaly_quality.sh: scikit-learn's IsolationForest fitted on exactly the feature
vectors dendrite's featurizer produces (exported with dendrite.featurize), without labels. Benchmarks only: no
Python in the product. Usage: anomaly_isolation_forest.py TRAIN_CSV TEST_CSV SCORES_CSV; each input line is
key,"{f1,f2,...}",ignored; the output line is key,score (higher: more anomalous)."""
import csv
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest


def read(path):
    keys, rows = [], []
    with open(path, newline="") as f:
        for key, features, _ in csv.reader(f):
            keys.append(key)
            rows.append([float(x) for x in features.strip("{}").split(",")])
    return keys, np.asarray(rows, dtype=np.float32)


_, x_train = read(sys.argv[1])
test_keys, x_test = read(sys.argv[2])
forest = IsolationForest(n_estimators=200, random_state=0, n_jobs=2)
start = time.perf_counter()
forest.fit(x_train)
fit_seconds = time.perf_counter() - start
scores = -forest.score_samples(x_test)  # score_samples is higher for normal rows
with open(sys.argv[3], "w", newline="") as f:
    csv.writer(f).writerows(zip(test_keys, scores))
print(f"IsolationForest (scikit-learn {sklearn.__version__}): {len(x_train)} training rows, fit in {fit_seconds:.2f} s",
      file=sys.stderr)
