# kill -9 of a backend in the middle of training (issue #8): PostgreSQL restarts every backend and recovers;
# afterwards no partial model, version, parameter or progress slot of that training is visible, nothing was
# deployed, and the extension trains and scores again. Runs on a throw-away cluster of its own, so that the
# deliberate "terminated by signal 9" does not show up in the main cluster's log, which scripts/test.sh
# checks for crashes.
source "$(dirname "$0")/lib.bash"
source "${DENDRITE_ROOT:-.}/scripts/cluster.sh"
trap cluster_stop EXIT
# The test clusters run with synchronous_commit = off: a commit younger than the WAL writer's last write
# (up to ~0.6 s) lives only in shared memory, and crash recovery after the kill rightly forgets it. That
# once made this test see the committed model 'kept' vanish. Durability is what is tested here: commit
# synchronously.
CLUSTER_EXTRA_CONF="synchronous_commit = on" cluster_start
fresh_database e2e_kill
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 20)" \
    -c "SELECT dendrite.train('kept', 'SELECT amount, online, is_fraud FROM tx', 'is_fraud', epochs => 1)" \
    -c "SELECT dendrite.deploy('kept')" >/dev/null
before="$(sql -c "SELECT count(*) || ' ' || (SELECT count(*) FROM dendrite.parameters) || ' ' || (SELECT count(*) FROM dendrite.deployments) FROM dendrite.model_versions")"

psql -X -q -c "SET client_min_messages = warning" \
  -c "SELECT dendrite.train('killed', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 100000)" \
  >/dev/null 2>&1 &
client=$!
pid="$(training_pid killed)"
[ -n "$pid" ] || fail "the training never reached its first epoch"
kill -9 "$pid"
wait "$client" && fail "the killed training's client did not fail"

# The postmaster restarts the backends and replays WAL; wait until it accepts connections again.
for _ in $(seq 1 100); do
  sql -d postgres -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
grep -q "terminated by signal 9" "$(cluster_log)" || fail "the server log does not show the killed backend"
after="$(sql -c "SELECT count(*) || ' ' || (SELECT count(*) FROM dendrite.parameters) || ' ' || (SELECT count(*) FROM dendrite.deployments) FROM dendrite.model_versions")"
[ "$after" = "$before" ] || fail "versions/parameters/deployments went from $before to $after"
[ "$(sql -c "SELECT count(*) FROM dendrite.models WHERE name = 'killed'")" = 0 ] || fail "the killed training left a model row"
[ "$(sql -c "SELECT count(*) FROM dendrite.training_progress")" = 0 ] || fail "the killed training is still shown in progress"
[ "$(sql -c "SELECT version FROM dendrite.serving_version('kept')")" = 1 ] || fail "the deployed model changed"
# The extension works after recovery: train, deploy and score.
sql -c "SET client_min_messages = warning" \
    -c "SELECT dendrite.train('after', 'SELECT amount, online, is_fraud FROM tx', 'is_fraud', epochs => 1)" >/dev/null
scored="$(sql -c "SELECT count(*) FROM tx t WHERE dendrite.score('after', t) BETWEEN 0 AND 1")"
[ "$scored" = "$(sql -c "SELECT count(*) FROM tx")" ] || fail "scoring after recovery returned $scored rows"
echo "# backend $pid killed with SIGKILL at epoch >= 1: server recovered, versions/parameters/deployments unchanged ($after), no model row, progress empty; $scored rows scored after"
