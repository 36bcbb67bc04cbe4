#!/usr/bin/env bash
# dendrite's autoencoder against scikit-learn's IsolationForest (the peer, python3-sklearn, benchmarks only)
# on the Fraud Detection Handbook's data (../shared/data), with the labels hidden from training: both learn
# from the feature vectors of the training week (a featurizer with no label-derived feature: the customer's
# amount history and the terminal's transaction counts), and both score the assessment week two weeks after
# it (the handbook's dev split), measured by ROC-AUC, average precision and card precision@100. Then the
# supervised models (gbdt, MLP) with and without the autoencoder's score as a feature (anomaly => ...).
# Usage: tests/bench/anomaly_quality.sh [train_start] (default 2018-07-11). HIDDEN (default: train's, {64,16,64}) EPOCHS=20 SEED=1.
# Needs `make install`.
set -euo pipefail
cd "$(dirname "$0")/../.."
train_start="${1:-2018-07-11}"
train_end=$(date -d "$train_start + 7 days" +%F); test_start=$(date -d "$train_start + 14 days" +%F)
test_end=$(date -d "$train_start + 21 days" +%F)
source tests/bench/handbook_data.bash
if ! /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then apt-get install -y -q python3-sklearn >/dev/null; fi
start_handbook_cluster
echo "training week $train_start .. $train_end (exclusive), assessment week $test_start .. $test_end (exclusive)"
psql -X -q -v train_start="$train_start" -v train_end="$train_end" -v test_start="$test_start" -v test_end="$test_end" \
     -v hidden="${HIDDEN:-}" -v epochs="${EPOCHS:-20}" -v seed="${SEED:-1}" -f tests/bench/anomaly_quality.sql
