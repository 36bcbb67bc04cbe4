#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds and installs dendrite, starts a throw-away
# PostgreSQL cluster in a temporary directory on a free port, runs demo/demo.sql, and stops the cluster
# (also on failure or Ctrl-C), leaving nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --demo
echo "== building and installing dendrite (the extension and dendritectl; the tests build the rest)"
targets="dendrite_engine dendritectl"
if ! make -j"$(nproc)" ENGINE_TARGETS="$targets" >build.log 2>&1 ||
   ! make install ENGINE_TARGETS="$targets" >>build.log 2>&1; then cat build.log; exit 1; fi
rm -f build.log

source scripts/cluster.sh
trap cluster_stop EXIT
cluster_start
echo "== throw-away PostgreSQL on port $PGPORT, in $CLUSTER_DIR (removed at the end)"
start=$SECONDS
psql -X -q -f demo/demo.sql
echo
echo "== demo finished in $((SECONDS - start)) s; stopping the cluster"
