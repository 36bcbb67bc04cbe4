# The Fraud Detection Handbook's transactions (../shared/data) in table fdh of the current cluster: sourced by
# tests/bench/handbook_quality.sh and tune_quality.sh (after cluster_start; needs `make install`).
load_handbook_data() {
  psql -X -q -c "CREATE EXTENSION dendrite" \
       -c "CREATE TABLE fdh (transaction_id bigint PRIMARY KEY, tx_datetime timestamp, customer_id int, terminal_id int,
                             tx_amount float8, tx_time_seconds int, tx_time_days int, tx_fraud int)"
  xz -dc "$1" | psql -X -q -c "\copy fdh FROM STDIN WITH (FORMAT csv, HEADER true)"
  psql -X -q -c "ANALYZE fdh"
}
