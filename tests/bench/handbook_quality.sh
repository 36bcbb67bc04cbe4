#!/usr/bin/env bash
# Quality on the Fraud Detection Handbook's data (../shared/data), with the handbook's protocol: train on
# one week, skip a week, assess the next; report ROC-AUC, average precision and card precision@100 for
# logistic regression and the MLP. Usage: tests/bench/handbook_quality.sh [train_start]
# (default 2018-07-11; the handbook's other split starts 2018-07-04). Needs `make install` done.
# MLP settings can be overridden: HIDDEN='{64,32}' EPOCHS=20 LEARNING_RATE=0.001 BATCH_SIZE=256 CLASS_WEIGHT=none
# COMPARE_OPTIONS='{"rounds": 300, ...}' sets gbdt for compare() (default: gbdt's own defaults); HISTORY='[{...}]' replaces the featurizer's history declarations. XGBOOST=1 adds Debian's python3-xgboost on the same features (benchmark peer only).
# VALIDATION_FRACTION=0 (the handbook trains on the whole week) AMOUNT=log1p (or standardize); SEEDS='1 2 3' runs one seed after another
set -euo pipefail
cd "$(dirname "$0")/../.."
train_start="${1:-2018-07-11}"
dates=$(date -d "$train_start" +%F)
train_end=$(date -d "$dates + 7 days" +%F); test_start=$(date -d "$dates + 14 days" +%F); test_end=$(date -d "$dates + 21 days" +%F)

source tests/bench/handbook_data.bash
start_handbook_cluster
echo "training week $train_start .. $train_end (exclusive), assessment week $test_start .. $test_end (exclusive)"
# gbdt's settings for compare() and the history declarations; handbook_quality.sql has the defaults.
psql_variables=()
[ -n "${COMPARE_OPTIONS:-}" ] && psql_variables=(-v compare_options="$COMPARE_OPTIONS")
[ -n "${HISTORY:-}" ] && psql_variables+=(-v history="$HISTORY")
for seed in ${SEEDS:-1}; do
  echo "seed $seed"
  psql -X -q -v train_start="$train_start" -v train_end="$train_end" -v test_start="$test_start" -v test_end="$test_end" \
       -v hidden="${HIDDEN:-{64,32\}}" -v epochs="${EPOCHS:-20}" -v learning_rate="${LEARNING_RATE:-0.001}" \
       -v batch_size="${BATCH_SIZE:-256}" -v class_weight="${CLASS_WEIGHT:-none}" \
       -v validation_fraction="${VALIDATION_FRACTION:-0}" -v seed="$seed" -v amount="${AMOUNT:-log1p}" \
       -v xgboost="${XGBOOST:-0}" \
       "${psql_variables[@]}" \
       -f tests/bench/handbook_quality.sql
done
