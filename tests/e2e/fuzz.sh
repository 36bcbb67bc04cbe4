# Fuzzing every SQL function and the guard triggers (issue #8): tests/fuzz/sql_fuzz.sql generates
# FUZZ_CASES (default 10,000) calls with random and adversarial arguments from a fixed seed (FUZZ_SEED);
# each runs in its own transaction under a 1 s statement_timeout. Pass: every case returns or fails with
# a clean ERROR (never XX000, an internal error), the session is never cut off (a crashed backend cuts
# it), and the server still answers. scripts/test.sh checks the server log for crashes afterwards.
source "$(dirname "$0")/lib.bash"
root="${DENDRITE_ROOT:-.}"
cases="${FUZZ_CASES:-10000}"
seed="${FUZZ_SEED:-0.4242}"
fresh_database e2e_fuzz
sql -c "CREATE TABLE fz AS
          SELECT g AS id, (g % 17) / 4.0 - 2 AS x, ((g * 7) % 13)::float8 AS y, 'note ' || (g % 5) AS note,
                 timestamp '2026-01-01' + g * interval '37 minutes' AS at, g % 11 AS card,
                 ('10.0.' || (g % 3) || '.' || (g % 250))::inet AS ip, (g % 17) / 4.0 - 2 + (g % 13) / 6.5 > 2 AS label
            FROM generate_series(1, 200) AS g" \
    -c "CREATE TABLE fz_guarded (LIKE fz, score float8, flagged boolean)"
psql -X -q -v ON_ERROR_STOP=1 -v seed="$seed" -v cases="$cases" -f "$root/tests/fuzz/sql_fuzz.sql" >/dev/null
[ "$(sql -c "SELECT count(*) FROM fuzz_cases")" = "$cases" ] || fail "the generator did not produce $cases cases"

log="$(mktemp)"
[ -n "${FUZZ_KEEP_LOG:-}" ] && echo "# log: $log" || trap 'rm -f "$log"' EXIT
start=$SECONDS
# client_min_messages=error: the NOTICEs of training would only fill the log.
PGOPTIONS="-c statement_timeout=1000 -c client_min_messages=error" \
  psql -X -q -o /dev/null -v VERBOSITY=verbose -v SHOW_CONTEXT=never -v ECHO=errors \
       <<<'SELECT statement FROM fuzz_cases ORDER BY n \gexec' >"$log" 2>&1
rc=$?
seconds=$((SECONDS - start))
if grep -qE 'server closed the connection|connection to server was lost|terminating connection' "$log"; then
  grep -B3 -E 'server closed the connection|connection to server was lost|terminating connection' "$log" | head -20
  fail "the fuzz session was cut off (a crashed backend?)"
fi
[ "$rc" -le 1 ] || fail "psql exited with $rc"
[ "$(sql -c "SELECT 1")" = 1 ] || fail "the server does not answer after fuzzing"
errors="$(grep -oE 'ERROR:  [0-9A-Z]{5}' "$log" | awk '{print $2}' | sort | uniq -c | sort -rn || true)"
total_errors="$(awk '{s += $1} END {print s + 0}' <<<"$errors")"
if grep -q 'ERROR:  XX000' "$log"; then
  grep -A2 'ERROR:  XX000' "$log" | head -30
  fail "internal errors (XX000) above: each needs a proper SQLSTATE"
fi
echo "# $cases cases (seed $seed) in ${seconds} s: $((cases - total_errors)) returned, $total_errors clean errors, no internal error, no crash"
echo "# errors by SQLSTATE: $(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}' <<<"$errors")"
