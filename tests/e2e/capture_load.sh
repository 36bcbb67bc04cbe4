# guard_batch's row capture under load (issue #6): two pgbench clients load 2,500-row INSERT ... SELECT
# statements (each two full chunks on the backend's helper thread and a short one) into a table guarded by
# the capture pair with 'flag,log', while another session retrains and deploys the model over and over and
# a third loads such statements into a table of its own under a statement_timeout that cancels them
# midway. Pass: no crash (scripts/test.sh scans the log), every committed row logged exactly once with a
# version that was deployed, the flagged rows exactly those logged at or above the threshold, and nothing
# of a cancelled statement written or logged.
# CAPTURE_SECONDS (default 10) sets the length.
source "$(dirname "$0")/lib.bash"
seconds="${CAPTURE_SECONDS:-10}"
pgbench="$(pg_config --bindir)/pgbench"
fresh_database e2e_capture
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT row_number() OVER (ORDER BY tx_time, transaction_id) AS n, * FROM dendrite.generate_transactions(days => 10)" \
    -c "CREATE UNIQUE INDEX ON tx (n)" \
    -c "CREATE TABLE live_tx (LIKE tx, score float8, PRIMARY KEY (transaction_id))" \
    -c "CREATE INDEX ON live_tx (customer_id, tx_time)" \
    -c "CREATE SEQUENCE live_ids" >/dev/null
sql -c "SET client_min_messages = warning" \
    -c "SELECT dendrite.create_featurizer('capture_fz', 'SELECT * FROM tx ORDER BY tx_time', label => 'is_fraud',
          history_query => 'SELECT * FROM live_tx',
          columns => '{\"n\": \"ignore\", \"transaction_id\": \"ignore\", \"fraud_scenario\": \"ignore\", \"ip\": \"ignore\"}',
          history => '[{\"entity\": \"customer_id\", \"time\": \"tx_time\", \"value\": \"amount\", \"windows\": [\"1 day\", \"7 days\"], \"aggregates\": [\"count\", \"mean\"]}]')" \
    -c "SELECT dendrite.train('captured', 'SELECT * FROM tx ORDER BY tx_time', 'is_fraud', featurizer => 'capture_fz', hidden => '{16}', epochs => 1)" \
    -c "SELECT dendrite.deploy('captured')" \
    -c "CREATE TRIGGER capture_rows BEFORE INSERT ON live_tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('captured', 'flag,log', '0.5', 'score')" \
    -c "CREATE TRIGGER score_rows AFTER INSERT ON live_tx FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('captured', 'flag,log', '0.5', 'score')" >/dev/null
# The cancelled statements go to a table of their own with a featurizer of its own, whose inline history (a
# replay of that table, after each cancel) stays small.
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE cancel_tx (LIKE live_tx INCLUDING ALL)" \
    -c "SELECT dendrite.create_featurizer('cancel_fz', 'SELECT * FROM tx ORDER BY tx_time', label => 'is_fraud',
          history_query => 'SELECT * FROM cancel_tx',
          columns => '{\"n\": \"ignore\", \"transaction_id\": \"ignore\", \"fraud_scenario\": \"ignore\", \"ip\": \"ignore\"}',
          history => '[{\"entity\": \"customer_id\", \"time\": \"tx_time\", \"windows\": [\"1 day\"], \"aggregates\": [\"count\"]}]')" \
    -c "SELECT dendrite.train('cancelled', 'SELECT * FROM tx ORDER BY tx_time', 'is_fraud', featurizer => 'cancel_fz', hidden => '{16}', epochs => 1)" \
    -c "CREATE TRIGGER capture_rows BEFORE INSERT ON cancel_tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cancelled', 'log')" \
    -c "CREATE TRIGGER score_rows AFTER INSERT ON cancel_tx FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cancelled', 'log')" >/dev/null
rows="$(sql -c "SELECT count(*) FROM tx")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/insert.sql" <<SQL
\set first random(1, $rows - 2500)
INSERT INTO live_tx SELECT n, nextval('live_ids'), tx_time, customer_id, terminal_id, amount, online, ip, country,
                           merchant_category, is_fraud, fraud_scenario FROM tx WHERE n BETWEEN :first AND :first + 2499;
SQL

end=$((SECONDS + seconds))
( retrains=0
  while [ $SECONDS -lt $end ]; do
    sql -c "SET client_min_messages = warning" \
        -c "SELECT version FROM dendrite.train('captured', 'SELECT * FROM tx ORDER BY tx_time', 'is_fraud', featurizer => 'capture_fz', hidden => '{16}', epochs => 1, seed => $((retrains + 2)))" \
        -c "SELECT dendrite.deploy('captured')" >/dev/null || { echo "retrain failed"; exit 1; }
    retrains=$((retrains + 1))
  done
  echo "$retrains" >"$work/retrains" ) &
trainer=$!
# A third session loads the same statements into cancel_tx under a statement_timeout that cancels them
# midway, while chunks are on the helper thread; a one-row insert without a timeout before each rebuilds
# the inline history the cancel discarded.
for i in $(seq 1 1000); do
  echo "SET statement_timeout = 0;"
  echo "INSERT INTO cancel_tx SELECT n, nextval('live_ids'), tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario FROM tx WHERE n = $i;"
  echo "SET statement_timeout = '5ms';"
  echo "INSERT INTO cancel_tx SELECT n, nextval('live_ids'), tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario FROM tx WHERE n BETWEEN 1 AND 2500;"
done >"$work/cancel.sql"
timeout "$seconds" psql -X -q -f "$work/cancel.sql" >"$work/cancelled.log" 2>&1 &
canceller=$!
bench_rc=0
"$pgbench" -n -c 2 -j 2 -T "$seconds" -f "$work/insert.sql" >"$work/pgbench.log" 2>&1 || bench_rc=$?
wait "$trainer" || fail "the retraining session failed"
wait "$canceller" || true  # stopped by timeout(1)
[ "$bench_rc" = 0 ] || { tail -20 "$work/pgbench.log"; fail "pgbench exited with $bench_rc"; }
grep -qE 'aborted|failed transactions: [1-9]' "$work/pgbench.log" && { cat "$work/pgbench.log"; fail "pgbench clients failed"; }
{ grep -E 'ERROR' "$work/cancelled.log" | grep -vE 'canceling statement due to (statement timeout|user request)' | head -5; } >"$work/errors" || true
[ -s "$work/errors" ] && { cat "$work/errors"; fail "the cancelled session failed otherwise than by its timeout"; }
statements="$(grep -oE 'number of transactions actually processed: [0-9]+' "$work/pgbench.log" | grep -oE '[0-9]+$')"
cancelled="$(grep -c 'canceling statement due to statement timeout' "$work/cancelled.log" || true)"

check="$(sql -F ' ' -c "
  WITH logged AS (SELECT row_key, count(*) AS times, min(score) AS score, min(version_id) AS version_id,
                         min(decision) AS decision
                    FROM dendrite.predictions WHERE table_name = 'public.live_tx' GROUP BY row_key)
  SELECT (SELECT count(*) FROM live_tx),
         (SELECT count(*) FROM live_tx t LEFT JOIN logged l ON l.row_key = t.transaction_id::text
           WHERE l.row_key IS NULL OR l.times <> 1),
         (SELECT count(*) FROM live_tx t JOIN logged l ON l.row_key = t.transaction_id::text
           WHERE (l.decision = 'flag') IS DISTINCT FROM (t.score IS NOT NULL)
              OR (t.score IS NOT NULL AND abs(t.score - l.score) > 1e-6)),
         (SELECT count(*) FROM logged l WHERE NOT EXISTS (SELECT FROM live_tx t WHERE t.transaction_id::text = l.row_key)),
         (SELECT count(*) FROM dendrite.predictions p WHERE table_name = 'public.live_tx'
             AND NOT EXISTS (SELECT FROM dendrite.deployments d WHERE d.version_id = p.version_id)),
         (SELECT count(*) FROM cancel_tx),
         (SELECT count(*) FROM dendrite.predictions WHERE table_name = 'public.cancel_tx'),
         (SELECT count(*) FROM cancel_tx t WHERE NOT EXISTS
             (SELECT FROM dendrite.predictions p WHERE p.table_name = 'public.cancel_tx' AND p.row_key = t.transaction_id::text))")"
read -r inserted unlogged misflagged stray undeployed cancel_rows cancel_logged cancel_unlogged <<<"$check"
[ "$inserted" -gt 0 ] || fail "nothing was inserted"
[ "$unlogged" = 0 ] || fail "$unlogged inserted rows are not logged exactly once"
[ "$misflagged" = 0 ] || fail "$misflagged rows are flagged otherwise than their logged decision"
[ "$stray" = 0 ] || fail "$stray logged decisions name no inserted row (a cancelled statement's?)"
[ "$undeployed" = 0 ] || fail "$undeployed decisions come from a version that was never deployed"
[ "$cancelled" -gt 0 ] || { tail -5 "$work/cancelled.log"; fail "no statement was cancelled"; }
[ "$cancel_logged" = "$cancel_rows" ] && [ "$cancel_unlogged" = 0 ] ||
    fail "cancel_tx holds $cancel_rows rows and $cancel_logged logged decisions ($cancel_unlogged rows unlogged): a cancelled statement left something"
echo "# ${seconds} s: $inserted rows in $statements statements of 2,500 rows (2 pgbench clients) while $(cat "$work/retrains") retrain+deploy cycles ran and $cancelled statements of another session were cancelled midway (its $cancel_rows one-row inserts kept and logged, nothing of the cancelled ones); each committed row logged once, flags as logged"
