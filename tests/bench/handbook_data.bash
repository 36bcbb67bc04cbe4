# The Fraud Detection Handbook's transactions (../shared/data) in table fdh: sourced by
# tests/bench/handbook_quality.sh and tune_quality.sh (from the repository's root; needs `make install`).
handbook_data="../shared/data/fdh_transactions_2018-04-01_2018-07-31.csv.xz"

# A throw-away cluster (stopped when the script exits) with the data loaded, and with XGBOOST=1 Debian's
# python3-xgboost, the benchmarks' peer (never a dependency of the product). Exits 77 without the data.
start_handbook_cluster() {
  [ -f "$handbook_data" ] || { echo "skipped: $handbook_data is absent"; exit 77; }
  if [ "${XGBOOST:-0}" = 1 ] && ! /usr/bin/python3 -c 'import xgboost' 2>/dev/null; then
    apt-get install -y -q python3-xgboost >/dev/null
  fi
  source scripts/cluster.sh
  trap cluster_stop EXIT
  cluster_start
  load_handbook_data "$handbook_data"
}

load_handbook_data() {
  psql -X -q -c "CREATE EXTENSION dendrite" \
       -c "CREATE TABLE fdh (transaction_id bigint PRIMARY KEY, tx_datetime timestamp, customer_id int, terminal_id int,
                             tx_amount float8, tx_time_seconds int, tx_time_days int, tx_fraud int)"
  xz -dc "$1" | psql -X -q -c "\copy fdh FROM STDIN WITH (FORMAT csv, HEADER true)"
  psql -X -q -c "ANALYZE fdh"
}
