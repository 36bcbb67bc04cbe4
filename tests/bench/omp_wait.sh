#!/usr/bin/env bash
# What libgomp's wait policy costs a gbdt training inside the server (docs/sql.md, "gbdt on a busy server").
# A throw-away cluster; a 200-round dendrite.train on 100,000 rows x 8 columns, the server restarted between
# runs with and without OMP_WAIT_POLICY=passive in its environment (libgomp reads it once, when loaded),
# alternating, ROUNDS times each, first with HOGS busy processes beside it (default: one per core), then on
# an idle machine. Prints each run and the medians' ratio passive / default. Needs `make install`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster.sh
trap 'pkill -P $$ 2>/dev/null || true; cluster_stop' EXIT
cluster_start
psql -X -q -c "CREATE EXTENSION dendrite CASCADE" \
     -c "CREATE TABLE omp_rows AS SELECT i, random() < 0.03 AS label, random() a, random() b, random() c, random() d,
                random() e, random() f, random() g, random() h FROM generate_series(1, 100000) i"
restart() {  # $@: env's arguments for the server (-u NAME unsets, NAME=value sets)
  _cluster_as_owner env "$@" "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -m fast \
      restart >/dev/null
}
train_ms() {
  psql -X -q -At -c "SET client_min_messages = warning" \
       -c "SELECT dendrite.drop_model('omp') FROM dendrite.models WHERE name = 'omp'" -c '\timing on' \
       -c "SELECT count(*) FROM dendrite.train('omp', 'SELECT a, b, c, d, e, f, g, h, label FROM omp_rows', 'label',
                                               algorithm => 'gbdt', options => '{\"rounds\": 200}')" |
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
measure() {  # $1: label
  local defaults=() passives=()
  for round in $(seq "${ROUNDS:-3}"); do
    restart -u OMP_WAIT_POLICY; defaults+=("$(train_ms)")
    restart OMP_WAIT_POLICY=passive; passives+=("$(train_ms)")
    echo "$1, round $round: default ${defaults[-1]} ms, passive ${passives[-1]} ms"
  done
  local d p
  d=$(printf '%s\n' "${defaults[@]}" | median); p=$(printf '%s\n' "${passives[@]}" | median)
  echo "$1: median default $d ms, passive $p ms, passive / default $(awk -v p="$p" -v d="$d" 'BEGIN {printf "%.2f", p / d}')"
}
hogs=()
for _ in $(seq "${HOGS:-$(nproc)}"); do (while :; do :; done) & hogs+=($!); done
measure "$(echo "${HOGS:-$(nproc)}") busy processes beside it"
kill "${hogs[@]}" 2>/dev/null || true
wait "${hogs[@]}" 2>/dev/null || true
measure "idle machine"
