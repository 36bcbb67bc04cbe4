"""The peer for tests/bench/handbook_quality.sh: Debian's python3-xgboost trained on exactly the feature
vectors dendrite's featurizer produces (exported with dendrite.featurize). Benchmarks only: no Python
in the product. Usage: handbook_xgboost.py TRAIN_CSV TEST_CSV SCORES_CSV; each input line is
key,"{f1,f2,...}",label; the output line is key,score."""
import csv
import sys
import time

import numpy as np
import xgboost


def read(path):
    keys, rows, labels = [], [], []
    with open(path, newline="") as f:
        for key, features, label in csv.reader(f):
            keys.append(key)
            rows.append([float(x) for x in features.strip("{}").split(",")])
            labels.append(int(label))
    return keys, np.asarray(rows, dtype=np.float32), np.asarray(labels)


_, x_train, y_train = read(sys.argv[1])
test_keys, x_test, _ = read(sys.argv[2])
model = xgboost.XGBClassifier(n_estimators=200, max_depth=6, learning_rate=0.1, tree_method="hist", n_jobs=2,
                              random_state=0, eval_metric="aucpr")
start = time.perf_counter()
model.fit(x_train, y_train)
fit_seconds = time.perf_counter() - start
scores = model.predict_proba(x_test)[:, 1]
with open(sys.argv[3], "w", newline="") as f:
    csv.writer(f).writerows(zip(test_keys, scores))
print(f"xgboost {xgboost.__version__}: {len(y_train)} training rows, fit in {fit_seconds:.2f} s", file=sys.stderr)
