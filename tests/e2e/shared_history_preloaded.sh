# The inline history shared between sessions with dendrite preloaded: the ring then comes from the shared
# memory requested at server start and has dendrite.shared_history_events events. On a cluster of its own whose
# ring holds 300 events, the isolation suites specs/shared_history.spec and specs/history_labels.spec give their
# expected output (the bulk inserts of the first overflow 300 as they overflow the 512 of a server without
# preloading); with 0, sharing is off and the same suites show each session's guard missing the other's rows, and
# the labels the other session set.
source "$(dirname "$0")/lib.bash"
root="${DENDRITE_ROOT:-.}"
source "$root/scripts/cluster.sh"
isolation="$(dirname "$(pg_config --pgxs)")/../test/isolation/pg_isolation_regress"
[ -x "$isolation" ] || { echo "pg_isolation_regress is not installed (postgresql-server-dev-15)"; exit 77; }
trap cluster_stop EXIT
out="$(mktemp -d)"
trap 'cluster_stop; rm -rf "$out"' EXIT

run_suite() {  # ring size: starts a cluster preloading dendrite with that ring, runs the suite into $out/<size>
  CLUSTER_EXTRA_CONF="shared_preload_libraries = 'dendrite'
dendrite.shared_history_events = $1" cluster_start
  local shown
  shown="$(sql -d postgres -c "LOAD 'dendrite'" -c "SHOW dendrite.shared_history_events")"
  [ "$shown" = "$1" ] || fail "dendrite.shared_history_events shows '$shown', not $1"
  mkdir -p "$out/$1"
  (cd "$root" && "$isolation" --inputdir=. --outputdir="$out/$1" --dbname=dendrite_isolation shared_history history_labels) \
    >"$out/$1/log" 2>&1 || true
  cluster_stop
}

run_suite 300
grep -q "All 2 tests passed" "$out/300/log" || { cat "$out/300/regression.diffs" 2>/dev/null; fail "the suites fail with a preloaded ring of 300"; }
echo "# preloaded ring of 300 events: specs/shared_history and specs/history_labels give their expected output"

run_suite 0
differ="$(grep -A3 '^guarded|differ_from_offline' "$out/0/results/shared_history.out" | sed -n 3p | cut -d'|' -f2 | tr -d ' ')"
[ -n "$differ" ] && [ "$differ" -gt 0 ] || fail "with sharing off the guarded scores still equal the offline pass ($differ differ)"
grep -q "WARNING" "$out/0/results/shared_history.out" && fail "with sharing off a session warned of falling behind"
labels_differ="$(grep -A3 '^guarded|differ_from_offline' "$out/0/results/history_labels.out" | sed -n 3p | cut -d'|' -f2 | tr -d ' ')"
[ -n "$labels_differ" ] && [ "$labels_differ" -gt 0 ] || fail "with sharing off the other session's labels still count ($labels_differ differ)"
echo "# sharing off (0): $differ guarded scores differ from the offline pass, as per-backend states did; $labels_differ where the other session set the labels"
