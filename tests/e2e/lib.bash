# Helpers for the end-to-end scripts. scripts/test.sh runs each script with PGHOST/PGPORT/PGUSER set to its
# throw-away cluster. Exit 0 = pass, 77 = skipped (print the reason last), anything else = fail.
set -euo pipefail

# A fresh database with the extension; sets PGDATABASE.
fresh_database() {
  local name="$1"
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  export PGDATABASE="$name"
  psql -X -q -c "CREATE EXTENSION dendrite"
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

fail() { echo "FAIL: $*"; exit 1; }

# The pid of the backend training MODEL once it has finished an epoch (polled for up to 10 s), or "".
training_pid() {
  local pid=""
  for _ in $(seq 1 100); do
    pid="$(sql -c "SELECT pid FROM dendrite.training_progress WHERE model = '$1' AND epoch >= 1")"
    [ -n "$pid" ] && break
    sleep 0.1
  done
  echo "$pid"
}
