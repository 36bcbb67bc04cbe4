# pg_cancel_backend from another session stops a long training between batches: the caller gets 57014
# quickly, the session keeps working, and no version is stored.
source "$(dirname "$0")/lib.bash"
fresh_database e2e_cancel
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 20)"

log="$(mktemp)"
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
  -c "SELECT dendrite.train('canceled', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 100000)" \
  >"$log" 2>&1 &
client=$!

pid=""
for _ in $(seq 1 100); do
  pid="$(sql -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%dendrite.train(''canceled''%' AND pid <> pg_backend_pid()")"
  [ -n "$pid" ] && break
  sleep 0.1
done
[ -n "$pid" ] || fail "the training never showed up in pg_stat_activity"
sleep 1.5  # well into the epochs

# Another session sees the training in progress.
progress="$(sql -c "SELECT algorithm || ' epoch ' || (epoch >= 1)::text || ' of ' || epochs || ' loss ' || (loss > 0)::text FROM dendrite.training_progress WHERE model = 'canceled' AND pid = $pid")"
[ "$progress" = "mlp epoch true of 100000 loss true" ] || fail "dendrite.training_progress showed '$progress'"

start=$(date +%s%N)
sql -c "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$client" && fail "the training was not canceled"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

grep -q "canceling statement due to user request" "$log" || { cat "$log"; fail "unexpected error"; }
# Issue #8: training stops within 100 ms of the next batch. The figure also holds the start-up of the psql
# that sends the cancel (~20-40 ms) and the client's wait, hence the 500 ms limit.
[ "$elapsed_ms" -lt 500 ] || fail "cancel took ${elapsed_ms} ms"
[ "$(sql -c "SELECT count(*) FROM dendrite.models WHERE name = 'canceled'")" = 0 ] || fail "a canceled training left a model"
[ "$(sql -c "SELECT count(*) FROM dendrite.model_versions")" = 0 ] || fail "a canceled training left a version"
[ "$(sql -c "SELECT count(*) FROM dendrite.training_progress WHERE pid = $pid")" = 0 ] || fail "the canceled training is still shown in progress"
echo "# another session saw it in dendrite.training_progress: $progress"
echo "# canceled training returned 57014 ${elapsed_ms} ms after pg_cancel_backend (includes psql start-up)"
