#!/usr/bin/env bash
# What following labels costs an UPDATE (docs/sql.md, "Labels that arrive later"), on a throw-away cluster with the
# installed dendrite (needs `make install`; INSTALL=1 does it first). A table of generated payments, the last DAYS
# (default 5) of them inserted without their labels; then the chargebacks: one UPDATE setting those rows' labels,
# and UPDATES single-row statements (default 2,000) in one backend, each variant in a fresh session:
#   - no dendrite trigger on UPDATE (the baseline: what the update costs PostgreSQL);
#   - an empty PL/pgSQL AFTER UPDATE ... FOR EACH ROW trigger (the floor of any row trigger, for reference);
#   - dendrite.guard('m') AFTER UPDATE ... FOR EACH ROW in a session with no inline history (a job that only sets
#     labels: the relabellings are journaled for the other sessions);
#   - the same in a session whose inline history is built (each row relabelled in it too);
#   - a scoring guard fired BEFORE INSERT OR UPDATE, history built (a label alone: not scored again).
# The labels are reset (triggers off) between runs. ROUNDS (default 5) rotate the variants' order; the table is
# the median over rounds of each variant's time and of its time over the baseline's of the same round.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${INSTALL:-0}" = 1 ] && make >/dev/null && make install >/dev/null
rounds="${ROUNDS:-5}"
days="${DAYS:-5}"
updates="${UPDATES:-2000}"
source scripts/cluster.sh
cluster_start >/dev/null
trap cluster_stop EXIT
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION dendrite;
CREATE TABLE src AS SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, country, merchant_category,
                           is_fraud FROM dendrite.generate_transactions(days => 40, seed => 3) ORDER BY tx_time, transaction_id;
CREATE TABLE live (LIKE src); ALTER TABLE live ADD PRIMARY KEY (transaction_id), ADD COLUMN score float8;
INSERT INTO live SELECT *, NULL FROM src;
CREATE TABLE late AS SELECT transaction_id FROM src WHERE tx_time >= (SELECT max(tx_time) FROM src) - interval '$days days';
ALTER TABLE late ADD PRIMARY KEY (transaction_id);
UPDATE live SET is_fraud = NULL WHERE transaction_id IN (SELECT transaction_id FROM late);
SELECT dendrite.create_featurizer('m', 'SELECT * FROM src', label => 'is_fraud', history_query => 'SELECT * FROM live',
    columns => '{"transaction_id": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]},
                 {"entity": "terminal_id", "time": "tx_time", "label": "is_fraud", "delay": "7 days", "windows": ["7 days", "30 days"],
                  "aggregates": ["count", "fraud_rate"]}]');
SELECT dendrite.train('m', 'SELECT * FROM src', 'is_fraud', featurizer => 'm', hidden => '{16}', epochs => 1);
CREATE TABLE results (variant text, kind text, round int, ms float8);
CREATE FUNCTION empty_trigger() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NULL; END \$\$;
SQL
echo "# $(psql -X -At -c "SELECT count(*) FROM live") rows, $(psql -X -At -c "SELECT count(*) FROM late") of them labelled late; $updates single-row updates"
variants=("no dendrite trigger|" \
  "an empty PL/pgSQL AFTER UPDATE trigger|CREATE TRIGGER t AFTER UPDATE ON live FOR EACH ROW EXECUTE FUNCTION empty_trigger()" \
  "guard('m') AFTER UPDATE, no history built|CREATE TRIGGER t AFTER UPDATE ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m')" \
  "guard('m') AFTER UPDATE, history built|CREATE TRIGGER t AFTER UPDATE ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m')" \
  "guard('m', 'flag') BEFORE INSERT OR UPDATE, history built|CREATE TRIGGER t BEFORE INSERT OR UPDATE ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'score')")
run() {  # variant-index round
  local name="${variants[$1]%%|*}" ddl="${variants[$1]#*|}" warm=""
  psql -X -q -c "SET client_min_messages = warning" -c "DROP TRIGGER IF EXISTS t ON live" \
       -c "SET session_replication_role = replica" \
       -c "UPDATE live SET is_fraud = NULL WHERE transaction_id IN (SELECT transaction_id FROM late)" >/dev/null
  [ -n "$ddl" ] && psql -X -q -c "$ddl" >/dev/null
  [[ "$name" == *"history built"* ]] && warm="PERFORM dendrite.features('m', l) FROM live l LIMIT 1;"
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz;
BEGIN
  $warm
  started := clock_timestamp();
  UPDATE live l SET is_fraud = s.is_fraud FROM src s, late WHERE s.transaction_id = l.transaction_id AND late.transaction_id = l.transaction_id;
  INSERT INTO results VALUES (\$n\$$name\$n\$, 'one UPDATE of the late rows', $2, extract(epoch FROM clock_timestamp() - started) * 1000);
END \$\$;
SQL
  psql -X -q -c "SET session_replication_role = replica" \
       -c "UPDATE live SET is_fraud = NULL WHERE transaction_id IN (SELECT transaction_id FROM late)" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz; id bigint;
BEGIN
  $warm
  started := clock_timestamp();
  FOR id IN SELECT transaction_id FROM late ORDER BY transaction_id LIMIT $updates LOOP
    UPDATE live SET is_fraud = (id % 5 = 0) WHERE transaction_id = id;
  END LOOP;
  INSERT INTO results VALUES (\$n\$$name\$n\$, '$updates single-row UPDATEs', $2, extract(epoch FROM clock_timestamp() - started) * 1000);
END \$\$;
SQL
}
for round in $(seq 1 "$rounds"); do
  for k in 0 1 2 3 4; do run $(( (k + round) % 5 )) "$round"; done
done
psql -X -q -P pager=off <<'SQL'
SELECT r.kind, r.variant, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms)::numeric, 1) AS median_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms / b.ms)::numeric, 3) AS x_baseline
  FROM results r JOIN results b ON b.kind = r.kind AND b.round = r.round AND b.variant = 'no dendrite trigger'
 GROUP BY 1, 2 ORDER BY 1, 3;
SQL
