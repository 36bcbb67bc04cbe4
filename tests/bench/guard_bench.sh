#!/usr/bin/env bash
# Inline scoring speed (issue #6) on a throw-away cluster (needs `make install`): the cost of the guard
# triggers against the insert itself, measured in one run.
#
#   1. a bulk INSERT ... SELECT of ROWS rows (default 1,000,000) into a table: no trigger, an empty PL/pgSQL
#      trigger, dendrite.guard 'flag', dendrite.guard_batch 'flag' (updates the flagged rows) with a
#      transition table and with the row capture, 'flag,log', and the peer, a PL/Python trigger scoring a
#      numpy MLP 30-64-32-1; then no trigger, the empty trigger and the guards again on the same table with
#      indexes on (customer_id, tx_time) and (terminal_id, tx_time);
#   2. pgbench single-row inserts (2 clients, synchronous_commit off, RUN_SECONDS each): no trigger, 'reject'
#      (threshold 1: it scores every row and rejects none of these modest amounts),
#      'flag', and the numpy peer;
#   3. single-row INSERT statements in a PL/pgSQL loop in one backend (STATEMENTS each): no trigger, an
#      empty PL/pgSQL trigger, 'reject', 'flag': the per-statement cost without pgbench's noise;
#   4. SELECT dendrite.score('m', t) FROM t over the same rows, in one backend;
#   5. issue #26's bank-shaped table (BANK_ROWS rows, default 300,000; 20,000 customers, a timestamptz, a
#      numeric amount, a text channel, a customer history of 1 and 7 days, train's default MLP): the plain
#      insert, an empty PL/pgSQL trigger that sets the score column (the floor of any row trigger), the row
#      guard, and guard_batch's row capture and transition table with none, 1 % and 10 % of rows flagged
#      (10 % also into a table with fillfactor 90), and the write-back's floor: the plain insert followed by
#      an UPDATE of 10 % of the rows by key, at fillfactor 100 and 90;
#   6. (bank_slices) the plain insert, the empty trigger and the row guard on that table again,
#      interleaved in slices within one session (see there): the comparison #26 asks for, at a resolution
#      of a per cent or two where separate loads drift by tens.
#
# The model is an MLP 64-32 over a featurizer of 9 raw columns with 6 customer-history features. Each
# measurement runs in a fresh session against an emptied table, so the inline history state starts from
# the (empty) guarded table every time. Installs postgresql-plpython3-15 and python3-numpy (the peer)
# when absent. Usage: tests/bench/guard_bench.sh  (ROWS=200000 RUN_SECONDS=5 STATEMENTS=20000 for a quick run;
# BULK_ROUNDS, default 3, the rounds of bulk loads; SECTIONS, default "bulk pgbench statements select bank
# bank_slices", the parts to run, e.g. SECTIONS="bank bank_slices" ROWS=20000 for the bank-shaped table alone,
# SECTIONS=bank_slices ROWS=20000 for the interleaved comparison alone; BANK_OPTIONS, the bank model's train
# options, e.g. '{"piecewise_bins": 0}' for the network without the encoding of its inputs)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows="${ROWS:-1000000}"
seconds="${RUN_SECONDS:-15}"
# Rounds of the bulk loads: every variant once per round, each against its round's no-trigger load
# (paired_median below). Three, so that one slow load moves the median of no goal's ratio.
bulk_rounds="${BULK_ROUNDS:-3}"
wanted() { [[ " ${SECTIONS:-bulk pgbench statements select bank bank_slices} " == *" $1 "* ]]; }
if [ ! -f /usr/share/postgresql/15/extension/plpython3u.control ] || ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  apt-get install -y -q postgresql-plpython3-15 python3-numpy >/dev/null  # the benchmark's peer only
fi
source scripts/cluster.sh
trap "cp \"\$(cluster_log)\" /tmp/guard_bench_server.log 2>/dev/null; [ -n \"\${KEEP_CLUSTER:-}\" ] || cluster_stop" EXIT
cluster_start
psql -X -q -c "ALTER SYSTEM SET synchronous_commit = off" -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
     -c "SELECT pg_reload_conf()" >/dev/null

days=$(( (rows * 50 + 199999) / 200000 ))  # the generator makes about 4,000 transactions a day
psql -X -q <<SQL
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION dendrite;
CREATE EXTENSION plpython3u;
CREATE TABLE src AS SELECT * FROM dendrite.generate_transactions(days => $days) ORDER BY tx_time, transaction_id LIMIT $rows;
CREATE TABLE dst (LIKE src);
ALTER TABLE dst ADD PRIMARY KEY (transaction_id), ADD COLUMN fraud_score float8;
CREATE SEQUENCE ids START 100000000;
VACUUM ANALYZE src;
SELECT dendrite.create_featurizer('m', 'SELECT * FROM src WHERE tx_time < ''2026-01-25'' ORDER BY tx_time, transaction_id',
    label => 'is_fraud', history_query => 'SELECT * FROM dst',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]}]') IS NOT NULL AS fitted;
SELECT version, round(pr_auc::numeric, 3) AS validation_pr_auc FROM dendrite.train('m',
    'SELECT * FROM src WHERE tx_time < ''2026-01-25'' ORDER BY tx_time, transaction_id', 'is_fraud',
    featurizer => 'm', hidden => '{64,32}', epochs => 3);
SELECT array_length(dendrite.feature_names('m'), 1) AS features;

CREATE FUNCTION empty_trigger() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NEW; END \$\$;
-- The peer: an MLP 30-64-32-1 in numpy, weights kept in SD, 30 inputs built from the row's columns.
CREATE FUNCTION numpy_trigger() RETURNS trigger LANGUAGE plpython3u AS \$\$
import numpy as np
if 'w' not in SD:
    rng = np.random.default_rng(1)
    SD['w'] = [(rng.standard_normal((30, 64)).astype(np.float32) * 0.1, np.zeros(64, np.float32)),
               (rng.standard_normal((64, 32)).astype(np.float32) * 0.1, np.zeros(32, np.float32)),
               (rng.standard_normal((32, 1)).astype(np.float32) * 0.1, np.zeros(1, np.float32))]
    SD['x'] = np.zeros(30, np.float32)
new = TD['new']
x = SD['x']
x[0] = float(new['amount']); x[1] = new['customer_id'] % 97; x[2] = new['terminal_id'] % 89
x[3] = 1.0 if new['online'] else 0.0; x[4] = len(new['country'] or ''); x[5] = len(new['merchant_category'] or '')
h = x
for i, (w, b) in enumerate(SD['w']):
    h = h @ w + b
    if i < 2:
        h = np.maximum(h, 0)
new['fraud_score'] = float(1.0 / (1.0 + np.exp(-h[0])))
return 'MODIFY'
\$\$;
CREATE TABLE results (section text, variant text, round int, rate float8);
SQL

# Each measurement starts from an empty dst_run and an empty prediction log.
fresh_table() {
  psql -X -q -c "DROP TABLE IF EXISTS dst_run" -c "CREATE TABLE dst_run (LIKE dst INCLUDING ALL)" -c "TRUNCATE dendrite.predictions" >/dev/null 2>&1
}

# Runs one INSERT ($3) in a fresh session and records its rows a second as ($1 section, $2 variant, $round);
# $2 has its quotes doubled already.
timed_insert() {
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz := clock_timestamp(); n bigint;
BEGIN
  $3;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO results VALUES ('$1', '$2', $round, n / extract(epoch FROM clock_timestamp() - started));
END \$\$;
SQL
}

# One bulk-load measurement in a fresh session: trigger DDL, then the timed INSERT ... SELECT. With
# section 'bulk, indexed' the table also has the two indexes a transactions table usually has (by customer
# and by terminal, in time): each insert then costs about what the issue's reference measurement did.
bulk() {
  local variant="${1//\'/\'\'}" ddl="$2" section="${3:-bulk}"  # quotes doubled for the SQL literal
  fresh_table
  [ "$section" = "bulk, indexed" ] && psql -X -q -c "CREATE INDEX ON dst_run (customer_id, tx_time)" -c "CREATE INDEX ON dst_run (terminal_id, tx_time)" >/dev/null
  psql -X -q -c "CHECKPOINT" >/dev/null
  [ -n "$ddl" ] && psql -X -q -c "$ddl" >/dev/null
  timed_insert "$section" "$variant" "INSERT INTO dst_run SELECT *, NULL FROM src"
}

# guard_batch's row capture: the same function as a BEFORE ... FOR EACH ROW trigger (it copies each row's
# inputs as it is inserted; a helper thread featurizes and scores them meanwhile) plus the statement
# trigger without a transition table, which acts on the scores.
capture_variant="dendrite.guard_batch 'flag' (row capture + statement)"
capture_ddl="CREATE TRIGGER c BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('m', 'flag', 'default', 'fraud_score');
CREATE TRIGGER t AFTER INSERT ON dst_run FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('m', 'flag', 'default', 'fraud_score')"

# The featurizer's inline history is built from dst: point it at the table being loaded.
psql -X -q -c "UPDATE dendrite.featurizers SET history_query = 'SELECT * FROM dst_run' WHERE name = 'm'" >/dev/null
wanted bulk && for round in $(seq 1 "$bulk_rounds"); do
  bulk "no trigger" ""
  bulk "empty PL/pgSQL trigger" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION empty_trigger()"
  bulk "dendrite.guard 'flag' (row)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'fraud_score')"
  bulk "dendrite.guard_batch 'flag' (statement)" "CREATE TRIGGER t AFTER INSERT ON dst_run REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('m', 'flag', 'default', 'fraud_score')"
  bulk "$capture_variant" "$capture_ddl"
  [ "$round" = 1 ] && bulk "dendrite.guard 'flag,log' (row)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag,log', 'default', 'fraud_score')"
  [ "$round" = 1 ] && bulk "PL/Python numpy MLP trigger (peer)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION numpy_trigger()"
done
wanted bulk && for round in $(seq 1 "$bulk_rounds"); do
  bulk "no trigger" "" "bulk, indexed"
  bulk "empty PL/pgSQL trigger" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION empty_trigger()" "bulk, indexed"
  bulk "dendrite.guard 'flag' (row)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'fraud_score')" "bulk, indexed"
  bulk "dendrite.guard_batch 'flag' (statement)" "CREATE TRIGGER t AFTER INSERT ON dst_run REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('m', 'flag', 'default', 'fraud_score')" "bulk, indexed"
  bulk "$capture_variant" "$capture_ddl" "bulk, indexed"
done

# pgbench: single-row inserts of fresh transactions, time moving forward.
cat > /tmp/dendrite_guard_insert.sql <<'SQL'
\set customer random(1, 2000)
\set terminal random(1, 4000)
\set cents random(100, 20000)
\set country random(1, 4)
INSERT INTO dst_run (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
VALUES (nextval('ids'), localtimestamp, :customer, :terminal, :cents / 100.0, :customer % 3 = 0, '10.1.2.3',
        (ARRAY['FR', 'DE', 'NL', 'US'])[:country], 'grocery', false, 0);
SQL
tps() {
  local variant="${1//\'/\'\'}" ddl="$2"  # quotes doubled for the SQL literal
  fresh_table
  psql -X -q -c "CHECKPOINT" >/dev/null
  [ -n "$ddl" ] && psql -X -q -c "$ddl" >/dev/null
  local rate
  rate=$(pgbench -n -c 2 -j 2 -T "$seconds" -f /tmp/dendrite_guard_insert.sql 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  psql -X -q -c "INSERT INTO results VALUES ('pgbench', '$variant', $round, ${rate:-0})"
}
wanted pgbench && for round in 1 2 3; do
  tps "no trigger" ""
  tps "dendrite.guard 'reject' (none rejected)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'reject', '1')"
  tps "dendrite.guard 'flag'" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'fraud_score')"
  tps "dendrite.guard 'flag,log'" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag,log', 'default', 'fraud_score')"
  [ "$round" = 1 ] && tps "PL/Python numpy MLP trigger (peer)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION numpy_trigger()"
done

# Single-row INSERT statements in one backend, a PL/pgSQL loop of STATEMENTS (default 50,000): what a
# guard costs a statement without pgbench's client, network and commit, whose noise on this VM is larger
# than the guard itself.
statements="${STATEMENTS:-50000}"
loop() {
  local variant="${1//\'/\'\'}" ddl="$2"  # quotes doubled for the SQL literal
  fresh_table
  [ -n "$ddl" ] && psql -X -q -c "$ddl" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE started timestamptz := clock_timestamp();
BEGIN
  FOR i IN 0..$statements LOOP
    IF i = 1 THEN started := clock_timestamp(); END IF;  -- statement 0 loads the model and history: not timed
    INSERT INTO dst_run (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    VALUES (100000000 + i, localtimestamp, 1 + i % 2000, 1 + i % 4000, (100 + i % 19900) / 100.0, i % 3 = 0, '10.1.2.3', 'FR', 'grocery', false, 0);
  END LOOP;
  INSERT INTO results VALUES ('statements', '$variant', $round, $statements / extract(epoch FROM clock_timestamp() - started));
END \$\$;
SQL
}
wanted statements && for round in 1 2 3; do
  loop "no trigger" ""
  loop "empty PL/pgSQL trigger" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION empty_trigger()"
  loop "dendrite.guard 'reject' (none rejected)" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'reject', '1')"
  loop "dendrite.guard 'flag'" "CREATE TRIGGER t BEFORE INSERT ON dst_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('m', 'flag', 'default', 'fraud_score')"
done

# Scoring SELECT in one backend (history from the last loaded table).
psql -X -q -c "UPDATE dendrite.featurizers SET history_query = 'SELECT * FROM dst' WHERE name = 'm'" >/dev/null
wanted select && psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET max_parallel_workers_per_gather = 0;
DO $$
DECLARE started timestamptz; n bigint;
BEGIN
  PERFORM count(dendrite.score('m', t)) FROM src t LIMIT 1;  -- warm-up: loads the model and the (empty) history
  FOR i IN 1..3 LOOP
    started := clock_timestamp();
    SELECT count(*) INTO n FROM (SELECT t FROM src t) s;
    INSERT INTO results VALUES ('select', 'SELECT t FROM src (scan only)', i, n / extract(epoch FROM clock_timestamp() - started));
    started := clock_timestamp();
    SELECT count(dendrite.score('m', t)) INTO n FROM src t;
    INSERT INTO results VALUES ('select', 'SELECT dendrite.score(''m'', t) FROM src', i, n / extract(epoch FROM clock_timestamp() - started));
  END LOOP;
END $$;
SQL


# Issue #26's bank-shaped table (see the header, 5.), every variant once per round against the round's plain
# insert, each in a fresh session into a freshly created bank_run (its statistics those of an empty table).
bank_rows="${BANK_ROWS:-300000}"
bank_load() {
  local variant="${1//\'/\'\'}" ddl="$2"  # quotes doubled for the SQL literal
  psql -X -q -c "DROP TABLE IF EXISTS bank_run" -c "CREATE TABLE bank_run (LIKE bank_dst INCLUDING ALL)" \
       -c "TRUNCATE dendrite.predictions" -c "CHECKPOINT" >/dev/null 2>&1
  [ -n "$ddl" ] && psql -X -q -c "$ddl" >/dev/null
  timed_insert "bank shape" "$variant" "INSERT INTO bank_run SELECT * FROM bank_src"
}
# The flag write-back's floor: the plain insert, then an UPDATE of the same 10 % of the rows by key (what the
# capture's write-back does, without scoring anything), timed together.
bank_update_floor() {
  local fillfactor="$1"
  psql -X -q -c "DROP TABLE IF EXISTS bank_run" -c "CREATE TABLE bank_run (LIKE bank_dst INCLUDING ALL) WITH (fillfactor = $fillfactor)" \
       -c "CHECKPOINT" >/dev/null 2>&1
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$
DECLARE started timestamptz := clock_timestamp(); n bigint;
BEGIN
  INSERT INTO bank_run SELECT * FROM bank_src;
  GET DIAGNOSTICS n = ROW_COUNT;
  UPDATE bank_run t SET score = 0.5 FROM bank_src s WHERE t.id = s.id AND s.id % 10 = 0;
  INSERT INTO results VALUES ('bank shape', 'plain insert + UPDATE of 10 % by key (the write-back''s floor), fillfactor $fillfactor',
                              $round, n / extract(epoch FROM clock_timestamp() - started));
END \$\$;
SQL
}
bank_capture() {  # guard_batch's row capture at threshold $1
  echo "CREATE TRIGGER c BEFORE INSERT ON bank_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('bank', 'flag', '$1', 'score');
CREATE TRIGGER t AFTER INSERT ON bank_run FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('bank', 'flag', '$1', 'score')"
}
bank_options=${BANK_OPTIONS:-'{}'}  # the bank model's train options, e.g. '{"piecewise_bins": 0}'
if wanted bank || wanted bank_slices; then
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE bank_src AS
  SELECT i::bigint AS id, (i % 20000)::int AS customer_id, (i % 7919)::int AS terminal_id,
         round((random() * 300)::numeric, 2) AS amount, timestamptz '2026-01-01' + i * interval '2 seconds' AS tx_time,
         (ARRAY['pos', 'web', 'atm'])[1 + i % 3] AS channel, (random() < 0.01) AS fraud, NULL::float8 AS score
  FROM generate_series(1, $bank_rows) i;
CREATE TABLE bank_dst (LIKE bank_src INCLUDING ALL, PRIMARY KEY (id));
CREATE INDEX ON bank_dst (customer_id);
CREATE INDEX ON bank_dst (tx_time);
CREATE TABLE bank_run (LIKE bank_dst INCLUDING ALL);
SELECT dendrite.create_featurizer('bank', 'SELECT * FROM bank_src', label => 'fraud', history_query => 'SELECT * FROM bank_run',
  columns => '{"id": "ignore", "score": "ignore", "terminal_id": "ignore"}',
  history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]}]');
SELECT version FROM dendrite.train('bank', 'SELECT * FROM bank_src', 'fraud', featurizer => 'bank', options => '$bank_options');
CREATE TABLE bank_thresholds AS
SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY score) AS p99, percentile_disc(0.90) WITHIN GROUP (ORDER BY score) AS p90
  FROM dendrite.score_query('bank', 'SELECT * FROM bank_src', key => 'id');
CREATE FUNCTION set_score_trigger() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN NEW.score := 0.5; RETURN NEW; END \$\$;
SQL
fi
if wanted bank; then
  p99=$(psql -X -At -c "SELECT p99 FROM bank_thresholds"); p90=$(psql -X -At -c "SELECT p90 FROM bank_thresholds")
  for round in $(seq 1 "$bulk_rounds"); do
    bank_load "no trigger" ""
    bank_load "empty PL/pgSQL trigger setting score" "CREATE TRIGGER t BEFORE INSERT ON bank_run FOR EACH ROW EXECUTE FUNCTION set_score_trigger()"
    bank_load "dendrite.guard 'flag' (row), 1 % flagged" "CREATE TRIGGER t BEFORE INSERT ON bank_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('bank', 'flag', '$p99', 'score')"
    bank_load "row capture, none flagged" "$(bank_capture 1)"
    bank_load "row capture, 1 % flagged" "$(bank_capture "$p99")"
    bank_load "row capture, 10 % flagged" "$(bank_capture "$p90")"
    # Room on each page for the flagged rows' new versions: the write-back's UPDATE is then HOT (no new
    # index entries) for most of them.
    bank_load "row capture, 10 % flagged, fillfactor 90" "ALTER TABLE bank_run SET (fillfactor = 90);
$(bank_capture "$p90")"
    bank_update_floor 100
    bank_update_floor 90
    bank_load "transition table, 1 % flagged" "CREATE TRIGGER t AFTER INSERT ON bank_run REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('bank', 'flag', '$p99', 'score')"
  done
fi

# The bank-shaped table's plain insert, empty trigger and row guard again, interleaved: this VM's speed drifts
# by tens of per cent over seconds, more than the few per cent between the row guard and the empty trigger.
# One session inserts the rows into three tables (no trigger; the empty PL/pgSQL trigger; the row guard on
# bank_run, the table the featurizer's history reads) in slices of BANK_SLICE rows (default 10,000) taken in
# turn, the variants' order rotating from slice to slice; a round is one pass (a new session, the tables
# emptied), and each variant's time is its slices' sum.
if wanted bank_slices; then
  p99=$(psql -X -At -c "SELECT p99 FROM bank_thresholds")
  psql -X -q -v ON_ERROR_STOP=1 -v slice="${BANK_SLICE:-10000}" >/dev/null <<'SQL'
SET client_min_messages = warning;
-- A copy of bank_src in id order with an index, so a slice is an index range scan (bank_src keeps no index:
-- the other variants' plans stay as they were).
CREATE TABLE bank_slices AS SELECT * FROM bank_src ORDER BY id;
CREATE INDEX ON bank_slices (id);
CREATE TABLE slice_bounds AS
SELECT (row_number() OVER (ORDER BY id) - 1) / :slice AS slice, id FROM bank_slices;
CREATE TABLE bank_slice_bounds AS SELECT slice, min(id) AS first_id, max(id) AS last_id FROM slice_bounds GROUP BY slice;
DROP TABLE slice_bounds;
CREATE TABLE bank_plain (LIKE bank_dst INCLUDING ALL);
CREATE TABLE bank_empty (LIKE bank_dst INCLUDING ALL);
CREATE TRIGGER t BEFORE INSERT ON bank_empty FOR EACH ROW EXECUTE FUNCTION set_score_trigger();
CREATE TABLE slice_results (round int, plain float8, empty_trigger float8, guard float8);
SQL
  for round in $(seq 1 "$bulk_rounds"); do
    psql -X -q -c "DROP TABLE IF EXISTS bank_run" -c "CREATE TABLE bank_run (LIKE bank_dst INCLUDING ALL)" \
         -c "CREATE TRIGGER t BEFORE INSERT ON bank_run FOR EACH ROW EXECUTE FUNCTION dendrite.guard('bank', 'flag', '$p99', 'score')" \
         -c "TRUNCATE bank_plain, bank_empty" -c "TRUNCATE dendrite.predictions" -c "CHECKPOINT" >/dev/null 2>&1
    psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE
  seconds float8[] := '{0, 0, 0}';
  targets text[] := '{bank_plain, bank_empty, bank_run}';
  bounds record;
  started timestamptz;
  v int;
BEGIN
  FOR bounds IN SELECT * FROM bank_slice_bounds ORDER BY slice LOOP
    FOR turn IN 0..2 LOOP
      v := 1 + (bounds.slice + turn) % 3;  -- slice k starts with variant k mod 3
      started := clock_timestamp();
      EXECUTE format('INSERT INTO %I SELECT * FROM bank_slices WHERE id BETWEEN \$1 AND \$2 ORDER BY id', targets[v])
        USING bounds.first_id, bounds.last_id;
      seconds[v] := seconds[v] + extract(epoch FROM clock_timestamp() - started);
    END LOOP;
  END LOOP;
  INSERT INTO slice_results VALUES ($round, seconds[1], seconds[2], seconds[3]);
END \$\$;
SQL
  done
  echo "bank-shaped table, $bank_rows rows in slices of ${BANK_SLICE:-10000} taken in turn, $bulk_rounds rounds (x plain insert: its seconds over the variant's):"
  psql -X -q <<'SQL'
\pset footer off
SELECT round, round((plain / empty_trigger)::numeric, 3) AS empty_trigger, round((plain / guard)::numeric, 3) AS guard,
       round((empty_trigger / guard)::numeric, 3) AS guard_vs_empty_trigger, round(plain::numeric, 2) AS plain_seconds
  FROM slice_results ORDER BY round;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY plain / empty_trigger)::numeric, 3) AS empty_trigger,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY plain / guard)::numeric, 3) AS guard,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY empty_trigger / guard)::numeric, 3) AS guard_vs_empty_trigger
  FROM slice_results;
SQL
fi

echo "rows: $rows; pgbench: 2 clients, ${seconds} s per run, synchronous_commit off. vs_no_trigger: best run against the best baseline run;"
echo "paired_median: the median over rounds of each run against the same round's baseline run (steadier when this VM's speed drifts)"
psql -X -q <<'SQL'
\pset footer off
WITH best AS (SELECT section, variant, max(rate) AS rate, min(rate) AS worst, count(*) AS runs FROM results GROUP BY 1, 2),
     base AS (SELECT section, max(rate) FILTER (WHERE variant LIKE 'no trigger%' OR variant LIKE '%scan only%') AS rate FROM best GROUP BY 1),
     -- Each run against the baseline run of the same round (measured minutes apart, not an hour): the
     -- median of these ratios is steadier than best against best when the VM's speed drifts.
     base_runs AS (SELECT section, round, rate FROM results WHERE variant LIKE 'no trigger%' OR variant LIKE '%scan only%'),
     paired AS (SELECT r.section, r.variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY r.rate / b.rate) AS ratio
                  FROM results r JOIN base_runs b USING (section, round) GROUP BY 1, 2)
SELECT b.section, b.variant, round(b.rate) AS rows_per_s, round((b.rate / base.rate)::numeric, 2) AS vs_no_trigger,
       round(p.ratio::numeric, 2) AS paired_median, b.runs, round(b.worst) AS worst_run
  FROM best b JOIN base USING (section) LEFT JOIN paired p USING (section, variant)
 ORDER BY CASE b.section WHEN 'bulk' THEN 1 WHEN 'bulk, indexed' THEN 2 WHEN 'pgbench' THEN 3 WHEN 'statements' THEN 4 WHEN 'select' THEN 5 ELSE 6 END, b.rate DESC;
SQL
