-- Hostile users (issue #22): a table owner's or trainer's own code (a trigger, a row security policy, a
-- function in a stored query) runs with its author's rights, never with the extension owner's or a privileged
-- caller's; outcomes are written only by who may update the guarded table; rows edited in the catalog are
-- an error (XX001) naming the table, never a crash or a score; an overflowed feature follows the nonfinite
-- policy; the generator honours statement_timeout and its memory limit. Self-contained: its own roles,
-- tables and models, dropped at the end.
SET client_min_messages = warning;
CREATE ROLE regress_mallory;
GRANT dendrite_trainer TO regress_mallory;
GRANT CREATE ON SCHEMA public TO regress_mallory;

-- What every hostile function records: where it ran, as whom, and whether its ALTER ROLE ... SUPERUSER went
-- through (it must not: it runs as regress_mallory).
CREATE TABLE hostile_log (site text, ran_as text, escalated boolean);
GRANT INSERT, SELECT ON hostile_log TO PUBLIC;
CREATE FUNCTION hostile_attempt(site text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE regress_mallory SUPERUSER';
        INSERT INTO public.hostile_log VALUES (site, current_user, true);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO public.hostile_log VALUES (site, current_user, false);
    END;
    RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION hostile_attempt(text) TO PUBLIC;

-- Mallory's data, model and guarded tables.
SET ROLE regress_mallory;
CREATE TABLE m_train AS
SELECT g AS id, ((g * 7919) % 1000) / 100.0 AS amount, (g % 13 = 0) AS is_fraud,
       timestamp '2026-01-01' + g * interval '1 minute' AS tx_time, g % 50 AS card, NULL::float8 AS score
  FROM generate_series(1, 2000) g;
SELECT version FROM dendrite.train('m_model', 'SELECT amount, is_fraud FROM m_train', 'is_fraud',
                                   hidden => '{4}', epochs => 2, seed => 1);
CREATE TABLE m_guarded (id bigint PRIMARY KEY, amount numeric, is_fraud boolean, score float8);
CREATE FUNCTION m_evil_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.hostile_attempt('flag update trigger'); RETURN NEW; END $$;
CREATE TRIGGER m_evil BEFORE UPDATE ON m_guarded FOR EACH ROW EXECUTE FUNCTION m_evil_trigger();
-- A policy of her own, forced on her own table: it runs whenever the flag update reads the table.
ALTER TABLE m_guarded ENABLE ROW LEVEL SECURITY;
ALTER TABLE m_guarded FORCE ROW LEVEL SECURITY;
CREATE POLICY m_evil_policy ON m_guarded USING (public.hostile_attempt('flag update policy'));
CREATE TRIGGER m_guard AFTER INSERT ON m_guarded REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('m_model', 'flag', '0', 'score', 'id');
GRANT INSERT ON m_guarded TO PUBLIC;
-- The same table guarded by the row capture.
CREATE TABLE m_captured (LIKE m_guarded INCLUDING ALL);
CREATE TRIGGER m_evil BEFORE UPDATE ON m_captured FOR EACH ROW EXECUTE FUNCTION m_evil_trigger();
CREATE TRIGGER m_capture BEFORE INSERT ON m_captured FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('m_model', 'flag', '0', 'score', 'id');
CREATE TRIGGER m_close AFTER INSERT ON m_captured FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('m_model', 'flag', '0', 'score', 'id');
GRANT INSERT ON m_captured TO PUBLIC;

-- 1. The flag write-back of both guard_batch forms: inserted by mallory herself, then by a superuser. Every
-- row is flagged (threshold 0), and every hostile call ran as regress_mallory and failed to escalate.
INSERT INTO m_guarded VALUES (1, 5, false, NULL), (2, 7, true, NULL);
INSERT INTO m_captured VALUES (1, 5, false, NULL), (2, 7, true, NULL);
RESET ROLE;
INSERT INTO m_guarded VALUES (3, 9, false, NULL);
INSERT INTO m_captured VALUES (3, 9, false, NULL);
SELECT count(*) AS flagged_rows FROM m_guarded WHERE score IS NOT NULL;
SELECT count(*) AS captured_flagged_rows FROM m_captured WHERE score IS NOT NULL;
SELECT site, ran_as, bool_or(escalated) AS escalated FROM hostile_log GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'regress_mallory';
TRUNCATE hostile_log;

-- 2. A stored history query that calls a hostile function runs as the featurizer's owner (mallory) when a
-- superuser scores with it, and when a superuser retrains her model its stored training query runs as her.
SET ROLE regress_mallory;
SELECT dendrite.create_featurizer('m_history', 'SELECT amount, card, tx_time, is_fraud FROM m_train',
    label => 'is_fraud', history_query => 'SELECT amount, card, tx_time, is_fraud FROM public.m_train WHERE public.hostile_attempt(''history query'')',
    history => '[{"entity": "card", "time": "tx_time", "value": "amount", "windows": ["1 day"], "aggregates": ["count"]}]') AS featurizer_version;
SELECT version FROM dendrite.train('m_trojan', 'SELECT amount, card, tx_time, is_fraud FROM m_train WHERE hostile_attempt(''training query'')',
                                   'is_fraud', featurizer => 'm_history', hidden => '{4}', epochs => 1, seed => 1);
RESET ROLE;
TRUNCATE hostile_log;
SELECT count(*) AS scored FROM m_train t WHERE dendrite.score('m_trojan', t) BETWEEN 0 AND 1;
SELECT (dendrite.retrain('m_trojan', promote => 'manual')).challenger_version;
SELECT site, ran_as, bool_or(escalated) AS escalated FROM hostile_log GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'regress_mallory';
-- train with no query reuses the stored one the same way; a model with no version has none to reuse.
SELECT dendrite.train('m_nothing_yet', NULL, 'is_fraud');

-- 3. A history query its author cannot run is refused when it is stored.
CREATE TABLE secret_table (amount numeric, card int, tx_time timestamp, is_fraud boolean);
SET ROLE regress_mallory;
SELECT dendrite.create_featurizer('m_peek', 'SELECT amount, card, tx_time, is_fraud FROM m_train', label => 'is_fraud',
    history_query => 'SELECT * FROM public.secret_table',
    history => '[{"entity": "card", "time": "tx_time", "value": "amount", "windows": ["1 day"], "aggregates": ["count"]}]');

-- 4. Outcomes: mallory may record those of her own table, not of a table she may not update, and may not
-- change another table's recorded outcomes directly.
SELECT dendrite.record_outcome('m_guarded', '1', true);
SELECT dendrite.record_outcome('secret_table', '1', true);
RESET ROLE;
SELECT dendrite.record_outcome('secret_table', '7', false);
SET ROLE regress_mallory;
UPDATE dendrite.outcomes SET is_fraud = true WHERE table_name = 'public.secret_table';
INSERT INTO dendrite.outcomes (table_name, row_key, is_fraud) VALUES ('public.secret_table', '8', true);
DELETE FROM dendrite.outcomes WHERE table_name = 'public.secret_table';
RESET ROLE;
SELECT table_name, row_key, is_fraud FROM dendrite.outcomes WHERE table_name IN ('public.secret_table', 'public.m_guarded') ORDER BY 1, 2;

-- 5. Catalog rows edited by hand: each is XX001 naming the table, at once in this session too (a backend
-- checks the rows it keeps when the catalog's tables change: model_cache.hpp).
SELECT version_id AS m_version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'm_model' \gset
SELECT featurizer_id AS m_featurizer_id FROM dendrite.model_versions WHERE version_id = :m_version_id \gset
\set VERBOSITY default
SELECT value AS m_kernel, shape AS m_kernel_shape FROM dendrite.parameters
 WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0 \gset
ALTER TABLE dendrite.parameters ALTER value DROP NOT NULL, ALTER shape DROP NOT NULL;
UPDATE dendrite.parameters SET value = NULL WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.parameters p SET value = :'m_kernel' WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0;
UPDATE dendrite.parameters SET shape = '{2,2}' WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.parameters SET shape = NULL WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.parameters SET shape = :'m_kernel_shape' WHERE version_id = :m_version_id AND name = 'kernel' AND layer_index = 0;
SELECT dendrite.predict('m_model', '{1}') BETWEEN 0 AND 1 AS repaired_scores;
-- The configuration is read by the engine's one description of a version's rows (engine/model_layout.hpp).
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{layers,0,activation}', '"swish"')
 WHERE version_id = :m_version_id;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{layers,0,activation}', '"relu"')
 WHERE version_id = :m_version_id;
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{layers,0,dense}', '5')
 WHERE version_id = :m_version_id;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{layers,0,dense}', '4')
 WHERE version_id = :m_version_id;
SELECT dendrite.predict('m_model', '{1}') BETWEEN 0 AND 1 AS repaired_scores;
-- A network that encodes its inputs piecewise-linearly (train's default for an mlp, where an input's bins
-- separate the label: x and y of points do): edges out of order would divide by a bin of no width or less.
SELECT version FROM dendrite.train('m_encoded', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2,
                                   seed => 1) \gset
SELECT version_id AS e_version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'm_encoded' \gset
SELECT layer, shape FROM dendrite.parameters WHERE version_id = :e_version_id AND name = 'edges' ORDER BY layer;
SELECT value AS e_edges FROM dendrite.parameters WHERE version_id = :e_version_id AND layer = 'encoding_0' \gset
UPDATE dendrite.parameters SET value[2] = value[3] WHERE version_id = :e_version_id AND layer = 'encoding_0';
SELECT dendrite.predict('m_encoded', '{1, 1}');
UPDATE dendrite.parameters SET value = :'e_edges' WHERE version_id = :e_version_id AND layer = 'encoding_0';
SELECT dendrite.predict('m_encoded', '{1, 1}') BETWEEN 0 AND 1 AS repaired_scores;
SELECT configuration AS e_configuration FROM dendrite.model_versions WHERE version_id = :e_version_id \gset
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{encodings,0,bins}', '9')
 WHERE version_id = :e_version_id;
SELECT dendrite.predict('m_encoded', '{1, 1}');
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{encodings,0,feature}', '2')
 WHERE version_id = :e_version_id;
SELECT dendrite.predict('m_encoded', '{1, 1}');
UPDATE dendrite.model_versions SET configuration = :'e_configuration' WHERE version_id = :e_version_id;
SELECT dendrite.predict('m_encoded', '{1, 1}') BETWEEN 0 AND 1 AS repaired_scores;
SELECT dendrite.drop_model('m_encoded');
ALTER TABLE dendrite.parameters ALTER value SET NOT NULL, ALTER shape SET NOT NULL;
UPDATE dendrite.feature_columns SET center = 'NaN' WHERE featurizer_id = :m_featurizer_id;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.feature_columns c SET center = 4.99 WHERE featurizer_id = :m_featurizer_id;
UPDATE dendrite.featurizers SET output_names = '{amount,extra}' WHERE featurizer_id = :m_featurizer_id;
SELECT dendrite.predict('m_model', '{1}');
UPDATE dendrite.featurizers SET output_names = '{amount}' WHERE featurizer_id = :m_featurizer_id;
SELECT featurizer_id AS h_featurizer_id FROM dendrite.featurizers WHERE name = 'm_history' \gset
DELETE FROM dendrite.feature_history WHERE featurizer_id = :h_featurizer_id;
SELECT count(*) FROM m_train t WHERE dendrite.score('m_trojan', t) >= 0;
-- A gbdt version whose tree names a child -7. (Its per-round NOTICEs carry timings: not shown.)
SET client_min_messages = warning;
SELECT version FROM dendrite.train('m_trees', 'SELECT amount, is_fraud FROM m_train', 'is_fraud', algorithm => 'gbdt',
                                   options => '{"rounds": 3}') \gset
UPDATE dendrite.trees t SET left_child[1] = -7 FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE t.version_id = v.version_id AND m.name = 'm_trees' AND t.tree_index = 0;
SELECT dendrite.predict('m_trees', '{1}');
-- ... or whose root's two children are one node (a shared child: explaining would walk every path to it,
-- 2^depth of them for a chain of such diamonds).
SELECT version FROM dendrite.train('m_dag', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt',
                                   options => '{"rounds": 2}') \gset
SELECT left_child[1] >= 0 AS root_splits FROM dendrite.trees t JOIN dendrite.model_versions v USING (version_id)
  JOIN dendrite.models m USING (model_id) WHERE m.name = 'm_dag' AND t.tree_index = 0;
UPDATE dendrite.trees t SET left_child[1] = right_child[1] FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE t.version_id = v.version_id AND m.name = 'm_dag' AND t.tree_index = 0;
SELECT dendrite.predict('m_dag', '{1, 1}');
SELECT dendrite.drop_model('m_dag');
\c
-- An import whose first tensor (layer 0's bias) has the wrong shape adds nothing.
SELECT dendrite.import_model(jsonb_set(dendrite.export_model('m_model'), '{version_rows,parameters,0,shape}', '[3, 4]'), model => 'm_bad_import');
SELECT count(*) AS bad_imports FROM dendrite.models WHERE name = 'm_bad_import';
\set VERBOSITY terse

-- 6. A finite input whose feature overflows a float follows the nonfinite policy ('error' here).
SELECT dendrite.score('m_model', r) FROM (SELECT 1e300::float8 AS amount) r;

-- 7. The generator: statement_timeout stops it, and a data set beyond dendrite.training_memory is refused
-- before anything is generated.
SET statement_timeout = '300ms';
SELECT count(*) FROM dendrite.generate_transactions(1000000, 1000, 5);
RESET statement_timeout;
SELECT count(*) FROM dendrite.generate_transactions(1000000, 1000000, 5);
SET dendrite.training_memory = '64MB';
SELECT count(*) FROM dendrite.generate_transactions(200000, 1000, 30);
RESET dendrite.training_memory;

-- Clean up.
SELECT dendrite.drop_model(m) FROM unnest(ARRAY['m_model', 'm_trojan', 'm_trees']) m;
SELECT dendrite.drop_featurizer('m_history');
DELETE FROM dendrite.outcomes WHERE table_name IN ('public.secret_table', 'public.m_guarded');
DROP TABLE m_guarded, m_captured, m_train, secret_table, hostile_log;
DROP FUNCTION m_evil_trigger(), hostile_attempt(text);
REVOKE CREATE ON SCHEMA public FROM regress_mallory;
DROP ROLE regress_mallory;
