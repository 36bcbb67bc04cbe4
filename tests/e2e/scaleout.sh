# Scale-out on PostgreSQL's own distribution (issue #29, docs/scaleout.md): a coordinator whose transactions
# table is hash-partitioned by card into postgres_fdw foreign tables on three shards; the shards subscribe to
# the coordinator's catalog publication (dendrite.catalog = replica) and guard their own rows; a fourth
# server holds the same rows in one table, the one-server reference. Every server is a throw-away cluster of
# this script's own, on Unix sockets.
source "$(dirname "$0")/lib.bash"
source "${DENDRITE_ROOT:-.}/scripts/cluster.sh"
[ -f "$(pg_config --sharedir)/extension/postgres_fdw.control" ] ||
  { echo "postgres_fdw is not installed (postgresql-contrib)"; exit 77; }

declare -A NODE_DIR NODE_PORT
start_node() {
  local name="$1"
  shift
  CLUSTER_EXTRA_CONF="$*" cluster_start || { echo "could not start a cluster for $name"; exit 77; }
  NODE_DIR[$name]="$CLUSTER_DIR"
  NODE_PORT[$name]="$PGPORT"
  CLUSTER_DIR=""
}
stop_node() { CLUSTER_DIR="${NODE_DIR[$1]}" && _cluster_as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null; CLUSTER_DIR=""; }
restart_node() { _cluster_as_owner "$PG_BIN/pg_ctl" -D "${NODE_DIR[$1]}/data" -l "${NODE_DIR[$1]}/server.log" -w -t 60 start >/dev/null; }
stop_nodes() {  # the EXIT trap: also fails the script when a server's log shows a crashed backend
  local status=$? node
  for node in "${!NODE_DIR[@]}"; do
    if grep -E 'terminated by signal|TRAP:|PANIC' "${NODE_DIR[$node]}/server.log" 2>/dev/null; then
      echo "FAIL: a backend of $node crashed"
      status=1
    fi
    CLUSTER_DIR="${NODE_DIR[$node]}"
    cluster_stop
  done
  exit "$status"
}
trap stop_nodes EXIT
on() { local node="$1"; shift; PGHOST="${NODE_DIR[$node]}" PGPORT="${NODE_PORT[$node]}" PGDATABASE=postgres sql "$@"; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }  # equal, and not both empty (a failed query prints nothing)
conninfo() { echo "host=${NODE_DIR[$1]} port=${NODE_PORT[$1]} dbname=postgres user=postgres"; }

shards=(shard1 shard2 shard3)
start_node coord "wal_level = logical
max_wal_senders = 10
max_replication_slots = 10"
for shard in "${shards[@]}"; do start_node "$shard" "dendrite.catalog = replica"; done
start_node single ""

columns="transaction_id bigint, tx_time timestamp, customer_id int, terminal_id int, amount numeric(12,2), online boolean,
         ip inet, country text, merchant_category text, is_fraud boolean, fraud_scenario int"
generated="SELECT * FROM dendrite.generate_transactions(customers => 600, terminals => 300, days => 24, seed => 3)"
cutoff="2026-01-22"  # rows before it train; rows from it on arrive one insert at a time, guarded

# The coordinator: tx partitioned by card (customer_id), each partition a foreign table on its shard.
on coord -c "CREATE EXTENSION dendrite" -c "CREATE EXTENSION postgres_fdw" \
  -c "CREATE TABLE tx ($columns) PARTITION BY HASH (customer_id)" >/dev/null
for i in 0 1 2; do
  shard="${shards[$i]}"
  on "$shard" -c "CREATE EXTENSION dendrite" -c "CREATE TABLE tx ($columns, PRIMARY KEY (transaction_id))" >/dev/null
  on coord -c "CREATE SERVER $shard FOREIGN DATA WRAPPER postgres_fdw
                 OPTIONS (host '${NODE_DIR[$shard]}', port '${NODE_PORT[$shard]}', dbname 'postgres', async_capable 'true')" \
    -c "CREATE USER MAPPING FOR postgres SERVER $shard OPTIONS (user 'postgres')" \
    -c "CREATE FOREIGN TABLE tx_$shard PARTITION OF tx FOR VALUES WITH (MODULUS 3, REMAINDER $i) SERVER $shard
          OPTIONS (table_name 'tx')" >/dev/null
done
on single -c "CREATE EXTENSION dendrite" -c "CREATE TABLE tx ($columns, PRIMARY KEY (transaction_id))" >/dev/null
on coord -c "INSERT INTO tx $generated WHERE tx_time < '$cutoff'" >/dev/null
on single -c "INSERT INTO tx $generated WHERE tx_time < '$cutoff'" >/dev/null

# --- 1. A shard refuses catalog writes: its ids come from the coordinator.
out="$(on shard1 -c "SELECT dendrite.train('local', 'SELECT amount, is_fraud FROM tx', 'is_fraud', epochs => 1)" 2>&1)" &&
  fail "a replica trained a model"
grep -q 'cannot train: dendrite.s catalog in this database is a replica' <<<"$out" || fail "unexpected refusal: $out"
echo "# a shard with dendrite.catalog = replica refuses train (55000)"

# --- 2. The card-only featurizer and its model are trained on the coordinator, over every shard's rows, and
# on the reference: the same rows give the same model, bit for bit, whatever order the shards answer in.
featurizer="SELECT dendrite.create_featurizer('cards', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', label => 'is_fraud',
  columns => '{\"transaction_id\": \"ignore\", \"fraud_scenario\": \"ignore\", \"ip\": \"ignore\", \"terminal_id\": \"ignore\"}',
  history => '[{\"entity\": \"customer_id\", \"time\": \"tx_time\", \"value\": \"amount\", \"windows\": [\"1 day\", \"7 days\"],
                \"aggregates\": [\"count\", \"mean\", \"ratio_to_mean\"]}]')"
train="SELECT version FROM dendrite.train('fraud', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud',
  featurizer => 'cards', epochs => 3, split_column => 'tx_time')"
for node in coord single; do
  on "$node" -c "SET client_min_messages = warning" -c "SET dendrite.device = cpu" -c "$featurizer" -c "$train" >/dev/null
done
fingerprint="SELECT md5(string_agg(m.name || layer || p.name || value::text, ',' ORDER BY m.name, layer, p.name))
               FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)"
same "$(on coord -c "$fingerprint")" "$(on single -c "$fingerprint")" ||
  fail "training through the coordinator gave other parameters than training on one server"
fitted="SELECT md5(string_agg(concat_ws(' ', ordinal, center, scale, impute), ',' ORDER BY ordinal)) FROM dendrite.feature_columns"
same "$(on coord -c "$fitted")" "$(on single -c "$fitted")" || fail "the featurizer fitted through the coordinator differs"
echo "# training through the coordinator equals training on one server, bit for bit"
# History of an entity that is not the shard key is split across shards: said when the featurizer is made.
history="history => '[{\"entity\": \"terminal_id\", \"time\": \"tx_time\", \"windows\": [\"7 days\"], \"aggregates\": [\"count\"]},
                      {\"entity\": \"customer_id\", \"time\": \"tx_time\", \"windows\": [\"7 days\"], \"aggregates\": [\"count\"]}]'"
out="$(on coord -c "SELECT dendrite.create_featurizer('terminals', 'SELECT * FROM tx', label => 'is_fraud', $history)" 2>&1)"
grep -q "NOTICE:  history of terminal_id on table tx, which is sharded by customer_id: a guard on a shard sees only that shard's rows of each terminal_id" <<<"$out" ||
  fail "no NOTICE for terminal history on a card-sharded table: $out"
out="$(on single -c "SELECT dendrite.create_featurizer('terminals', 'SELECT * FROM tx', label => 'is_fraud', $history)" 2>&1)"
grep -q "sharded" <<<"$out" && fail "a NOTICE about shards on a table that is not sharded: $out"
out="$(on coord -c "SELECT dendrite.create_featurizer('cards_only', 'SELECT * FROM tx', label => 'is_fraud',
                      history => '[{\"entity\": \"customer_id\", \"time\": \"tx_time\", \"windows\": [\"7 days\"], \"aggregates\": [\"count\"]}]')" 2>&1)"
grep -q "sharded" <<<"$out" && fail "a NOTICE about shards for history on the shard key: $out"
echo "# a featurizer with terminal history on the card-sharded table gets a NOTICE; card history does not"
# Scoped "within": "shard", a terminal's history is keyed by (terminal, shard) offline too: what each shard
# sees inline. The reference names the layout the coordinator resolves from its table.
scoped="label => 'is_fraud', columns => '{\"transaction_id\": \"ignore\", \"fraud_scenario\": \"ignore\", \"ip\": \"ignore\"}',
  history => '[{\"entity\": \"terminal_id\", \"time\": \"tx_time\", \"windows\": [\"1 day\", \"7 days\"], \"aggregates\": [\"count\"], \"within\": WITHIN},
               {\"entity\": \"customer_id\", \"time\": \"tx_time\", \"value\": \"amount\", \"windows\": [\"7 days\"], \"aggregates\": [\"count\", \"mean\"]}]'"
scoped_train="SELECT version FROM dendrite.train('terminal_fraud', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud',
  featurizer => 'terminal_shards', epochs => 2, split_column => 'tx_time')"
out="$(on coord -c "SET dendrite.device = cpu" -c "SELECT dendrite.create_featurizer('terminal_shards', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', ${scoped/WITHIN/\"shard\"})" \
         -c "SET client_min_messages = warning" -c "$scoped_train" 2>&1)"
grep -q "sharded" <<<"$out" && fail "a NOTICE about shards for history scoped within the shard: $out"
on single -c "SET client_min_messages = warning" -c "SET dendrite.device = cpu" \
  -c "SELECT dendrite.create_featurizer('terminal_shards', 'SELECT * FROM tx ORDER BY tx_time, transaction_id',
                                        ${scoped/WITHIN/{\"key\": \"customer_id\", \"shards\": 3\}})" -c "$scoped_train" >/dev/null
scoped_spec="SELECT spec->'history'->0->'within' || jsonb_build_object('entity', spec->'history'->0->'entity')
               FROM dendrite.featurizers WHERE name = 'terminal_shards'"
same "$(on coord -c "$scoped_spec")" '{"key": "customer_id", "entity": "terminal_id_within_shard", "shards": 3}' ||
  fail "within shard resolved to $(on coord -c "$scoped_spec")"
same "$(on coord -c "$fingerprint")" "$(on single -c "$fingerprint")" ||
  fail "the scoped featurizer's model differs between the coordinator and one server"
echo "# history scoped within the shard: resolved from the coordinator's table, no NOTICE, the same model as one server's"

# --- 3. The shards subscribe to the catalog; their guards log what they score.
out="$(on single -c "SELECT dendrite.create_catalog_publication()" 2>&1)" && fail "published with wal_level = replica"
grep -q 'the catalog cannot be published: wal_level is replica' <<<"$out" || fail "unexpected publication error: $out"
on coord -c "SELECT dendrite.create_catalog_publication()" >/dev/null
for shard in "${shards[@]}"; do
  on "$shard" -c "CREATE SUBSCRIPTION dendrite_catalog CONNECTION '$(conninfo coord)' PUBLICATION dendrite_catalog
                    WITH (slot_name = dendrite_catalog_$shard)" 2>/dev/null
done
serving_everywhere() {  # waits until every shard (or those named after it) serves version $1 of fraud
  local start=$SECONDS shard version="$1"
  shift
  for shard in "${@:-${shards[@]}}"; do
    until [ "$(on "$shard" -c "SELECT version FROM dendrite.serving_version('fraud')" 2>/dev/null)" = "$version" ]; do
      [ $((SECONDS - start)) -gt 60 ] && fail "$shard does not serve version $version of fraud after 60 s"
      sleep 0.1
    done
  done
}
serving_everywhere 1
for shard in "${shards[@]}"; do
  on "$shard" -c "CREATE TRIGGER fraud_guard BEFORE INSERT ON tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard('fraud', 'log')" \
              -c "CREATE TRIGGER terminal_guard BEFORE INSERT ON tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard('terminal_fraud', 'log')"
done
on coord -c "INSERT INTO tx $generated WHERE tx_time >= '$cutoff' AND tx_time < '$cutoff'::timestamp + interval '1 day'" >/dev/null
on single -c "INSERT INTO tx $generated WHERE tx_time >= '$cutoff' AND tx_time < '$cutoff'::timestamp + interval '1 day'" >/dev/null

# Routing: every row sits on the shard its card hashes to, and so does its prediction.
total=0
for i in 0 1 2; do
  shard="${shards[$i]}"
  # OFFSET 0: the coordinator tests each fetched row (the function names the coordinator's own table)
  misplaced="$(on coord -c "SELECT count(*) FROM (SELECT customer_id FROM tx_$shard OFFSET 0) fetched
                            WHERE NOT satisfies_hash_partition('tx'::regclass, 3, $i, customer_id)")"
  [ "$misplaced" = 0 ] || fail "$misplaced rows on $shard belong to another shard"
  unlogged="$(on "$shard" -c "SELECT count(*) FROM tx WHERE tx_time >= '$cutoff'
                               AND transaction_id::text NOT IN (SELECT row_key FROM dendrite.predictions)")"
  [ "$unlogged" = 0 ] || fail "$unlogged guarded rows on $shard have no prediction there"
  total=$((total + $(on "$shard" -c "SELECT count(*) FROM dendrite.predictions
                                      WHERE version_id = (SELECT version_id FROM dendrite.serving_version('fraud'))")))
done
expected="$(on single -c "SELECT count(*) FROM tx WHERE tx_time >= '$cutoff'")"
[ "$total" = "$expected" ] || fail "the shards logged $total predictions for $expected guarded rows"
echo "# routing: $expected guarded rows, each on its card's shard with its prediction there"

# Score equality: each shard's guards scored their rows exactly as score_query does on the one-server
# reference: the card history model, and the terminal history scoped within the shard.
for model in fraud terminal_fraud; do
  reference="$(on single -c "SELECT key || ' ' || score FROM dendrite.score_query('$model', \$\$SELECT * FROM tx\$\$,
                                    key => 'transaction_id') WHERE key::bigint IN (SELECT transaction_id FROM tx WHERE tx_time >= '$cutoff')
                             ORDER BY key::bigint")"
  guarded="$(for shard in "${shards[@]}"; do
               on "$shard" -c "SELECT row_key || ' ' || score FROM dendrite.predictions
                                WHERE version_id = (SELECT version_id FROM dendrite.serving_version('$model'))"
             done | sort -n)"
  same "$reference" "$guarded" || { diff <(echo "$reference") <(echo "$guarded") | head -5; fail "$model's guard scores on the shards differ from the reference's"; }
done
# Unscoped, the terminal history would not be: the same rows scored on the coordinator without the shard.
echo "# the shards' guard scores equal score_query on one server, exactly ($expected rows), card history and terminal history within the shard"
# A model dropped on the coordinator leaves the shards, and takes the decisions they logged with it.
terminal_version_id="$(on coord -c "SELECT version_id FROM dendrite.serving_version('terminal_fraud')")"
for shard in "${shards[@]}"; do on "$shard" -c "DROP TRIGGER terminal_guard ON tx"; done
on coord -c "SELECT dendrite.drop_model('terminal_fraud')" >/dev/null
for shard in "${shards[@]}"; do
  for _ in $(seq 1 600); do
    [ "$(on "$shard" -c "SELECT count(*) FROM dendrite.models WHERE name = 'terminal_fraud'")" = 0 ] && break
    sleep 0.1
  done
  left="$(on "$shard" -c "SELECT (SELECT count(*) FROM dendrite.models WHERE name = 'terminal_fraud') || '/' ||
                                 (SELECT count(*) FROM dendrite.predictions WHERE version_id = $terminal_version_id)")"
  same "$left" "0/0" || fail "after drop_model on the coordinator $shard still has model/predictions $left"
done
echo "# a model dropped on the coordinator is gone from every shard, and so are the decisions its guards logged there"

# --- 4. A rejection on one shard rolls back the coordinator's statement on every shard. Shard 3 rejects
# every row; the statement sends the other shards' rows first.
day2="tx_time >= '$cutoff'::timestamp + interval '1 day' AND tx_time < '$cutoff'::timestamp + interval '2 days'"
on shard3 -c "CREATE TRIGGER strict_guard BEFORE INSERT ON tx FOR EACH ROW EXECUTE FUNCTION dendrite.guard('fraud', 'reject', '0')"
counts="SELECT (SELECT count(*) FROM tx) || '/' || (SELECT count(*) FROM dendrite.predictions)"
before="$(for shard in "${shards[@]}"; do on "$shard" -c "$counts"; done)"
out="$(on coord -c "\\set VERBOSITY verbose" \
         -c "INSERT INTO tx SELECT * FROM ($generated) g WHERE $day2
               ORDER BY satisfies_hash_partition('tx'::regclass, 3, 2, customer_id), tx_time" 2>&1)" &&
  fail "an insert through the coordinator passed a rejecting shard"
grep -q 'ERROR:  SF001: row [0-9]* of public.tx rejected by model "fraud" version 1' <<<"$out" || fail "unexpected error through the coordinator: $out"
after="$(for shard in "${shards[@]}"; do on "$shard" -c "$counts"; done)"
same "$before" "$after" || fail "a rejected statement left rows or predictions on a shard: $before -> $after"
on shard3 -c "DROP TRIGGER strict_guard ON tx"
echo "# a rejection on shard 3 reaches the coordinator's client as SF001; no shard kept a row or a prediction"

# --- 5. A deploy on the coordinator reaches every shard; a shard session that scored with the old version
# uses the new one at its next statement.
row_on_shard1() {  # the transaction_id of the Nth day-2 row whose card hashes to shard 1
  on coord -c "SELECT transaction_id FROM ($generated) g WHERE $day2 AND satisfies_hash_partition('tx'::regclass, 3, 0, customer_id)
               ORDER BY tx_time OFFSET $1 LIMIT 1"
}
version_id() {
  on coord -c "SELECT version_id FROM dendrite.model_versions JOIN dendrite.models USING (model_id) WHERE name = 'fraud' AND version = $1"
}
logged_version_id() { on shard1 -c "SELECT version_id FROM dendrite.predictions WHERE row_key = '$1'"; }
on coord -c "SELECT dendrite.deploy('fraud', 1)" >/dev/null
coproc SHARD_SESSION { PGHOST="${NODE_DIR[shard1]}" PGPORT="${NODE_PORT[shard1]}" psql -X -q -At -d postgres 2>&1; }
in_session() {  # runs $1 in the long-lived shard 1 session and prints its output
  printf '%s\n\\echo END-OF-STATEMENT\n' "$1" >&"${SHARD_SESSION[1]}"
  local line
  while IFS= read -r -t 30 line <&"${SHARD_SESSION[0]}"; do
    [ "$line" = END-OF-STATEMENT ] && return 0
    echo "$line"
  done
  fail "the shard session did not answer: $1"
}
first="$(row_on_shard1 0)"
in_session "INSERT INTO tx SELECT * FROM ($generated) g WHERE transaction_id = $first;"
same "$(logged_version_id "$first")" "$(version_id 1)" || fail "the shard session did not score with version 1"
on coord -c "SET client_min_messages = warning" -c "SET dendrite.device = cpu" \
  -c "SELECT dendrite.train('fraud', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'cards',
                            epochs => 2, split_column => 'tx_time', seed => 7)" >/dev/null
start_ns="$(date +%s%N)"
on coord -c "SELECT dendrite.deploy('fraud', 2)" >/dev/null
# README.md's call (the default timeout: a minute)
[ "$(on coord -c "CALL dendrite.wait_for_shards('fraud')")" = t ] || fail "wait_for_shards gave up on version 2"
lag_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
serving_everywhere 2  # each shard, asked directly
status="$(on coord -c "SELECT string_agg(concat_ws(' ', server, serving_version, current, catalog, lag_bytes IS NOT NULL, error), ', ')
                       FROM dendrite.cluster_status('fraud')")"
same "$status" "shard1 2 t replica t, shard2 2 t replica t, shard3 2 t replica t" || fail "unexpected cluster_status: $status"
second="$(row_on_shard1 1)"
in_session "INSERT INTO tx SELECT * FROM ($generated) g WHERE transaction_id = $second;"
same "$(logged_version_id "$second")" "$(version_id 2)" ||
  fail "a shard session kept scoring with version 1 after the deploy of version 2 reached its shard"
echo "# a deploy reached all three shards in $lag_ms ms (CALL dendrite.wait_for_shards); a long-lived shard session scored its next row with it"
echo "metric deploy_to_every_shard_ms $lag_ms"

# --- 6. A shard that is down during a deploy catches up when it comes back.
stop_node shard3
on coord -c "SELECT dendrite.rollback('fraud')" >/dev/null
serving_everywhere 1 shard1 shard2
status="$(on coord -c "SELECT string_agg(concat_ws(' ', server, serving_version, current, error LIKE '%could not connect%'), ', ')
                       FROM dendrite.cluster_status('fraud')")"
same "$status" "shard1 1 t, shard2 1 t, shard3 f t" || fail "unexpected cluster_status with shard 3 down: $status"
out="$(on coord -c "CALL dendrite.wait_for_shards('fraud', '1 s')" 2>&1)"
grep -q 'WARNING:  not every shard serves the coordinator.s version of model "fraud" after 00:00:01' <<<"$out" &&
  grep -q '^f$' <<<"$out" && grep -q 'DETAIL:  Behind: shard3 (could not connect to server "shard3")' <<<"$out" ||
  fail "wait_for_shards with a shard down: $out"
restart_node shard3
[ "$(on coord -c "CALL dendrite.wait_for_shards('fraud', '60 s')")" = t ] || fail "shard 3 did not catch up"
serving_everywhere 1
echo "# shard 3, down during a rollback, serves the rolled-back version once it is up again"

# Shard catalogs equal the coordinator's, row for row.
for table in models model_versions parameters deployments feature_columns; do
  sum="SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM dendrite.$table t"
  for shard in "${shards[@]}"; do
    same "$(on "$shard" -c "$sum")" "$(on coord -c "$sum")" || fail "dendrite.$table on $shard differs from the coordinator's"
  done
done
echo "# every shard's catalog equals the coordinator's"

# --- 7. Failover: shard 1 gets a synchronous standby; the coordinator reaches shard 1 by a multi-host
# connection string that only accepts the read-write server. Shard 1's primary is killed (-9) during guarded
# single-row inserts through the coordinator; the standby is promoted (what pg_auto_failover's monitor does).
standby_dir="$(mktemp -d /tmp/dendrite-cluster.XXXXXX)"
chmod 755 "$standby_dir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$standby_dir"
NODE_DIR[standby1]="$standby_dir"
NODE_PORT[standby1]="${NODE_PORT[shard1]}"
_cluster_as_owner "$PG_BIN/pg_basebackup" -h "${NODE_DIR[shard1]}" -p "${NODE_PORT[shard1]}" -U postgres -D "$standby_dir/data" \
  -R -X stream --no-sync
cat >>"$standby_dir/data/postgresql.auto.conf" <<CONF
unix_socket_directories = '$standby_dir'
primary_conninfo = '$(conninfo shard1) application_name=standby1'
CONF
restart_node standby1
on shard1 -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c "ALTER SYSTEM SET synchronous_commit = on" \
  -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
  [ "$(on shard1 -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] && break
  sleep 0.1
done
[ "$(on shard1 -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] ||
  fail "the standby of shard 1 is not synchronous"
on coord -c "ALTER SERVER shard1 OPTIONS (SET host '${NODE_DIR[shard1]},$standby_dir', SET port '${NODE_PORT[shard1]},${NODE_PORT[shard1]}',
                                          ADD target_session_attrs 'read-write')" >/dev/null
serving_before="$(on shard1 -c "SELECT version_id FROM dendrite.serving_version('fraud')")"
day3="tx_time >= '$cutoff'::timestamp + interval '2 days' AND tx_time < '$cutoff'::timestamp + interval '3 days'
      AND satisfies_hash_partition('tx'::regclass, 3, 0, customer_id)"
mapfile -t ids < <(on coord -c "SELECT transaction_id FROM ($generated) g WHERE $day3 ORDER BY tx_time LIMIT 120")
[ "${#ids[@]}" -ge 100 ] || fail "too few day-3 rows for shard 1: ${#ids[@]}"
committed=()
failed_ns=()
failed_ids=()
recovered_ns=""
for n in "${!ids[@]}"; do
  if [ "$n" = 30 ]; then
    shard1_pid="$(head -1 "${NODE_DIR[shard1]}/data/postmaster.pid")"
    kill -9 "$shard1_pid"
    # promoted in the background, as a failover monitor would: the inserts meanwhile measure the window
    _cluster_as_owner "$PG_BIN/pg_ctl" -D "$standby_dir/data" -w promote >/dev/null &
    promote_pid=$!
  fi
  if on coord -c "INSERT INTO tx SELECT * FROM ($generated) g WHERE transaction_id = ${ids[$n]}" >/dev/null 2>&1; then
    committed+=("${ids[$n]}")
    [ ${#failed_ns[@]} -gt 0 ] && [ -z "$recovered_ns" ] && recovered_ns="$(date +%s%N)"
  else
    failed_ns+=("$(date +%s%N)")
    failed_ids+=("${ids[$n]}")
    sleep 0.05  # a failed insert returns at once: paced, the attempts span the promotion on a loaded machine
  fi
done
wait "$promote_pid"
# Promoted after the last attempt (a slow machine): the rows that failed are inserted again, as a client
# retries; the first that succeeds ends the window.
for id in "${failed_ids[@]}"; do
  [ -n "$recovered_ns" ] && break
  for _ in $(seq 1 50); do
    if on coord -c "INSERT INTO tx SELECT * FROM ($generated) g WHERE transaction_id = $id" >/dev/null 2>&1; then
      committed+=("$id")
      recovered_ns="$(date +%s%N)"
      break
    fi
    sleep 0.2
  done
done
kill -0 "$shard1_pid" 2>/dev/null && fail "shard 1's primary survived kill -9"
[ "$(on standby1 -c "SELECT pg_is_in_recovery()")" = f ] || fail "the standby was not promoted"
[ -n "$recovered_ns" ] || [ ${#failed_ns[@]} = 0 ] || fail "no insert succeeded after the failover"
id_list="$(IFS=,; echo "${committed[*]}")"
kept="$(on standby1 -c "SELECT count(*) FROM tx WHERE transaction_id IN ($id_list)")"
[ "$kept" = "${#committed[@]}" ] || fail "the promoted standby has $kept of the ${#committed[@]} committed rows"
logged="$(on standby1 -c "SELECT count(*) FROM dendrite.predictions WHERE row_key::bigint IN ($id_list) AND version_id = $serving_before")"
[ "$logged" = "${#committed[@]}" ] || fail "the promoted standby logged $logged of ${#committed[@]} committed rows with the same version"
window_ms=0
[ ${#failed_ns[@]} -gt 0 ] && window_ms=$(( (recovered_ns - failed_ns[0]) / 1000000 ))
# The promoted standby's subscription resumes from the coordinator's slot: a deploy still reaches it.
on coord -c "SELECT dendrite.deploy('fraud', 2)" >/dev/null
[ "$(on coord -c "CALL dendrite.wait_for_shards('fraud', '60 s')")" = t ] || fail "the promoted shard 1 did not receive a deploy"
echo "# failover: shard 1's standby promoted after kill -9; ${#committed[@]} of ${#ids[@]} inserts committed, none lost, all scored by the same version; ${#failed_ns[@]} failed in a ${window_ms} ms window; a later deploy reached it"
echo "metric failover_error_window_ms $window_ms"
