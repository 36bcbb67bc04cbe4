# ALTER EXTENSION dendrite UPDATE from 0.1.0 to the current version (through every upgrade script): a
# database created with the first version keeps its models (scores bit for bit), its 0.1.0 train signature
# keeps working with the new library until the update, and after the update it has the new objects, the new
# train and the privileges of 0.3.0 (the models it had stay its superuser's).
source "$(dirname "$0")/lib.bash"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS e2e_upgrade" -c "CREATE DATABASE e2e_upgrade"
export PGDATABASE=e2e_upgrade
sql -c "CREATE EXTENSION dendrite VERSION '0.1.0'"
[ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'dendrite'")" = "0.1.0" ] || fail "not at 0.1.0"

sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 5)" \
    -c "SELECT version FROM dendrite.train('old', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 2)" >/dev/null
before="$(sql -c "SELECT md5(string_agg(dendrite.score('old', t)::text, ',' ORDER BY transaction_id)) FROM tx t")"

current="$(sed -nE "s/^default_version = '(.*)'/\1/p" "$DENDRITE_ROOT/dendrite.control")"
sql -c "ALTER EXTENSION dendrite UPDATE"
[ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'dendrite'")" = "$current" ] || fail "not updated to $current"
after="$(sql -c "SELECT md5(string_agg(dendrite.score('old', t)::text, ',' ORDER BY transaction_id)) FROM tx t")"
[ "$before" = "$after" ] || fail "scores changed across the update ($before vs $after)"

# The new signature, a gbdt version and compare() on the updated database.
sql -c "SET client_min_messages = warning" \
    -c "SELECT version FROM dendrite.train('old', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 2, patience => 1, threshold => 'recall:0.5')" >/dev/null
sql -c "SET client_min_messages = warning" \
    -c "SELECT count(*) FROM dendrite.compare('cmp', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 2, options => '{\"rounds\": 10}')" >/dev/null
[ "$(sql -c "SELECT count(*) FROM dendrite.trees")" -ge 10 ] || fail "no trees stored after the update"
# The models and featurizers from before the update belong to the superuser that made them; a trainer
# role may score them and not deploy them.
[ "$(sql -c "SELECT string_agg(DISTINCT owner, ',') FROM dendrite.featurizers")" = "postgres" ] || fail "featurizer owners after the update"
sql -c "DROP ROLE IF EXISTS e2e_upgrade_trainer" -c "CREATE ROLE e2e_upgrade_trainer" \
    -c "GRANT dendrite_trainer TO e2e_upgrade_trainer" -c "GRANT SELECT ON tx TO e2e_upgrade_trainer" >/dev/null
[ "$(sql -c "SET ROLE e2e_upgrade_trainer" -c "SELECT count(*) FROM tx t WHERE dendrite.score('old', t) BETWEEN 0 AND 1")" = \
  "$(sql -c "SELECT count(*) FROM tx")" ] || fail "a trainer cannot score the old model after the update"
denied="$(sql -c "SET ROLE e2e_upgrade_trainer" -c "SELECT dendrite.deploy('old')" 2>&1 || true)"
grep -q 'must be owner of model "old"' <<<"$denied" || fail "a trainer deployed a superuser's model: $denied"

# An updated database is identical to a fresh install (which runs src/sql/dendrite.sql): the same objects,
# columns in the same order, constraints, indexes, triggers, policies, function definitions, privileges,
# comments and pg_dump's tables (tests/e2e/extension_catalog.sql lists them, a fact a line).
catalog() { sql -f "$DENDRITE_ROOT/tests/e2e/extension_catalog.sql"; }
updated="$(catalog)"
fresh_database e2e_upgrade_fresh
fresh="$(catalog)"
[ "$updated" = "$fresh" ] || { diff <(echo "$updated") <(echo "$fresh"); fail "an updated database differs from a fresh install"; }
echo "# 0.1.0 -> $current: scores unchanged (md5 $after); fresh install and update identical in $(grep -c '^object ' <<<"$fresh") objects, $(wc -l <<<"$fresh") catalog facts"
