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
