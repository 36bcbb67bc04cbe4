# The row guard of another build ("before": its dendrite.so) against this tree's ("after") in one cluster,
# for a change that should cost the guard nothing: the installed dendrite.so is swapped between runs (every
# run is a new session, which loads the file afresh), so both score with the same model and catalog. In one
# backend, 100,000 single-row INSERT statements with no trigger and with dendrite.guard 'flag', then one
# 100,000-row INSERT ... SELECT; pgbench (2 clients, 5 s) the same. ROUNDS (default 4) alternate the builds;
# the last table is the median over rounds of after / before. The other build must use the same catalog (the
# SQL of this tree is installed).
#   git worktree add /tmp/before <rev> && make -C /tmp/before && bash tests/bench/guard_ab.sh /tmp/before/dendrite.so
set -euo pipefail
other="$(realpath "${1:?usage: guard_ab.sh /path/to/the/other/build/dendrite.so}")"
cd "$(dirname "$0")/../.."
make >/dev/null && make install >/dev/null
lib=$(pg_config --pkglibdir)
source scripts/cluster.sh
cluster_start >/dev/null
trap cluster_stop EXIT
psql -X -q -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dendrite;
CREATE TABLE src AS SELECT * FROM dendrite.generate_transactions(days => 25) ORDER BY tx_time, transaction_id;
CREATE TABLE dst (LIKE src); ALTER TABLE dst ADD PRIMARY KEY (transaction_id), ADD COLUMN fraud_score float8;
CREATE SEQUENCE ids START 100000000;
SELECT dendrite.create_featurizer('m', 'SELECT * FROM src ORDER BY tx_time, transaction_id', label => 'is_fraud', history_query => 'SELECT * FROM dst',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]}]');
SELECT dendrite.train('m', 'SELECT * FROM src ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'm', hidden => '{64,32}', epochs => 2);
CREATE TABLE results (side text, variant text, round int, rate float8);
SQL
work="$(mktemp -d)"
cp "$other" "$work/dendrite_before.so"; cp dendrite.so "$work/dendrite_after.so"
# Swapped by a rename, never copied over: a backend of any cluster that has the installed file mapped would die
# of SIGBUS if its pages changed under it.
install_so() { cp "$1" "$lib/.dendrite.so.swap" && mv -f "$lib/.dendrite.so.swap" "$lib/dendrite.so"; }
trap 'install_so "$work/dendrite_after.so"; rm -rf "$work"; cluster_stop' EXIT
cat > "$work/insert.sql" <<'SQL'
\set customer random(1, 2000)
\set terminal random(1, 4000)
\set cents random(100, 20000)
INSERT INTO dst (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
VALUES (nextval('ids'), localtimestamp, :customer, :terminal, :cents / 100.0, :customer % 3 = 0, '10.1.2.3', 'FR', 'grocery', false, 0);
SQL
run() {  # side variant ddl round
  psql -X -q -c "SET client_min_messages = warning" -c "TRUNCATE dst" -c "DROP TRIGGER IF EXISTS t ON dst" >/dev/null
  [ -n "$3" ] && psql -X -q -c "$3" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz := clock_timestamp();
BEGIN
  FOR i IN 0..100000 LOOP
    IF i = 1 THEN started := clock_timestamp(); END IF;
    INSERT INTO dst (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    VALUES (200000000 + i, localtimestamp, 1 + i % 2000, 1 + i % 4000, (100 + i % 19900) / 100.0, i % 3 = 0, '10.1.2.3', 'FR', 'grocery', false, 0);
  END LOOP;
  INSERT INTO results VALUES ('$1', 'statements: $2', $4, 100000 / extract(epoch FROM clock_timestamp() - started));
END \$\$;
SQL
  psql -X -q -c "TRUNCATE dst" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz := clock_timestamp();
BEGIN
  INSERT INTO dst (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
  SELECT 300000000 + i, localtimestamp, 1 + i % 2000, 1 + i % 4000, (100 + i % 19900) / 100.0, i % 3 = 0, '10.1.2.3', 'FR', 'grocery', false, 0
    FROM generate_series(1, 100000) i;
  INSERT INTO results VALUES ('$1', 'bulk insert: $2', $4, 100000 / extract(epoch FROM clock_timestamp() - started));
END \$\$;
SQL
  psql -X -q -c "TRUNCATE dst" >/dev/null
  rate=$(pgbench -n -c 2 -j 2 -T 5 -f "$work/insert.sql" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  psql -X -q -c "INSERT INTO results VALUES ('$1', 'pgbench: $2', $4, ${rate:-0})"
}
for round in $(seq "${ROUNDS:-4}"); do
  for side in before after; do
    install_so "$work/dendrite_$side.so"
    run $side "no trigger" "" $round
    run $side "guard flag" "CREATE TRIGGER t BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'fraud_score')" $round
  done
done
psql -X -c "SELECT variant, side, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY rate)::numeric) AS median, string_agg(round(rate)::text, ' ' ORDER BY round) AS runs FROM results GROUP BY 1, 2 ORDER BY 1, 2"
psql -X -c "SELECT b.variant, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY a.rate / b.rate))::numeric, 3) AS paired_median_after_over_before FROM results a JOIN results b ON a.variant = b.variant AND a.round = b.round AND a.side = 'after' AND b.side = 'before' GROUP BY 1 ORDER BY 1"
