-- A shard's catalog (issue #29, docs/scaleout.md): with dendrite.catalog = replica, models arrive by logical
-- replication from the coordinator (whose ids they keep), so every write to a replicated table by a session
-- is refused with 55000: train, deploy, rollback, import, drop, and writes by hand. Scoring goes on, and the
-- shard keeps its own predictions and outcomes.
SET client_min_messages = warning;
CREATE TABLE rc_tx AS SELECT amount, online, country, is_fraud FROM dendrite.generate_transactions(200, days => 10, seed => 4);
SELECT version FROM dendrite.train('rc_model', 'SELECT * FROM rc_tx', 'is_fraud', epochs => 1, device => 'cpu');
SELECT version FROM dendrite.train('rc_model', 'SELECT * FROM rc_tx', 'is_fraud', epochs => 1, device => 'cpu');
SELECT dendrite.deploy('rc_model', 1), dendrite.deploy('rc_model', 2);
RESET client_min_messages;
-- What the coordinator publishes (dendrite.create_catalog_publication): not predictions or outcomes.
SELECT unnest(dendrite.replicated_tables()) AS replicated;

SET dendrite.catalog = replica;
SELECT count(*) = (SELECT count(*) FROM rc_tx) AS every_row_scored FROM rc_tx t WHERE dendrite.score('rc_model', t) >= 0;
\set VERBOSITY default
SELECT dendrite.train('rc_model', 'SELECT * FROM rc_tx', 'is_fraud', epochs => 1);
\set VERBOSITY sqlstate
SELECT dendrite.create_featurizer('rc_features', 'SELECT * FROM rc_tx', label => 'is_fraud');
SELECT dendrite.compare('rc_model', 'SELECT * FROM rc_tx', 'is_fraud', epochs => 1);
SELECT dendrite.import_model(dendrite.export_model('rc_model'), 'rc_copy');
\set VERBOSITY terse
SELECT dendrite.deploy('rc_model', 1);
SELECT dendrite.rollback('rc_model');
SELECT dendrite.drop_model('rc_model');
-- By hand, even as a superuser: the statement trigger on every replicated table.
DELETE FROM dendrite.parameters;
TRUNCATE dendrite.deployments;
UPDATE dendrite.models SET name = 'renamed';
-- Not replicated: a shard records the outcomes of its own rows.
INSERT INTO dendrite.outcomes (table_name, row_key, is_fraud) VALUES ('public.rc_tx', '1', true);
DELETE FROM dendrite.outcomes WHERE table_name = 'public.rc_tx';
\set VERBOSITY default

RESET dendrite.catalog;
SELECT dendrite.drop_model('rc_model');
DROP TABLE rc_tx;
