# What 'log,reasons' costs a guard (issue #25: <= 5 % over the same guard with 'log' alone when 1 % of the
# rows are flagged). One throw-away cluster, the generator's transactions; per model (an MLP 64-32 and gbdt
# with 300 trees of depth 6) the threshold is the 99th percentile of its scores, so about 1 % of the rows
# are flagged. A 60,000-row INSERT ... SELECT into a table with dendrite.guard (row trigger), 'log' against
# 'log,reasons', each run in a new session (a fresh inline history), interleaved over ROUNDS (default 5);
# prints the median of the paired ratios (reasons / log) and the flagged rows' share.
#   bash tests/bench/reasons_guard.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
make >/dev/null && make install >/dev/null
source scripts/cluster.sh
cluster_start >/dev/null
trap cluster_stop EXIT
psql -X -q -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
SET dendrite.device = 'cpu';
CREATE EXTENSION dendrite;
CREATE TABLE src AS SELECT * FROM dendrite.generate_transactions(days => 30) ORDER BY tx_time, transaction_id;
CREATE TABLE batch AS SELECT * FROM src ORDER BY tx_time, transaction_id LIMIT 60000;
CREATE TABLE dst (LIKE src); ALTER TABLE dst ADD PRIMARY KEY (transaction_id);
SELECT dendrite.create_featurizer('f', 'SELECT * FROM src', label => 'is_fraud', history_query => 'SELECT * FROM dst',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]}]');
SELECT dendrite.train('mlp', 'SELECT * FROM src', 'is_fraud', featurizer => 'f', hidden => '{64,32}', epochs => 3);
SELECT dendrite.train('gbdt', 'SELECT * FROM src', 'is_fraud', featurizer => 'f', algorithm => 'gbdt',
                      options => '{"rounds": 300, "max_depth": 6, "eta": 0.05}', patience => 0);
CREATE TABLE thresholds AS
SELECT m AS model, (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY score)
                      FROM dendrite.score_query(m, 'SELECT * FROM batch')) AS threshold
  FROM unnest(ARRAY['mlp', 'gbdt']) m;
CREATE TABLE results (model text, variant text, round int, seconds float8, flagged float8);
SQL
run() {  # model variant round
  local threshold
  threshold=$(psql -X -At -c "SELECT threshold FROM thresholds WHERE model = '$1'")
  # TRUNCATE, not DELETE: a DELETE leaves 60,000 dead rows a run in dendrite.predictions for autovacuum,
  # which could fall into the next run (the other variant of the same round).
  psql -X -q -c "TRUNCATE dst" -c "TRUNCATE dendrite.predictions" -c "DROP TRIGGER IF EXISTS g ON dst" \
       -c "CREATE TRIGGER g BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION dendrite.guard('$1', '$2', '$threshold')" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz := clock_timestamp();
BEGIN
  INSERT INTO dst SELECT * FROM batch;
  INSERT INTO results SELECT '$1', '$2', $3, extract(epoch FROM clock_timestamp() - started),
                             avg((decision = 'flag')::int) FROM dendrite.predictions;
END \$\$;
SQL
}
for round in $(seq "${ROUNDS:-5}"); do
  for model in mlp gbdt; do
    if [ $((round % 2)) -eq 1 ]; then  # the variants' order alternates, so neither always runs second
      run "$model" log "$round"; run "$model" log,reasons "$round"
    else
      run "$model" log,reasons "$round"; run "$model" log "$round"
    fi
  done
done
psql -X -q <<'SQL'
-- Each round's pair first: on a shared VM one slow round moves a median of five (and the MLP's whole effect
-- is a few per cent), so the spread is worth seeing beside it.
SELECT l.model, string_agg(to_char(r.seconds / l.seconds, 'FM0.000'), ' ' ORDER BY round) AS reasons_over_log_per_round
  FROM results l JOIN results r USING (model, round)
 WHERE l.variant = 'log' AND r.variant = 'log,reasons'
 GROUP BY l.model ORDER BY l.model;
SELECT l.model, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.seconds / l.seconds)::numeric, 3) AS reasons_over_log,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l.seconds)::numeric, 2) AS log_seconds,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.seconds)::numeric, 2) AS reasons_seconds,
       round(100 * avg(r.flagged)::numeric, 2) AS flagged_percent, count(*) AS rounds
  FROM results l JOIN results r USING (model, round)
 WHERE l.variant = 'log' AND r.variant = 'log,reasons'
 GROUP BY l.model ORDER BY l.model;
SQL
