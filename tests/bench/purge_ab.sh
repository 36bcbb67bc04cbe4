# What a retention purge costs the other sessions' next guarded read, this tree's build ("after") against another
# ("before": its dendrite.so), in one cluster: one session builds its inline history (160,668 generated rows over
# 40 days; a customer and a terminal declaration, a 14-day horizon), another deletes 200 of the first 3 days' rows
# through dendrite.guard('m') fired AFTER DELETE ... FOR EACH ROW (400 entries of the shared ring, which holds 512
# without preloading), and the first session's next dendrite.features call is timed: a rebuild of its history, or
# nothing. ROUNDS (default 5) alternate the builds, swapped by a rename of the installed dendrite.so.
#   git worktree add /tmp/before <rev> && make -C /tmp/before && bash tests/bench/purge_ab.sh /tmp/before/dendrite.so
set -euo pipefail
other="$(realpath "${1:?usage: purge_ab.sh /path/to/the/other/build/dendrite.so}")"
cd "$(dirname "$0")/../.."
make >/dev/null && make install >/dev/null
lib=$(pg_config --pkglibdir)
rounds="${ROUNDS:-5}"
source scripts/cluster.sh
cluster_start >/dev/null
work="$(mktemp -d)"
cp "$other" "$work/before.so"; cp dendrite.so "$work/after.so"
# Swapped by a rename, never copied over: a backend that has the installed file mapped would die of SIGBUS.
install_so() { cp "$1" "$lib/.dendrite.so.swap" && mv -f "$lib/.dendrite.so.swap" "$lib/dendrite.so"; }
trap 'install_so "$work/after.so"; rm -rf "$work"; cluster_stop' EXIT
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION dendrite;
CREATE TABLE src AS SELECT transaction_id, tx_time, customer_id, terminal_id, amount, is_fraud
  FROM dendrite.generate_transactions(days => 40, seed => 3) ORDER BY tx_time, transaction_id;
CREATE TABLE live AS SELECT * FROM src;
ALTER TABLE live ADD PRIMARY KEY (transaction_id);
SELECT dendrite.create_featurizer('m', 'SELECT * FROM src', label => 'is_fraud', history_query => 'SELECT * FROM live',
    columns => '{"transaction_id": "ignore"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]},
                 {"entity": "terminal_id", "time": "tx_time", "label": "is_fraud", "delay": "7 days", "windows": ["7 days"], "aggregates": ["count", "fraud_rate"]}]');
SELECT dendrite.train('m', 'SELECT * FROM src', 'is_fraud', featurizer => 'm', hidden => '{8}', epochs => 1);
CREATE TRIGGER h AFTER DELETE ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m');
CREATE TABLE results (build text, round int, ms float8);
SQL
for round in $(seq 1 "$rounds"); do
  builds="before after"; [ $((round % 2)) = 0 ] && builds="after before"
  for build in $builds; do
    install_so "$work/$build.so"
    psql -X -q -c "SET session_replication_role = replica" -c "TRUNCATE live" -c "INSERT INTO live SELECT * FROM src" >/dev/null
    coproc reader { psql -X -q -A -t 2>&1; }
    echo "SET client_min_messages = warning; SELECT count(dendrite.features('m', l)) FROM (SELECT * FROM live LIMIT 1) l; \\echo built" >&"${reader[1]}"
    read -r _ <&"${reader[0]}"; read -r _ <&"${reader[0]}"
    psql -X -q -c "DELETE FROM live WHERE transaction_id IN (SELECT transaction_id FROM live WHERE tx_time < (SELECT min(tx_time) + interval '3 days' FROM src) ORDER BY transaction_id LIMIT 200)" >/dev/null
    echo "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN PERFORM dendrite.features('m', l) FROM (SELECT * FROM live ORDER BY transaction_id DESC LIMIT 1) l; INSERT INTO results VALUES ('$build', $round, extract(epoch FROM clock_timestamp() - t0) * 1000); END \$\$; \\echo measured" >&"${reader[1]}"
    read -r _ <&"${reader[0]}"
    echo '\q' >&"${reader[1]}"; wait "$reader_PID" 2>/dev/null || true
  done
done
psql -X -q -P pager=off -c "SELECT build, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS median_ms,
                                  round(min(ms)::numeric, 2) AS min_ms, round(max(ms)::numeric, 2) AS max_ms
                             FROM results GROUP BY 1 ORDER BY 1 DESC"
