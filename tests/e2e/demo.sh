# The README's demo (demo/demo.sql, what scripts/demo.sh runs) from start to end in a database of its own:
# it stops at the first unexpected error (ON_ERROR_STOP), so a change that breaks a step fails here rather
# than on a new user's first run. Its one expected error is the guard's rejection of a payment.
source "$(dirname "$0")/lib.bash"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS e2e_demo" -c "CREATE DATABASE e2e_demo"
export PGDATABASE=e2e_demo
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/build"  # the demo writes build/demo-report.html where it runs
out="$(cd "$work" && psql -X -f "$DENDRITE_ROOT/demo/demo.sql" 2>&1)" || fail "the demo stopped: $(grep -E 'ERROR' <<<"$out" | tail -2)"
errors="$(grep -E '^(psql:[^ ]* )?ERROR' <<<"$out" || true)"
[ "$(grep -c . <<<"$errors")" -eq 1 ] && grep -q 'rejected by model "fraud_contest"' <<<"$errors" ||
  fail "the demo's errors are not the one rejection it shows: $errors"
grep -q '</html>' "$work/build/demo-report.html" || fail "the demo wrote no report"
grep -q '0.99995 and above' <<<"$out" || fail "the demo printed no calibration table"
echo "# the demo ran to its end ($(grep -c '^== ' <<<"$out") sections), its one error the rejection it shows"
