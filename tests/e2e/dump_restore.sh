# pg_dump / pg_restore keeps models: the restored database scores bit for bit like the original. And
# export_model / import_model carry one version to another database, bit for bit too.
source "$(dirname "$0")/lib.bash"
fresh_database e2e_dump_source
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(customers => 500, terminals => 1000, days => 20)" \
    -c "SELECT version FROM dendrite.train('fraud', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', epochs => 2)" \
    -c "SELECT version FROM dendrite.train('fraud', 'SELECT amount, online, is_fraud FROM tx', 'is_fraud', algorithm => 'logistic_regression', epochs => 2)" \
    >/dev/null

scores="SELECT md5(string_agg(dendrite.score('fraud', t)::text, ',' ORDER BY transaction_id)) FROM tx t"
catalog="SELECT (SELECT count(*) FROM dendrite.model_versions) || ' versions, ' || (SELECT count(*) FROM dendrite.parameters) || ' tensors, ' || (SELECT count(*) FROM dendrite.epochs) || ' epochs'"
before="$(sql -c "$scores")"
catalog_before="$(sql -c "$catalog")"

dump="$(mktemp)"
pg_dump -Fc -f "$dump" e2e_dump_source
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS e2e_dump_target" -c "CREATE DATABASE e2e_dump_target"
pg_restore -d e2e_dump_target "$dump"
rm -f "$dump"
export PGDATABASE=e2e_dump_target

after="$(sql -c "$scores")"
catalog_after="$(sql -c "$catalog")"
[ "$catalog_before" = "$catalog_after" ] || fail "catalog differs: $catalog_before vs $catalog_after"
[ "$before" = "$after" ] || fail "scores differ after restore"
# Training after a restore continues the numbering (the sequences were dumped too).
next="$(sql -c "SET client_min_messages = warning" -c "SELECT version FROM dendrite.train('fraud', 'SELECT amount, online, is_fraud FROM tx', 'is_fraud', epochs => 1)")"
[ "$next" = 3 ] || fail "the version after a restore is $next, expected 3"
echo "# restored $catalog_after; scores identical (md5 $after)"

# export_model / import_model move one version between databases: a database with nothing but the table
# and an imported version scores it bit for bit as the source did (an MLP and a gbdt version).
export PGDATABASE=e2e_dump_source
sql -c "SET client_min_messages = warning" \
    -c "SELECT version FROM dendrite.train('trees', 'SELECT amount, online, customer_id, is_fraud FROM tx', 'is_fraud', algorithm => 'gbdt', options => '{\"rounds\": 20}')" >/dev/null
mlp_document="$(sql -c "SELECT dendrite.export_model('fraud', 1)")"
trees_document="$(sql -c "SELECT dendrite.export_model('trees')")"
sql -c "SELECT dendrite.deploy('fraud', 1)" >/dev/null
mlp_source="$(sql -c "$scores")"
trees_source="$(sql -c "SELECT md5(string_agg(dendrite.score('trees', t)::text, ',' ORDER BY transaction_id)) FROM tx t")"
fresh_database e2e_import_target
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(customers => 500, terminals => 1000, days => 20)" >/dev/null
sql -v doc="$mlp_document" <<<"SELECT dendrite.import_model(:'doc')" >/dev/null
sql -v doc="$trees_document" <<<"SELECT dendrite.import_model(:'doc')" >/dev/null
[ "$(sql -c "$scores")" = "$mlp_source" ] || fail "an imported MLP version scores differently"
[ "$(sql -c "SELECT md5(string_agg(dendrite.score('trees', t)::text, ',' ORDER BY transaction_id)) FROM tx t")" = "$trees_source" ] \
  || fail "an imported gbdt version scores differently"
echo "# export_model -> import_model into another database: MLP and gbdt scores identical (md5 $mlp_source, $trees_source)"
