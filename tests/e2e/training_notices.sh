# Metrics measured on the training rows are flagged where they happen: validation_fraction 0 gives a NOTICE
# with the reason and a hint (per version, so compare() says it for each algorithm); a normal split says
# nothing. (The regress suites run at client_min_messages = warning: the per-epoch NOTICEs carry timings.)
source "$(dirname "$0")/lib.bash"
fresh_database e2e_notices
sql -c "CREATE TABLE points AS SELECT i, random() AS x, (i % 7 = 0)::int AS label FROM generate_series(1, 2000) i"

messages="$(psql -X -q -v ON_ERROR_STOP=1 -c "SELECT version FROM dendrite.train('no_validation',
    'SELECT x, label FROM points', 'label', validation_fraction => 0, epochs => 1)" 2>&1 >/dev/null)"
grep -q 'NOTICE:  the metrics of version 1 of model "no_validation" are measured on its training rows' <<<"$messages" \
  || fail "no NOTICE for validation_fraction 0: $messages"
grep -q 'DETAIL:  There are no validation rows (validation_fraction is 0).' <<<"$messages" || fail "no DETAIL: $messages"
grep -q 'HINT:  Such metrics favour a model that memorizes its rows.' <<<"$messages" || fail "no HINT: $messages"

messages="$(psql -X -q -v ON_ERROR_STOP=1 -c "SELECT version FROM dendrite.train('validated',
    'SELECT x, label FROM points', 'label', epochs => 1)" 2>&1 >/dev/null)"
grep -q 'measured on its training rows' <<<"$messages" && fail "a NOTICE with validation rows: $messages"

messages="$(psql -X -q -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM dendrite.compare('compared',
    'SELECT x, label FROM points', 'label', validation_fraction => 0, epochs => 1, options => '{\"rounds\": 5}')" 2>&1 >/dev/null)"
count="$(grep -c 'measured on its training rows' <<<"$messages" || true)"
[ "$count" = 4 ] || fail "compare() with validation_fraction 0 gave $count such NOTICEs, expected 4 (one per algorithm): $messages"
grep -q 'NOTICE:  compare has no winner: the metrics of its candidates come from their training rows' <<<"$messages" ||
  fail "compare() on training rows named a winner: $messages"
messages="$(psql -X -q -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM dendrite.compare('compared_split',
    'SELECT x, label FROM points', 'label', epochs => 1, options => '{\"rounds\": 5}')" 2>&1 >/dev/null)"
grep -q 'NOTICE:  compare ranked 4 candidates on validation PR-AUC over a random 20.0 % of the rows, the same share of each class (seed 42)' <<<"$messages" ||
  fail "compare() did not say what it ranked on: $messages"
echo "# validation_fraction 0: NOTICE with detail and hint, once per compared algorithm; none with a split; compare says what it ranked on"
