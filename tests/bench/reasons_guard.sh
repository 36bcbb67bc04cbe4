# What 'log,reasons' costs a guard (issue #25: <= 5 % over the same guard with 'log' alone when 1 % of the
# rows are flagged). One throw-away cluster, the generator's transactions; per model (an MLP 64-32 and gbdt
# with 300 trees of depth 6, and gbdt as train's defaults make it: trees of depth 4) the threshold is the 99th
# percentile of its scores, so about 1 % of the rows are flagged. 60,000 rows go into two tables, one guarded by dendrite.guard (row trigger) with 'log', the
# other with 'log,reasons', in slices of SLICE rows (default 1,000) that alternate between the two within one
# session: this VM's speed drifts by tens of per cent over seconds, and a pair of slices a few milliseconds
# apart sees the same speed where two 60,000-row inserts did not (their rounds' ratios ran 0.65-1.41).
# Each table has its own featurizer and model (the same declarations and training, so the same scores): a
# featurizer's inline history follows the rows inserted in the session, and one history seeing every row
# twice would score other features. A round is two passes over the batch (each a new session, the tables
# emptied), the second with every pair's order reversed. Over ROUNDS (default 5) it prints each round's
# ratio (the summed seconds of the 'log,reasons' slices over the 'log' ones), their median, and the flagged
# rows' share. Seconds are one pass's (the median round's, halved).
#   bash tests/bench/reasons_guard.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
make >/dev/null && make install >/dev/null
source scripts/cluster.sh
cluster_start >/dev/null
trap cluster_stop EXIT
psql -X -q -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -v slice="${SLICE:-1000}" >/dev/null <<'SQL'
SET client_min_messages = warning;
SET dendrite.device = 'cpu';
CREATE EXTENSION dendrite;
CREATE TABLE src AS SELECT * FROM dendrite.generate_transactions(days => 30) ORDER BY tx_time, transaction_id;
CREATE TABLE batch AS SELECT * FROM src ORDER BY tx_time, transaction_id LIMIT 60000;
-- Slice k of the batch: the rows after its first bound up to its last, in time order, by an index range scan.
CREATE INDEX ON batch (tx_time, transaction_id);
CREATE TABLE slices AS
SELECT slice, min(tx_time) AS first_time, min(transaction_id) FILTER (WHERE first) AS first_id,
       max(tx_time) AS last_time, max(transaction_id) FILTER (WHERE last) AS last_id
  FROM (SELECT *, row_number() OVER (PARTITION BY slice ORDER BY tx_time, transaction_id) = 1 AS first,
               row_number() OVER (PARTITION BY slice ORDER BY tx_time DESC, transaction_id DESC) = 1 AS last
          FROM (SELECT tx_time, transaction_id,
                       (row_number() OVER (ORDER BY tx_time, transaction_id) - 1) / :slice AS slice
                  FROM batch) numbered) marked
 GROUP BY slice;
CREATE TABLE dst_log (LIKE src); ALTER TABLE dst_log ADD PRIMARY KEY (transaction_id);
CREATE TABLE dst_reasons (LIKE src); ALTER TABLE dst_reasons ADD PRIMARY KEY (transaction_id);
CREATE TABLE models (model text, variant text, target text, threshold float8);
DO $$
DECLARE
  kind text;
  variant text;
BEGIN
  FOREACH variant IN ARRAY ARRAY['log', 'reasons'] LOOP
    PERFORM dendrite.create_featurizer('f_' || variant, 'SELECT * FROM src', label => 'is_fraud',
        history_query => 'SELECT * FROM dst_' || variant,
        columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "amount": "log1p"}',
        history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]}]');
    PERFORM dendrite.train('mlp_' || variant, 'SELECT * FROM src', 'is_fraud', featurizer => 'f_' || variant,
                           hidden => '{64,32}', epochs => 3);
    PERFORM dendrite.train('gbdt_' || variant, 'SELECT * FROM src', 'is_fraud', featurizer => 'f_' || variant,
                           algorithm => 'gbdt', options => '{"rounds": 300, "max_depth": 6, "eta": 0.05}',
                           patience => 0);
    PERFORM dendrite.train('gbdt_defaults_' || variant, 'SELECT * FROM src', 'is_fraud',
                           featurizer => 'f_' || variant, algorithm => 'gbdt');
    FOREACH kind IN ARRAY ARRAY['mlp', 'gbdt', 'gbdt_defaults'] LOOP
      INSERT INTO models
      SELECT kind, variant, 'dst_' || variant,
             (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY score)
                FROM dendrite.score_query(kind || '_' || variant, 'SELECT * FROM batch'));
    END LOOP;
  END LOOP;
END $$;
CREATE TABLE results (model text, round int, phase int, log_seconds float8, reasons_seconds float8,
                      log_flagged float8, reasons_flagged float8);
SQL
run() {  # model round phase
  local log_threshold reasons_threshold
  log_threshold=$(psql -X -At -c "SELECT threshold FROM models WHERE model = '$1' AND variant = 'log'")
  reasons_threshold=$(psql -X -At -c "SELECT threshold FROM models WHERE model = '$1' AND variant = 'reasons'")
  # TRUNCATE, not DELETE: a DELETE leaves dead rows in dendrite.predictions for autovacuum, which could fall
  # into the next round.
  psql -X -q -c "TRUNCATE dst_log, dst_reasons" -c "TRUNCATE dendrite.predictions" \
       -c "DROP TRIGGER IF EXISTS g ON dst_log" -c "DROP TRIGGER IF EXISTS g ON dst_reasons" \
       -c "CREATE TRIGGER g BEFORE INSERT ON dst_log FOR EACH ROW EXECUTE FUNCTION dendrite.guard('${1}_log', 'log', '$log_threshold')" \
       -c "CREATE TRIGGER g BEFORE INSERT ON dst_reasons FOR EACH ROW EXECUTE FUNCTION dendrite.guard('${1}_reasons', 'log,reasons', '$reasons_threshold')" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE
  seconds float8[] := '{0, 0}';
  targets text[] := '{dst_log, dst_reasons}';
  started timestamptz;
  bounds record;
  first int;
  t int;
BEGIN
  FOR bounds IN SELECT * FROM slices ORDER BY slice LOOP
    first := 1 + (bounds.slice + $3) % 2;  -- which table takes the slice first alternates
    FOREACH t IN ARRAY ARRAY[first, 3 - first] LOOP
      started := clock_timestamp();
      EXECUTE format('INSERT INTO %I SELECT * FROM batch WHERE (tx_time, transaction_id) >= (\$1, \$2) '
                     'AND (tx_time, transaction_id) <= (\$3, \$4) ORDER BY tx_time, transaction_id', targets[t])
        USING bounds.first_time, bounds.first_id, bounds.last_time, bounds.last_id;
      seconds[t] := seconds[t] + extract(epoch FROM clock_timestamp() - started);
    END LOOP;
  END LOOP;
  INSERT INTO results
  SELECT '$1', $2, $3, seconds[1], seconds[2],
         avg((decision = 'flag')::int) FILTER (WHERE table_name = 'public.dst_log'),
         avg((decision = 'flag')::int) FILTER (WHERE table_name = 'public.dst_reasons')
    FROM dendrite.predictions;
END \$\$;
SQL
}
for round in $(seq "${ROUNDS:-5}"); do
  for model in mlp gbdt gbdt_defaults; do
    run "$model" "$round" $((round % 2)); run "$model" "$round" $(((round + 1) % 2))
  done
done
psql -X -q <<'SQL'
-- A round's two passes together: the slices that hold more flagged rows took them first in one pass and
-- second in the other (the second of a pair finds the batch's pages and the card's history warm).
CREATE TEMP VIEW rounds AS
SELECT model, round, sum(log_seconds) AS log_seconds, sum(reasons_seconds) AS reasons_seconds,
       avg(log_flagged) AS log_flagged, avg(reasons_flagged) AS reasons_flagged
  FROM results GROUP BY model, round;
SELECT model, string_agg(to_char(reasons_seconds / log_seconds, 'FM0.000'), ' ' ORDER BY round) AS reasons_over_log_per_round
  FROM rounds GROUP BY model ORDER BY model;
SELECT model, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY reasons_seconds / log_seconds)::numeric, 3) AS reasons_over_log,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY log_seconds / 2)::numeric, 2) AS log_seconds,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY reasons_seconds / 2)::numeric, 2) AS reasons_seconds,
       round(100 * avg(log_flagged)::numeric, 2) AS log_flagged_percent,
       round(100 * avg(reasons_flagged)::numeric, 2) AS reasons_flagged_percent, count(*) AS rounds
  FROM rounds GROUP BY model ORDER BY model;
SQL
