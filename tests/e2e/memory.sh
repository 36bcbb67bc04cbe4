# Repeated training and scoring in one backend must not grow its memory without bound (issue #8): 1,000
# iterations of train (a fresh version each time, alternating mlp and gbdt, each with its own automatic
# featurizer), deploy, score per row, score_query, and single-row inserts through a guard trigger that is
# dropped and created again (the guard's states kept across statements, see guard.cpp), each its own
# statement in one session. The backend's private resident memory (RssAnon: VmRSS also counts the shared
# buffers a backend touches, which grow with the catalog tables) is read from /proc after a warm-up and
# after each half. Pass: the second half grows it by less than MEMORY_SLACK_KB (default 2 MB). Before the
# caches evicted (model_cache.hpp) it grew ~18 kB an iteration, 9 MB a half.
source "$(dirname "$0")/lib.bash"
iterations="${MEMORY_ITERATIONS:-1000}"
slack_kb="${MEMORY_SLACK_KB:-2048}"
fresh_database e2e_memory
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 12, customers => 500, terminals => 500)" \
    -c "CREATE TABLE guarded AS SELECT *, NULL::float8 AS score FROM tx LIMIT 0" >/dev/null
half=$((iterations / 2))
report="$(psql -X -q -At -v ON_ERROR_STOP=1 -v half="$half" <<'SQL'
SET client_min_messages = warning;
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
CREATE TEMP TABLE iteration_sql AS
SELECT g, format($f$SELECT dendrite.train('memory', 'SELECT amount, online, country, merchant_category, is_fraud FROM tx', 'is_fraud',
                                          algorithm => %L, epochs => 2, hidden => '{8}', options => '{"rounds": 5}');
                   SELECT dendrite.deploy('memory');
                   SELECT count(*) FROM (SELECT dendrite.score('memory', t) FROM tx t LIMIT 200) s;
                   SELECT count(*) FROM dendrite.score_query('memory', 'SELECT * FROM tx ORDER BY transaction_id LIMIT 200');
                   DROP TRIGGER IF EXISTS guard ON guarded;
                   TRUNCATE guarded;
                   CREATE TRIGGER guard BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION dendrite.guard('memory', 'flag', 'default', 'score');
                   INSERT INTO guarded SELECT *, NULL FROM tx ORDER BY transaction_id LIMIT 1;
                   INSERT INTO guarded SELECT *, NULL FROM tx ORDER BY transaction_id OFFSET 1 LIMIT 1;
                   INSERT INTO guarded SELECT *, NULL FROM tx ORDER BY transaction_id OFFSET 2 LIMIT 1$f$,
                 CASE WHEN g % 2 = 0 THEN 'mlp' ELSE 'gbdt' END) AS statement
  FROM generate_series(1, :half) AS g;
\o /dev/null
-- warm-up: caches, plans and the libraries' own pools reach their working size
SELECT statement FROM iteration_sql WHERE g <= 50 ORDER BY g \gexec
\! echo "warm $(awk '/RssAnon/ {print $2}' /proc/$BACKEND_PID/status)"
SELECT statement FROM iteration_sql ORDER BY g \gexec
\! echo "first $(awk '/RssAnon/ {print $2}' /proc/$BACKEND_PID/status)"
SELECT statement FROM iteration_sql ORDER BY g \gexec
\! echo "second $(awk '/RssAnon/ {print $2}' /proc/$BACKEND_PID/status)"
SQL
)"
warm="$(awk '$1 == "warm" {print $2}' <<<"$report")"
first="$(awk '$1 == "first" {print $2}' <<<"$report")"
second="$(awk '$1 == "second" {print $2}' <<<"$report")"
[ -n "$warm" ] && [ -n "$first" ] && [ -n "$second" ] || fail "could not read the backend's memory: $report"
flagged="$(sql -c "SELECT count(score) FROM guarded")"
[ "$flagged" = 3 ] || fail "the guard flagged $flagged of the last iteration's 3 rows"
versions="$(sql -c "SELECT max(version) FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'memory'")"
growth=$((second - first))
echo "# $versions versions trained, deployed and scored in one backend: RssAnon ${warm} kB after warm-up, ${first} kB after $half iterations, ${second} kB after $((2 * half)) (second half $(printf "%+d" "$growth") kB, limit ${slack_kb} kB)"
[ "$growth" -lt "$slack_kb" ] || fail "the backend grew by ${growth} kB over the last $half iterations"
