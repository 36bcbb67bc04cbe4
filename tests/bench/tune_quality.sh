#!/usr/bin/env bash
# dendrite.tune against train()'s defaults on the Fraud Detection Handbook's data (../shared/data), the
# handbook's protocol over consecutive weeks: for each training week [s, s + 7 days), both models train on the
# WEEKS weeks (default 4) that end with it (earlier rows feed history only, since => ...), tune choosing on
# FOLDS (default 2) prequential weekly folds inside those weeks; both are assessed on [s + 14, s + 21 days)
# (ROC-AUC, average precision, card precision@100, as handbook_quality.sh), with gbdt's defaults and the blend of
# the two defaults (algorithm => 'blend') for reference.
# Usage: tests/bench/tune_quality.sh [train_start ...] (default: 2018-06-20 2018-06-27 2018-07-04 2018-07-11,
# four consecutive assessment weeks). ALGORITHM=mlp TRIALS=12 SEED=1 SEARCH='{...}' (default: tune's own);
# XGBOOST=1 adds Debian's python3-xgboost on the same feature vectors (the benchmark's peer, installed if absent).
# Needs `make install`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/handbook_data.bash
start_handbook_cluster
search_variable=()
[ -n "${SEARCH:-}" ] && search_variable=(-v search="$SEARCH")
for train_start in ${*:-2018-06-20 2018-06-27 2018-07-04 2018-07-11}; do
  train_end=$(date -d "$train_start + 7 days" +%F); test_start=$(date -d "$train_start + 14 days" +%F)
  test_end=$(date -d "$train_start + 21 days" +%F); window_start=$(date -d "$train_end - $(( ${WEEKS:-4} * 7 )) days" +%F)
  echo "training weeks $window_start .. $train_end (exclusive), assessment week $test_start .. $test_end (exclusive)"
  psql -X -q -v train_start="$train_start" -v train_end="$train_end" -v test_start="$test_start" -v test_end="$test_end" \
       -v window_start="$window_start" -v algorithm="${ALGORITHM:-mlp}" -v folds="${FOLDS:-2}" -v trials="${TRIALS:-12}" \
       -v seed="${SEED:-1}" -v xgboost="${XGBOOST:-0}" "${search_variable[@]}" -f tests/bench/tune_quality.sql
done
