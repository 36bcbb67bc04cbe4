# dendritectl (issue #7): a CSV loaded with COPY (progress on stderr), a model trained and deployed, its
# health and its HTML report written to a file; then the report rendered by headless Chromium, with a
# screenshot kept in build/e2e/ (skipped, with the reason, where Chromium is absent).
source "$(dirname "$0")/lib.bash"
root="${DENDRITE_ROOT:-.}"
ctl="$(pg_config --bindir)/dendritectl"
[ -x "$ctl" ] || fail "dendritectl is not installed at $ctl (make install)"
fresh_database e2e_cli
out_dir="$root/build/e2e"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sql -c "CREATE TABLE tx_source AS SELECT * FROM dendrite.generate_transactions(customers => 800, terminals => 200, days => 20, seed => 9)" \
    -c "CREATE TABLE tx (LIKE tx_source)"
sql -c "COPY tx_source TO STDOUT WITH (FORMAT csv, HEADER true)" >"$work/tx.csv"
rows="$(sql -c "SELECT count(*) FROM tx_source")"

"$ctl" load tx "$work/tx.csv" >"$work/load.out" 2>"$work/load.err" || fail "load: $(cat "$work/load.err")"
grep -q "^loaded $rows rows into tx$" "$work/load.out" || fail "load said: $(cat "$work/load.out")"
grep -q "load tx 100%" "$work/load.err" || fail "no progress on the load: $(cat "$work/load.err")"
[ "$(sql -c "SELECT count(*) FROM tx")" = "$rows" ] || fail "the table does not hold the file's rows"
# On the PATH (make install links it from /usr/local/bin, where root installs).
if [ -w /usr/local/bin ]; then
  [ "$(command -v dendritectl)" = /usr/local/bin/dendritectl ] || fail "dendritectl is not on the PATH: $(command -v dendritectl || echo none)"
fi

# A table that does not exist is created from the header, its types read from the first rows; an existing
# one is loaded by the header's names, whatever the order of the file's columns. Progress in bytes and
# rows for a small file too.
sql -c "COPY (SELECT amount, transaction_id, tx_time, online, country, tx_time::date AS day, tx_time::timestamptz AS at
              FROM tx_source ORDER BY transaction_id LIMIT 50) TO STDOUT WITH (FORMAT csv, HEADER true)" >"$work/small.csv"
"$ctl" load new_tx "$work/small.csv" >"$work/new.out" 2>"$work/new.err" || fail "load into a new table: $(cat "$work/new.err")"
grep -qF 'created table new_tx ("amount" numeric, "transaction_id" bigint, "tx_time" timestamp, "online" boolean, "country" text, "day" date, "at" timestamptz)' "$work/new.err" ||
  fail "the created table: $(cat "$work/new.err")"
grep -q "^loaded 50 rows into new_tx$" "$work/new.out" || fail "load into a new table said: $(cat "$work/new.out")"
grep -q "load new_tx 100% .* KB of .* KB, ~50 rows" "$work/new.err" || fail "small-file progress: $(cat "$work/new.err")"
sql -c "CREATE TABLE reordered (transaction_id bigint, online boolean, amount numeric, note text DEFAULT 'kept')"
"$ctl" load reordered "$work/small.csv" >/dev/null 2>"$work/reordered.err" && fail "loaded a file with columns the table lacks"
grep -q 'column "tx_time" of relation "reordered" does not exist' "$work/reordered.err" || fail "missing column: $(cat "$work/reordered.err")"
sql -c "ALTER TABLE reordered ADD COLUMN tx_time timestamp, ADD COLUMN country text, ADD COLUMN day date, ADD COLUMN at timestamptz"
"$ctl" load reordered "$work/small.csv" >/dev/null 2>&1 || fail "load by the header's names"
[ "$(sql -c "SELECT count(*) FROM reordered r JOIN tx_source s USING (transaction_id)
              WHERE r.amount = s.amount AND r.online = s.online AND r.note = 'kept'")" = 50 ] || fail "the columns were not matched by name"

"$ctl" train cli_model "SELECT amount, online, country, merchant_category, is_fraud FROM tx" is_fraud \
    epochs=4 'hidden={16,8}' >"$work/train.out" 2>"$work/train.err" || fail "train: $(cat "$work/train.err")"
grep -q "^version: *1$" "$work/train.out" || fail "train printed: $(cat "$work/train.out")"
grep -q "train cli_model 100% epoch 4/4" "$work/train.err" || fail "no epoch progress: $(cat "$work/train.err")"
"$ctl" deploy cli_model | grep -q "^deployed_version: *1$" || fail "deploy"
"$ctl" health cli_model "1 day" >"$work/health.out" || fail "health"
grep -q "^serving_version: *1$" "$work/health.out" && grep -q "^predictions: *0$" "$work/health.out" ||
  fail "health printed: $(cat "$work/health.out")"
"$ctl" compare cli_compare "SELECT amount, online, is_fraud FROM tx" is_fraud \
    'algorithms={logistic_regression,gbdt}' epochs=2 >"$work/compare.out" 2>/dev/null || fail "compare"
grep -q "(2 rows)" "$work/compare.out" && grep -q "gbdt" "$work/compare.out" || fail "compare printed: $(cat "$work/compare.out")"

# Errors: the server's message, detail and hint on stderr, exit 1; bad usage exits 2.
"$ctl" deploy no_such_model 2>"$work/error.err" && fail "deploying a missing model succeeded"
grep -q 'ERROR: model "no_such_model" does not exist' "$work/error.err" || fail "error printed: $(cat "$work/error.err")"
rc=0; "$ctl" deploy no_such_model 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "a server error exited $rc, not 1"
rc=0; "$ctl" train only_a_name >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "bad usage exited $rc, not 2"
rc=0; "$ctl" train m "SELECT 1" label "epochs); DROP TABLE tx; --=1" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad argument name was accepted (exit $rc)"
# A misspelt argument: bad usage naming the function's arguments, not the server's "does not exist".
rc=0; "$ctl" train m "SELECT 1" label epochz=3 2>"$work/misspelt.err" >/dev/null || rc=$?
[ $rc = 2 ] || fail "a misspelt argument exited $rc, not 2"
grep -q 'dendrite.train has no argument "epochz"; its arguments are: .*hidden.*epochs' "$work/misspelt.err" ||
  fail "misspelt argument: $(head -2 "$work/misspelt.err")"
[ "$(sql -c "SELECT count(*) FROM tx")" = "$rows" ] || fail "tx changed"

# Ctrl-C (here SIGINT) cancels the training on the server: the client exits 1 with the server's message and
# no training is left running.
"$ctl" train cli_long "SELECT amount, online, country, merchant_category, is_fraud FROM tx" is_fraud \
    epochs=100000 >/dev/null 2>"$work/cancel.err" &
client=$!
for _ in $(seq 1 100); do
  [ -n "$(sql -c "SELECT pid FROM dendrite.training_progress WHERE model = 'cli_long' AND epoch >= 1")" ] && break
  sleep 0.1
done
kill -INT "$client"
rc=0; wait "$client" || rc=$?
[ $rc = 1 ] || fail "a canceled training exited $rc, not 1: $(cat "$work/cancel.err")"
grep -q "canceling statement due to user request" "$work/cancel.err" || fail "cancel printed: $(cat "$work/cancel.err")"
for _ in $(seq 1 50); do
  [ "$(sql -c "SELECT count(*) FROM dendrite.training_progress WHERE model = 'cli_long'")" = 0 ] && break
  sleep 0.1
done
[ "$(sql -c "SELECT count(*) FROM dendrite.training_progress WHERE model = 'cli_long'")" = 0 ] || fail "the training goes on"
[ "$(sql -c "SELECT count(*) FROM dendrite.models WHERE name = 'cli_long'")" = 0 ] || fail "a canceled training left a model"

"$ctl" report cli_model -o "$work/report.html" | grep -q "^wrote $work/report.html" || fail "report"
grep -q "<svg" "$work/report.html" || fail "the report has no chart"
cp "$work/report.html" "$out_dir/report.html"

browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "chromium is not installed: the report was written but not rendered"; exit 77; }
# --dump-dom: the DOM Chromium built (five charts parsed as SVG elements); --screenshot: the page drawn.
chromium_flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,1600)
timeout 120 "$browser" "${chromium_flags[@]}" --dump-dom "file://$work/report.html" 2>/dev/null >"$work/dom.html" ||
  fail "chromium could not load the report"
[ "$(grep -o "<svg" "$work/dom.html" | wc -l)" = 5 ] || fail "chromium's DOM does not hold five charts"
grep -q "Model cli_model, version 1 (serving)" "$work/dom.html" || fail "chromium's DOM lacks the title"
timeout 120 "$browser" "${chromium_flags[@]}" --screenshot="$out_dir/report.png" "file://$work/report.html" >/dev/null 2>&1 ||
  fail "chromium could not take a screenshot"
# A PNG of the requested size that is not blank: its compressed size grows with what is drawn.
[ "$(head -c 8 "$out_dir/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the screenshot is not a PNG"
[ "$(od -An -tu1 -j16 -N8 "$out_dir/report.png" | awk '{print $3 * 256 + $4 "x" $7 * 256 + $8}')" = 1300x1600 ] ||
  fail "the screenshot has the wrong size"
size="$(stat -c %s "$out_dir/report.png")"
[ "$size" -gt 50000 ] || fail "the screenshot looks blank ($size bytes)"
echo "# report rendered by $("$browser" --version 2>/dev/null | head -1): build/e2e/report.png, $size bytes"
