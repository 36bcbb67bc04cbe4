# Throw-away PostgreSQL clusters for the demo and the tests. Source this file, then:
#   cluster_start      initdb in a temporary directory, start on a free port, export PGHOST/PGPORT/PGUSER
#   cluster_stop       stop the server and remove the directory (safe to call twice; use it in a trap)
#   cluster_log        the server log's path
# Works as root (the server runs as the postgres user) and as an ordinary user.

PG_BIN="${PG_BIN:-$(pg_config --bindir)}"

# From /: the postgres user may not enter the directory this runs in (a clone in root's mode-700 home).
_cluster_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

_cluster_free_port() {
  local port
  for port in $(seq 54330 54430); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  echo "no free port between 54330 and 54430" >&2
  return 1
}

cluster_start() {
  CLUSTER_DIR="$(mktemp -d /tmp/dendrite-cluster.XXXXXX)"
  chmod 755 "$CLUSTER_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
  local port
  port="$(_cluster_free_port)"
  _cluster_as_owner "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust --no-sync >/dev/null
  cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
fsync = off
synchronous_commit = off
shared_buffers = 256MB
max_parallel_workers_per_gather = 2
log_min_messages = warning
${CLUSTER_EXTRA_CONF:-}
CONF
  _cluster_as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null
  export PGHOST="$CLUSTER_DIR" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
}

cluster_log() { echo "$CLUSTER_DIR/server.log"; }

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
  _cluster_as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=""
}
