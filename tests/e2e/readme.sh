# The README's SQL, as a reader would paste it, on the generator's transactions: every statement runs, except
# what this machine lacks (a GPU for device => 'cuda', pg_cron for schedule_retraining), and no training warns
# of a leak (the example leaves the simulator's fraud_scenario out).
source "$(dirname "$0")/lib.bash"
fresh_database e2e_readme
sql -c "CREATE TABLE transactions AS SELECT * FROM dendrite.generate_transactions(customers => 300, terminals => 600, days => 20, start_time => date_trunc('day', localtimestamp) - interval '19 days')"
block="$(awk '/^```sql$/ {inside = 1; next} /^```$/ {if (inside) exit} inside' "$DENDRITE_ROOT/README.md")"
[ -n "$block" ] || fail "no SQL block in README.md"
statements="$(grep -c ';' <<<"$block")"
out="$(grep -v '^CREATE EXTENSION dendrite;$' <<<"$block" | psql -X -q -v ON_ERROR_STOP=0 -o /dev/null 2>&1 || true)"
errors="$(grep -E '^(psql:[^ ]* )?ERROR' <<<"$out" || true)"
unexpected="$(grep -vE 'no usable GPU|pg_cron' <<<"$errors" || true)"
[ -z "$unexpected" ] || fail "README SQL failed: $unexpected"
! grep -q 'WARNING:  feature' <<<"$out" || fail "the README's training warns of a leak: $(grep 'WARNING' <<<"$out" | head -2)"
[ "$(sql -c "SELECT count(*) FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'fraud'")" -ge 4 ] ||
  fail "the README's train and compare did not store their versions"
echo "# README.md's SQL block ($statements statements) ran; errors only for what this machine lacks: $(grep -c . <<<"$errors" || true)"
