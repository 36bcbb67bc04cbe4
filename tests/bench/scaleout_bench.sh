#!/usr/bin/env bash
# Guarded inserts on a shard and through the coordinator (issue #29, docs/scaleout.md), in one run, on
# throw-away clusters of its own (needs `make install`): a one-server table, a coordinator whose table has
# one foreign partition (shard 1) and one whose table has three (shards 1-3), the shards guarding with
# dendrite.guard('fraud', 'flag', 'default', 'score') (every row scored, its score written) and the catalog
# replicated from the coordinator.
#
#   1. bulk INSERT ... SELECT of ROWS rows (default 300,000): the one-server table unguarded and guarded, then
#      through the coordinator into 1 and 3 shards, with postgres_fdw's batch_size 1 (its default) and 100;
#      ROUNDS rounds (default 3) interleaved, medians; the CPU seconds each server's processes used, per row;
#   2. pgbench single-row inserts (2 clients, RUN_SECONDS each, default 10): guarded on the one server and
#      through the coordinator into 3 shards.
#
# Every server is a cluster on this one machine: the 3-shard runs share its cores, so they measure the
# coordinator's routing cost and each shard's CPU per row, not the speed-up of separate machines; the
# projection for N machines is computed from the CPU per row (printed with its formula).
# Usage: tests/bench/scaleout_bench.sh  (ROWS=20000 ROUNDS=1 RUN_SECONDS=5 for a quick run)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows="${ROWS:-300000}"
rounds="${ROUNDS:-3}"
seconds="${RUN_SECONDS:-10}"
source scripts/cluster.sh

declare -A NODE_DIR NODE_PORT
start_node() {
  local name="$1"
  shift
  CLUSTER_EXTRA_CONF="$*" cluster_start
  NODE_DIR[$name]="$CLUSTER_DIR"
  NODE_PORT[$name]="$PGPORT"
  CLUSTER_DIR=""
}
stop_nodes() {
  local node
  for node in "${!NODE_DIR[@]}"; do CLUSTER_DIR="${NODE_DIR[$node]}"; cluster_stop; done
}
trap stop_nodes EXIT
on() { local node="$1"; shift; PGHOST="${NODE_DIR[$node]}" PGPORT="${NODE_PORT[$node]}" psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
conninfo() { echo "host=${NODE_DIR[$1]} port=${NODE_PORT[$1]} dbname=postgres user=postgres"; }
# CPU seconds used so far by a server's processes: the postmaster's own and its reaped children's, and its
# live children's (each session here is a new backend, reaped when it ends).
cpu_seconds() {
  local pid ticks=0 child
  pid="$(head -1 "${NODE_DIR[$1]}/data/postmaster.pid")"
  read -r -a f < "/proc/$pid/stat"
  ticks=$((f[13] + f[14] + f[15] + f[16]))
  for child in $(pgrep -P "$pid"); do
    read -r -a f < "/proc/$child/stat" 2>/dev/null || continue
    ticks=$((ticks + f[13] + f[14]))
  done
  echo "$ticks"  # in clock ticks
}
hz="$(getconf CLK_TCK)"

shards=(shard1 shard2 shard3)
start_node coord "wal_level = logical"
for shard in "${shards[@]}"; do start_node "$shard" "dendrite.catalog = replica"; done
start_node single ""

columns="transaction_id bigint, tx_time timestamp, customer_id int, terminal_id int, amount numeric(12,2), online boolean,
         ip inet, country text, merchant_category text, is_fraud boolean, fraud_scenario int, score float8"
# Training rows: the first 20 days of 6,000 cards; the loaded rows: ROWS rows of the days after.
generated="SELECT * FROM dendrite.generate_transactions(customers => 6000, terminals => 4000, days => 60, seed => 5)"
on coord -c "CREATE EXTENSION dendrite" -c "CREATE EXTENSION postgres_fdw" \
  -c "CREATE TABLE tx ($columns) PARTITION BY HASH (customer_id)" \
  -c "CREATE TABLE tx_one ($columns) PARTITION BY HASH (customer_id)" \
  -c "CREATE TABLE load AS SELECT * FROM ($generated) g WHERE tx_time >= '2026-01-25' ORDER BY tx_time LIMIT $rows" \
  -c "ALTER TABLE load ADD COLUMN seq bigserial PRIMARY KEY" -c "CREATE SEQUENCE ids START 100000000" >/dev/null
for i in 0 1 2; do
  shard="${shards[$i]}"
  on "$shard" -c "CREATE EXTENSION dendrite" -c "CREATE TABLE tx ($columns, PRIMARY KEY (transaction_id))" >/dev/null
  on coord -c "CREATE SERVER $shard FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${NODE_DIR[$shard]}', port '${NODE_PORT[$shard]}', dbname 'postgres')" \
    -c "CREATE USER MAPPING FOR postgres SERVER $shard OPTIONS (user 'postgres')" \
    -c "CREATE FOREIGN TABLE tx_$shard PARTITION OF tx FOR VALUES WITH (MODULUS 3, REMAINDER $i) SERVER $shard OPTIONS (table_name 'tx')" >/dev/null
done
on coord -c "CREATE FOREIGN TABLE tx_one_shard1 PARTITION OF tx_one FOR VALUES WITH (MODULUS 1, REMAINDER 0) SERVER shard1 OPTIONS (table_name 'tx')" >/dev/null
on single -c "CREATE EXTENSION dendrite" -c "CREATE TABLE tx ($columns, PRIMARY KEY (transaction_id))" \
  -c "CREATE TABLE plain ($columns, PRIMARY KEY (transaction_id))" -c "CREATE SEQUENCE ids START 100000000" \
  -c "CREATE TABLE load AS SELECT * FROM ($generated) g WHERE tx_time >= '2026-01-25' ORDER BY tx_time LIMIT $rows" \
  -c "ALTER TABLE load ADD COLUMN seq bigserial PRIMARY KEY" >/dev/null
training="SELECT * FROM ($generated) g WHERE tx_time < '2026-01-25' ORDER BY tx_time, transaction_id"
on coord -c "CREATE TABLE history AS $training" >/dev/null
on coord -c "SET client_min_messages = warning" -c "SET dendrite.device = cpu" \
  -c "INSERT INTO tx SELECT * FROM history" \
  -c "SELECT dendrite.create_featurizer('cards', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', label => 'is_fraud',
        columns => '{\"transaction_id\": \"ignore\", \"fraud_scenario\": \"ignore\", \"ip\": \"ignore\", \"terminal_id\": \"ignore\", \"score\": \"ignore\"}',
        history => '[{\"entity\": \"customer_id\", \"time\": \"tx_time\", \"value\": \"amount\", \"windows\": [\"1 day\", \"7 days\"],
                      \"aggregates\": [\"count\", \"mean\", \"ratio_to_mean\"]}]')" \
  -c "SELECT version FROM dendrite.train('fraud', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'cards', epochs => 3)" \
  -c "SELECT dendrite.create_catalog_publication()" >/dev/null
on single -c "SELECT dendrite.import_model('$(on coord -c "SELECT dendrite.export_model('fraud')" | sed "s/'/''/g")')" >/dev/null
for shard in "${shards[@]}"; do
  on "$shard" -c "CREATE SUBSCRIPTION dendrite_catalog CONNECTION '$(conninfo coord)' PUBLICATION dendrite_catalog
                  WITH (slot_name = dendrite_catalog_$shard)" 2>/dev/null
done
[ "$(on coord -c "CALL dendrite.wait_for_shards('fraud')")" = t ] || { echo "the shards did not receive the model"; exit 1; }
guard="EXECUTE FUNCTION dendrite.guard('fraud', 'flag', 'default', 'score')"
on single -c "CREATE TRIGGER fraud_guard BEFORE INSERT ON tx FOR EACH ROW $guard" >/dev/null
for shard in "${shards[@]}"; do on "$shard" -c "CREATE TRIGGER fraud_guard BEFORE INSERT ON tx FOR EACH ROW $guard" >/dev/null; done
empty_targets() {
  on single -c "TRUNCATE tx, plain"
  for shard in "${shards[@]}"; do on "$shard" -c "TRUNCATE tx"; done
}
set_batch() { for shard in "${shards[@]}"; do on coord -c "ALTER SERVER $shard OPTIONS (${2:-SET} batch_size '$1')"; done; }
set_batch 1 ADD

# Every measurement starts from empty tables (and so from empty inline history) on every server.
# One variant: NAME NODE STATEMENT; prints "NAME microseconds cpu-ticks-of-each-server...". "x guarded" below:
# its speed over the one-server guarded load's.
measure() {
  local name="$1" node="$2" statement="$3" start end before=() after=() n
  empty_targets
  for n in coord "${shards[@]}" single; do before+=("$(cpu_seconds "$n")"); done
  start="$(date +%s%N)"
  on "$node" -c "$statement" >/dev/null
  end="$(date +%s%N)"
  for n in coord "${shards[@]}" single; do after+=("$(cpu_seconds "$n")"); done
  local cpu=""
  for n in 0 1 2 3 4; do cpu+=" $((after[n] - before[n]))"; done
  echo "$name $(( (end - start) / 1000 ))$cpu"
}
loaded="SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud,
               fraud_scenario FROM load"
results="$(mktemp)"
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds"
  set_batch 1
  measure one_server_plain single "INSERT INTO plain $loaded" | tee -a "$results"
  measure one_server_guarded single "INSERT INTO tx $loaded" | tee -a "$results"
  measure coordinator_1_shard coord "INSERT INTO tx_one $loaded" | tee -a "$results"
  measure coordinator_3_shards coord "INSERT INTO tx $loaded" | tee -a "$results"
  set_batch 100
  measure coordinator_1_shard_batch100 coord "INSERT INTO tx_one $loaded" | tee -a "$results"
  measure coordinator_3_shards_batch100 coord "INSERT INTO tx $loaded" | tee -a "$results"
done

echo
echo "== bulk INSERT ... SELECT of $rows rows: medians over $rounds rounds (CPU: microseconds per row, each server's processes)"
printf '%-32s %9s %9s %12s %9s %9s %9s %9s\n' variant seconds rows/s "x guarded" coord shard1 shards2+3 single
baseline="$(awk '$1 == "one_server_guarded" {print $2}' "$results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
for variant in one_server_plain one_server_guarded coordinator_1_shard coordinator_3_shards coordinator_1_shard_batch100 coordinator_3_shards_batch100; do
  awk -v v="$variant" -v rows="$rows" -v hz="$hz" -v base="$baseline" '
    $1 == v { n++; t[n] = $2; c[n] = $3; s1[n] = $4; s23[n] = $5 + $6; s[n] = $7 }
    function median(x, k, i, j, tmp) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { tmp = x[i]; x[i] = x[j]; x[j] = tmp }; return x[int((k + 1) / 2)] }
    END {
      us = median(t, n); per = 1e6 / hz / rows
      printf "%-32s %9.2f %9.0f %12.2f %9.1f %9.1f %9.1f %9.1f\n", v, us / 1e6, rows / (us / 1e6), base / us,
             median(c, n) * per, median(s1, n) * per, median(s23, n) * per, median(s, n) * per
    }' "$results"
done

# pgbench: single-row inserts of a loaded row under a new id.
pgbench_script="$(mktemp)"
cat >"$pgbench_script" <<'SQL'
\set n random(1, 50000)
INSERT INTO tx SELECT nextval('ids'), tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario FROM load WHERE seq = :n;
SQL
sed -i "s/random(1, 50000)/random(1, $rows)/" "$pgbench_script"
chmod 644 "$pgbench_script"
echo
echo "== pgbench single-row inserts, 2 clients, $seconds s each (batch_size 1)"
set_batch 1
for node in single coord; do
  empty_targets
  tps="$(PGHOST="${NODE_DIR[$node]}" PGPORT="${NODE_PORT[$node]}" pgbench -n -c 2 -T "$seconds" -f "$pgbench_script" postgres 2>&1 |
         awk '/^tps/ {print $3}')"
  label="one server, guarded"; [ "$node" = coord ] && label="through the coordinator, 3 shards"
  echo "$label: $tps inserts/s"
done
rm -f "$pgbench_script" "$results"
echo
echo "Projection for N shards on N machines of k cores each, CPU-bound, enough concurrent clients:"
echo "  inserts/s(N) = min(N * k / shard_cpu_per_row, coordinators * k / coordinator_cpu_per_row)"
echo "with the per-row CPU of the coordinator_3_shards rows above (shard1 = one shard's; shards2+3 = two shards')."
echo "A single session is latency-bound instead: 1 / (coordinator + shard CPU per row + a network round trip per batch)."
