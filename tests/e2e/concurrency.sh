# Mixed load (issue #8): pgbench inserts through a guarded table (flag + log, 2 clients) while another
# session retrains and deploys the model over and over and a third reads the serving version and the
# model's health. Each as the role a bank would use: the inserts as a clerk with INSERT on the table only,
# the training, deploys and health reads as the model's owner (a dendrite_trainer). Pass: no pgbench client fails or aborts (no deadlock, no error), no crash (scripts/test.sh
# scans the log), every inserted row is flagged and logged exactly once, its logged score is the flagged
# one, and every logged decision comes from a version that was deployed.
# CONCURRENCY_SECONDS (default 10 here; 60 for the long run) sets the length.
source "$(dirname "$0")/lib.bash"
seconds="${CONCURRENCY_SECONDS:-10}"
pgbench="$(pg_config --bindir)/pgbench"
fresh_database e2e_concurrency
sql -c "SET client_min_messages = warning" \
    -c "DROP ROLE IF EXISTS e2e_clerk" -c "DROP ROLE IF EXISTS e2e_trainer" \
    -c "CREATE ROLE e2e_clerk LOGIN" -c "CREATE ROLE e2e_trainer LOGIN IN ROLE dendrite_trainer" \
    -c "CREATE TABLE tx AS SELECT row_number() OVER () AS n, * FROM dendrite.generate_transactions(days => 10)" \
    -c "CREATE UNIQUE INDEX ON tx (n)" \
    -c "CREATE TABLE live_tx (LIKE tx, score float8, PRIMARY KEY (transaction_id))" \
    -c "CREATE SEQUENCE live_ids" \
    -c "GRANT SELECT ON tx TO e2e_clerk, e2e_trainer" -c "GRANT INSERT ON live_tx TO e2e_clerk" \
    -c "GRANT USAGE ON SEQUENCE live_ids TO e2e_clerk" >/dev/null
sql -U e2e_trainer -c "SET client_min_messages = warning" \
    -c "SELECT dendrite.train('guarded', 'SELECT amount, online, country, merchant_category, is_fraud FROM tx', 'is_fraud', epochs => 1)" \
    -c "SELECT dendrite.deploy('guarded')" >/dev/null
sql -c "CREATE TRIGGER guard BEFORE INSERT ON live_tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard('guarded', 'flag,log', '0.5', 'score')" >/dev/null
rows="$(sql -c "SELECT count(*) FROM tx")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/insert.sql" <<SQL
\set n random(1, $rows)
INSERT INTO live_tx SELECT n, nextval('live_ids'), tx_time, customer_id, terminal_id, amount, online, ip, country,
                           merchant_category, is_fraud, fraud_scenario FROM tx WHERE n = :n;
SQL

end=$((SECONDS + seconds))
( retrains=0
  while [ $SECONDS -lt $end ]; do
    sql -U e2e_trainer -c "SET client_min_messages = warning" \
        -c "SELECT version FROM dendrite.train('guarded', 'SELECT amount, online, country, merchant_category, is_fraud FROM tx', 'is_fraud', epochs => 1, seed => $((retrains + 2)))" \
        -c "SELECT dendrite.deploy('guarded')" >/dev/null || { echo "retrain failed"; exit 1; }
    retrains=$((retrains + 1))
  done
  echo "$retrains" >"$work/retrains" ) &
trainer=$!
( reads=0
  while [ $SECONDS -lt $end ]; do
    sql -U e2e_trainer -c "SELECT version FROM dendrite.serving_version('guarded')" \
        -c "SELECT predictions, flagged, mean_score FROM dendrite.model_health('guarded', '1 hour')" >/dev/null || { echo "read failed"; exit 1; }
    reads=$((reads + 1))
    sleep 0.1
  done
  echo "$reads" >"$work/reads" ) &
reader=$!
"$pgbench" -U e2e_clerk -n -c 2 -j 2 -T "$seconds" -f "$work/insert.sql" >"$work/pgbench.log" 2>&1
bench_rc=$?
wait "$trainer" || fail "the retraining session failed"
wait "$reader" || fail "the reading session failed"
[ "$bench_rc" = 0 ] || { cat "$work/pgbench.log"; fail "pgbench exited with $bench_rc"; }
grep -qE 'aborted|failed transactions: [1-9]' "$work/pgbench.log" && { cat "$work/pgbench.log"; fail "pgbench clients failed"; }
tps="$(grep -oE 'tps = [0-9.]+' "$work/pgbench.log" | head -1 | awk '{printf "%.0f", $3}')"

check="$(sql -F ' ' -c "
  WITH logged AS (SELECT row_key, count(*) AS times, min(score) AS score, min(version_id) AS version_id
                    FROM dendrite.predictions WHERE table_name = 'public.live_tx' GROUP BY row_key)
  SELECT (SELECT count(*) FROM live_tx),
         (SELECT count(*) FROM live_tx WHERE score IS NULL),
         (SELECT count(*) FROM live_tx t LEFT JOIN logged l ON l.row_key = t.transaction_id::text
           WHERE l.row_key IS NULL OR l.times <> 1 OR l.score IS DISTINCT FROM t.score),
         (SELECT count(*) FROM logged l WHERE NOT EXISTS (SELECT FROM live_tx t WHERE t.transaction_id::text = l.row_key)),
         (SELECT count(*) FROM dendrite.predictions p WHERE table_name = 'public.live_tx'
             AND NOT EXISTS (SELECT FROM dendrite.deployments d WHERE d.version_id = p.version_id)),
         (SELECT count(DISTINCT version_id) FROM dendrite.predictions WHERE table_name = 'public.live_tx')")"
read -r inserted unflagged mismatched stray undeployed versions_used <<<"$check"
[ "$inserted" -gt 0 ] || fail "nothing was inserted"
[ "$unflagged" = 0 ] || fail "$unflagged inserted rows have no score"
[ "$mismatched" = 0 ] || fail "$mismatched rows are not logged exactly once with their flagged score"
[ "$stray" = 0 ] || fail "$stray logged decisions name no inserted row"
[ "$undeployed" = 0 ] || fail "$undeployed decisions come from a version that was never deployed"
echo "# ${seconds} s: $inserted rows inserted by pgbench (2 clients, ${tps} tps) while $(cat "$work/retrains") retrain+deploy cycles and $(cat "$work/reads") reads ran; each row flagged and logged once, by $versions_used deployed versions"
