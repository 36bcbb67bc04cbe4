# A backend that keeps a version's rows notices when another session edits them (model_cache.hpp). One
# long-lived session scores a row (dendrite.score and a row guard) before and after each edit made by other
# sessions (psql's \! runs them in between); a fresh session scores the same row each time. Pass: the kept
# session always scores what a fresh one scores: an edited bias, an edited featurizer column, an edited tree;
# a broken edit is XX001 in the kept session too, at once; a VACUUM of the tables changes nothing; under
# REPEATABLE READ, the edit reaches the kept session at its next transaction.
# Before 0.6.0 the kept session went on scoring with the rows it had read first.
source "$(dirname "$0")/lib.bash"
fresh_database e2e_edited_rows
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 10)" \
    -c "CREATE TABLE guarded (LIKE tx, score float8)" \
    -c "CREATE TABLE seen (step int, what text, session text, score float8)" \
    -c "SELECT dendrite.train('edited', 'SELECT amount, online, merchant_category, is_fraud FROM tx', 'is_fraud', epochs => 1)" \
    -c "SELECT dendrite.train('edited_trees', 'SELECT amount, online, merchant_category, is_fraud FROM tx', 'is_fraud',
                              algorithm => 'gbdt', options => '{\"rounds\": 5}')" \
    -c "CREATE TRIGGER g BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION dendrite.guard('edited', 'flag', '0.5', 'score')" \
    >/dev/null
version_id="$(sql -c "SELECT version_id FROM dendrite.serving_version('edited')")"
trees_id="$(sql -c "SELECT version_id FROM dendrite.serving_version('edited_trees')")"
featurizer_id="$(sql -c "SELECT featurizer_id FROM dendrite.model_versions WHERE version_id = $version_id")"
last_layer="$(sql -c "SELECT max(layer_index) FROM dendrite.parameters WHERE version_id = $version_id")"
bias="version_id = $version_id AND layer_index = $last_layer AND name = 'bias'"

# What a session records at step n: its scores of transaction 1 by both models, and (kept session) the guard's.
kept_scores() {
  cat <<SQL
INSERT INTO seen SELECT $1, 'mlp', 'kept', dendrite.score('edited', t) FROM tx t WHERE transaction_id = 1;
INSERT INTO seen SELECT $1, 'gbdt', 'kept', dendrite.score('edited_trees', t) FROM tx t WHERE transaction_id = 1;
WITH inserted AS (INSERT INTO guarded SELECT *, NULL FROM tx WHERE transaction_id = 1 RETURNING score)
INSERT INTO seen SELECT $1, 'mlp', 'guard', score FROM inserted;
\! psql -X -q -c "INSERT INTO seen SELECT $1, w, 'fresh', dendrite.score(m, t) FROM tx t, unnest(ARRAY['edited', 'edited_trees'], ARRAY['mlp', 'gbdt']) AS u(m, w) WHERE transaction_id = 1"
SQL
}
edit() { echo "\\! psql -X -q -v ON_ERROR_STOP=1 -c \"$1\""; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
{
  echo "SET client_min_messages = warning;"
  kept_scores 1
  edit "UPDATE dendrite.parameters SET value = ARRAY(SELECT x + 3 FROM unnest(value) x) WHERE $bias"
  kept_scores 2
  # A broken edit: the kept session refuses it at once, as a new session would.
  edit "UPDATE dendrite.parameters SET shape = '{2}' WHERE $bias"
  cat <<SQL
DO \$\$
BEGIN
  INSERT INTO seen SELECT 3, 'mlp', 'kept', dendrite.score('edited', t) FROM tx t WHERE transaction_id = 1;
EXCEPTION WHEN data_corrupted THEN
  INSERT INTO seen VALUES (3, 'mlp', 'kept: XX001', NULL);
END
\$\$;
SQL
  edit "UPDATE dendrite.parameters SET shape = '{1}' WHERE $bias"
  kept_scores 4
  edit "UPDATE dendrite.feature_columns SET center = center + 1 WHERE featurizer_id = $featurizer_id AND column_name = 'amount'"
  kept_scores 5
  edit "UPDATE dendrite.trees SET value = ARRAY(SELECT v + 1 FROM unnest(value) v) WHERE version_id = $trees_id AND tree_index = 0"
  kept_scores 6
  # An invalidation without an edit (VACUUM updates the tables' statistics): the kept rows stay.
  edit "VACUUM ANALYZE dendrite.parameters, dendrite.trees, dendrite.feature_columns, dendrite.featurizers"
  kept_scores 7
  # Under REPEATABLE READ the kept session's snapshot predates an edit whose invalidation it takes at its
  # next statement: inside that transaction it scores as its snapshot shows (the rows before the edit), and
  # in the next one as a fresh session does.
  echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"
  echo "SELECT count(*) FROM tx;"
  edit "UPDATE dendrite.parameters SET value = ARRAY(SELECT x - 2 FROM unnest(value) x) WHERE $bias"
  echo "INSERT INTO seen SELECT 8, 'mlp', 'kept in its snapshot', dendrite.score('edited', t) FROM tx t WHERE transaction_id = 1;"
  echo "COMMIT;"
  kept_scores 9
} | psql -X -q -v ON_ERROR_STOP=1 >"$log" 2>&1 || { cat "$log"; fail "the kept session failed"; }

# Every step: the kept session and the guard score what a fresh session scores.
differing="$(sql -c "SELECT string_agg(k.step || ' ' || k.what || ' ' || k.session || ' ' || k.score || ' vs ' || f.score, '; ')
                     FROM seen k JOIN seen f ON f.step = k.step AND f.what = k.what AND f.session = 'fresh'
                    WHERE k.session IN ('kept', 'guard') AND k.score IS DISTINCT FROM f.score")"
[ -z "$differing" ] || { sql -c "SELECT * FROM seen ORDER BY step, what, session"; fail "the kept session scored other rows than a fresh one: $differing"; }
[ "$(sql -c "SELECT count(*) FROM seen WHERE session IN ('kept', 'guard')")" = 21 ] || fail "steps missing"
[ "$(sql -c "SELECT s.score = k.score FROM seen s JOIN seen k ON k.step = 7 AND k.what = 'mlp' AND k.session = 'kept'
             WHERE s.step = 8")" = t ] || fail "inside its REPEATABLE READ transaction the kept session did not score as its snapshot shows"
[ "$(sql -c "SELECT session FROM seen WHERE step = 3")" = "kept: XX001" ] || fail "the broken edit was scored"
# The edits changed the scores they should have, and only those.
changes="$(sql -c "SELECT string_agg(step || ' ' || what, ', ' ORDER BY step, what) FROM (
                     SELECT step, what, score IS DISTINCT FROM lag(score) OVER (PARTITION BY what ORDER BY step) AS changed
                       FROM seen WHERE session = 'kept' AND step <> 3) s WHERE changed AND step > 1")"
[ "$changes" = "2 mlp, 5 mlp, 6 gbdt, 9 mlp" ] || { sql -c "SELECT * FROM seen ORDER BY step, what, session"; fail "changed at steps: $changes"; }
echo "# the kept session scored as a fresh one after each edit: $(sql -c "SELECT string_agg(step || ':' || round(score::numeric, 4), ' ' ORDER BY step) FROM seen WHERE session = 'kept' AND what = 'mlp'")"
