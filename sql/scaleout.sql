-- Scale-out (issue #29, docs/scaleout.md), what one server can show: a shard's catalog, shard_of, and history
-- scoped within a shard. tests/e2e/scaleout.sh runs the coordinator, the shards and the standby.
--
-- A shard's catalog: with dendrite.catalog = replica, models arrive by logical
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

-- dendrite.shard_of(key, shards) is PostgreSQL's hash routing: every row of a table PARTITION BY HASH into
-- partitions of MODULUS 3 sits in the partition whose remainder is its key's shard_of (a NULL key: 0).
CREATE TABLE so_int (k int) PARTITION BY HASH (k);
CREATE TABLE so_int_0 PARTITION OF so_int FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE so_int_1 PARTITION OF so_int FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE so_int_2 PARTITION OF so_int FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO so_int SELECT g FROM generate_series(-1000, 1000) g UNION ALL SELECT NULL;
SELECT tableoid::regclass AS partition, dendrite.shard_of(k, 3) AS shard_of, count(*) FROM so_int GROUP BY 1, 2 ORDER BY 1, 2;
CREATE TABLE so_text (k text, b bigint) PARTITION BY HASH (k);
CREATE TABLE so_text_0 PARTITION OF so_text FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE so_text_1 PARTITION OF so_text FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO so_text SELECT 'card ' || g, g * 10000000000 FROM generate_series(1, 1000) g;
SELECT tableoid::regclass AS partition, dendrite.shard_of(k, 2) AS shard_of, count(*) FROM so_text GROUP BY 1, 2 ORDER BY 1, 2;
SELECT dendrite.shard_of(7, 1) AS one_shard, dendrite.shard_of(7::bigint, 3) = dendrite.shard_of(7, 3) AS int8_as_int4,
       dendrite.shard_of(1, NULL) AS no_count;
\set VERBOSITY terse
SELECT dendrite.shard_of(1, 0);
SELECT dendrite.shard_of(point(1, 2), 3);
\set VERBOSITY default
DROP TABLE so_int, so_text;

-- History scoped "within" the shard: a terminal's history keyed by (terminal, the row's shard), so that a
-- featurizer fitted over every shard's rows computes what each shard sees inline. Not a sharded table here,
-- so the layout is named; on the coordinator "within": "shard" reads it from the partitioned table.
SET client_min_messages = warning;
CREATE TABLE sw_tx AS SELECT * FROM dendrite.generate_transactions(300, 100, days => 15, seed => 8);
SELECT dendrite.create_featurizer('sw_scoped', 'SELECT tx_time, customer_id, terminal_id, amount, is_fraud FROM sw_tx', label => 'is_fraud',
    history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "aggregates": ["count"],
                  "within": {"key": "customer_id", "shards": 3}}]');
SELECT dendrite.create_featurizer('sw_whole', 'SELECT tx_time, customer_id, terminal_id, amount, is_fraud FROM sw_tx', label => 'is_fraud',
    history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "aggregates": ["count"]}]');
RESET client_min_messages;
SELECT spec->'history'->0->>'entity' AS entity, spec->'history'->0->'within' AS within, d->>'name' AS derived,
       d->>'expression' AS expression
  FROM dendrite.featurizers, jsonb_array_elements(spec->'derived') d WHERE name = 'sw_scoped';
SELECT dendrite.feature_names('sw_scoped') @> '{terminal_id_within_shard_count_7d}' AS named;
-- A terminal's 7-day count within its shard is at most its whole count, and smaller for most rows (its
-- rows are spread over the three shards' cards).
WITH scoped AS (SELECT key, features FROM dendrite.featurize('sw_scoped', 'SELECT * FROM sw_tx', 'transaction_id')),
     whole AS (SELECT key, features FROM dendrite.featurize('sw_whole', 'SELECT * FROM sw_tx', 'transaction_id'))
SELECT count(*) AS rows, count(*) FILTER (WHERE s.features <> w.features) > count(*) / 2 AS mostly_different
  FROM scoped s JOIN whole w USING (key);
-- Inline (a guard on a shard) equals offline for such a declaration: tests/e2e/scaleout.sh.
\set VERBOSITY terse
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_tx', history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "within": "shard"}]');
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_tx', history => '[{"entity": "customer_id", "time": "tx_time", "windows": ["7 days"], "within": {"key": "customer_id", "shards": 3}}]');
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_tx', history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "within": {"key": "customer_id"}}]');
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_tx', history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "within": {"key": "nope", "shards": 3}}]');
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_tx', history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "within": "cluster"}]');
\set VERBOSITY default

-- On a table sharded as docs/scaleout.md describes (here two foreign partitions of a loopback server, hash by
-- customer_id): "within": "shard" reads the layout from it, and a featurizer scoped for another layout (the
-- table re-partitioned since it was fitted) is refused before a row is read, fitted or used (55000), so a
-- retraining cannot bake in history no shard computes inline.
SET client_min_messages = warning;
CREATE EXTENSION postgres_fdw;
DO $$
BEGIN
    EXECUTE format('CREATE SERVER sw_loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
                   current_database());
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER sw_loopback OPTIONS (password_required 'false');
CREATE TABLE sw_shard_0 AS SELECT * FROM sw_tx WHERE dendrite.shard_of(customer_id, 2) = 0;
CREATE TABLE sw_shard_1 AS SELECT * FROM sw_tx WHERE dendrite.shard_of(customer_id, 2) = 1;
CREATE TABLE sw_sharded (LIKE sw_tx) PARTITION BY HASH (customer_id);
CREATE FOREIGN TABLE sw_sharded_0 PARTITION OF sw_sharded FOR VALUES WITH (MODULUS 2, REMAINDER 0)
    SERVER sw_loopback OPTIONS (table_name 'sw_shard_0');
CREATE FOREIGN TABLE sw_sharded_1 PARTITION OF sw_sharded FOR VALUES WITH (MODULUS 2, REMAINDER 1)
    SERVER sw_loopback OPTIONS (table_name 'sw_shard_1');
SELECT dendrite.create_featurizer('sw_two', 'SELECT tx_time, customer_id, terminal_id, amount FROM sw_sharded',
    history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "aggregates": ["count"], "within": "shard"}]');
RESET client_min_messages;
SELECT spec->'history'->0->'within' AS within FROM dendrite.featurizers WHERE name = 'sw_two';
SELECT count(*) AS rows FROM dendrite.featurize('sw_two', 'SELECT * FROM sw_sharded');
SELECT count(*) FROM dendrite.featurize('sw_scoped', 'SELECT * FROM sw_sharded');
\set VERBOSITY terse
SELECT dendrite.create_featurizer('sw_bad', 'SELECT * FROM sw_sharded', history => '[{"entity": "terminal_id", "time": "tx_time", "windows": ["7 days"], "within": {"key": "customer_id", "shards": 3}}]');
\set VERBOSITY sqlstate
SELECT count(*) FROM dendrite.featurize('sw_scoped', 'SELECT * FROM sw_sharded');
\set VERBOSITY default
-- Read from a shard's own table (not sharded there), the declaration is what the shard computes: no check.
SELECT count(*) AS rows FROM dendrite.featurize('sw_scoped', 'SELECT * FROM sw_shard_0');
SELECT dendrite.drop_featurizer('sw_two');
DROP TABLE sw_sharded, sw_shard_0, sw_shard_1;
SET client_min_messages = warning;
DROP EXTENSION postgres_fdw CASCADE;
RESET client_min_messages;
SELECT dendrite.drop_featurizer('sw_scoped'), dendrite.drop_featurizer('sw_whole');
DROP TABLE sw_tx;
