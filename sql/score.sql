-- dendrite.score, dendrite.predict and dendrite.score_query.
SET client_min_messages = warning;
SELECT version FROM dendrite.train('score_lr', 'SELECT x, y, label FROM points', 'label',
                                   algorithm => 'logistic_regression', epochs => 10, learning_rate => 0.05, batch_size => 32);
SELECT version FROM dendrite.train('score_mlp', 'SELECT x, y, label FROM points', 'label',
                                   hidden => '{16,8}', epochs => 8, learning_rate => 0.01, batch_size => 64);

-- score(row) featurizes with the version's featurizer and agrees with predict(features(row)).
SELECT dendrite.feature_names('score_mlp');
SELECT count(*) AS rows,
       bool_and(dendrite.score('score_mlp', p) = dendrite.predict('score_mlp', dendrite.features('score_mlp', p))) AS agree
  FROM points p;

-- Scores are probabilities and rank the positives first.
SELECT min(s) >= 0 AND max(s) <= 1 AS probabilities,
       avg(s) FILTER (WHERE label) > 0.5 AS positives_high,
       avg(s) FILTER (WHERE NOT label) < 0.5 AS negatives_low
  FROM (SELECT dendrite.score('score_mlp', p) AS s, label FROM points p) t;
SELECT round(dendrite.score('score_mlp', t)::numeric, 2) AS score FROM (VALUES (5, 5), (-5, -5)) AS t(x, y);

-- Extra columns are ignored and the order of the columns does not matter.
CREATE TABLE reordered AS SELECT 'extra' AS extra, y, 42 AS other, x FROM points WHERE id <= 100;
SELECT bool_and(dendrite.score('score_mlp', r) = dendrite.score('score_mlp', p)) AS same
  FROM reordered r JOIN points p USING (x, y);

-- A row built on the fly, with integer / numeric columns where the model saw numeric / double.
SELECT round(dendrite.score('score_mlp', t)::numeric, 4) = round(dendrite.score('score_mlp', u)::numeric, 4) AS same
  FROM (SELECT 1::int AS x, 2::numeric AS y) t, (SELECT 1.0::numeric AS x, 2.0::float8 AS y) u;

-- NULL raw values are imputed with the training mean.
SELECT dendrite.features('score_mlp', t) AS features, dendrite.score('score_mlp', t) IS NOT NULL AS scored
  FROM (SELECT NULL::float8 AS x, NULL::float8 AS y) t;

-- Strict: a NULL row or model scores NULL.
SELECT dendrite.score('score_mlp', NULL::points) IS NULL AS null_row, dendrite.predict(NULL, '{1,2}') IS NULL AS null_model;

-- The latest version is used: retraining changes the scores of the next statement.
CREATE TEMP TABLE before AS SELECT dendrite.score('score_lr', t) AS s FROM (SELECT 1 AS x, 1 AS y) t;
SELECT version FROM dendrite.train('score_lr', 'SELECT x, y, label FROM points', 'label',
                                   algorithm => 'logistic_regression', epochs => 1, seed => 12345);
SELECT (SELECT s FROM before) <> dendrite.score('score_lr', t) AS changed FROM (SELECT 1 AS x, 1 AS y) t;

-- Errors.
SELECT dendrite.predict('no_such_model', '{1,2}');
SELECT dendrite.predict('score_mlp', '{1,2,3}');
SELECT dendrite.predict('score_mlp', '{{1,2},{3,4}}');
SELECT dendrite.predict('score_mlp', '{NaN, 1}');
SELECT dendrite.predict('score_mlp', '{Infinity, 1}');
SELECT dendrite.predict('score_mlp', '{NULL, 1}');
SELECT dendrite.score('score_mlp', t) FROM (SELECT 1.0 AS x) t;
SELECT dendrite.score('score_mlp', t) FROM (SELECT 'a'::text AS x, 1 AS y) t;
SELECT dendrite.score('score_mlp', t) FROM (SELECT 'NaN'::float8 AS x, 1 AS y) t;
SELECT dendrite.score('score_mlp', 42);

-- A feature column dropped from the table since training: a clear error naming it.
CREATE TABLE shrinking AS SELECT x, y FROM points WHERE id <= 10;
SELECT count(dendrite.score('score_mlp', s)) FROM shrinking s;
ALTER TABLE shrinking DROP COLUMN y;
SELECT count(dendrite.score('score_mlp', s)) FROM shrinking s;
ALTER TABLE shrinking ADD COLUMN y float8 DEFAULT 0;
SELECT count(dendrite.score('score_mlp', s)) FROM shrinking s;
-- ... or retyped.
ALTER TABLE shrinking ALTER COLUMN y TYPE text;
SELECT count(dendrite.score('score_mlp', s)) FROM shrinking s;

-- Parameter rows edited by hand are detected, not trusted.
SELECT version FROM dendrite.train('tampered', 'SELECT x, y, label FROM points', 'label', epochs => 1, hidden => '{4}');
UPDATE dendrite.parameters SET value = value[1:2]
 WHERE name = 'kernel' AND layer = 'dense_0'
   AND version_id = (SELECT version_id FROM dendrite.model_versions JOIN dendrite.models USING (model_id) WHERE name = 'tampered');
SELECT dendrite.score('tampered', p) FROM points p LIMIT 1;

-- score_query: one pass over a query, keyed.
SELECT count(*) AS rows, count(DISTINCT key) AS keys,
       bool_and(abs(s.score - dendrite.score('score_mlp', p)) < 1e-6) AS same_as_score
  FROM dendrite.score_query('score_mlp', 'SELECT * FROM points', key => 'id') s JOIN points p ON p.id = s.key::int;
SELECT count(*) FROM dendrite.score_query('score_mlp', 'SELECT * FROM points', key => 'nope');
-- A key is given as key::text gives it: a char(n) key without its padding ('p7', not 'p7    '), so that a join
-- on the key's text finds every row (it found none).
SELECT count(*) AS rows, count(*) FILTER (WHERE s.key = 'p' || p.id) AS joined_on_key_text
  FROM dendrite.score_query('score_mlp', 'SELECT (''p'' || id)::char(8) AS id, x, y FROM points', key => 'id') s
  JOIN points p ON s.key = ('p' || p.id)::char(8)::text;
-- Columns are read by name: two of the same name (the model's input, or the key) are an error, as train's
-- query refuses them, rather than the first read without a word.
SELECT count(*) FROM dendrite.score_query('score_mlp', 'SELECT x, y, -x AS x, id FROM points', key => 'id');
SELECT count(*) FROM dendrite.score_query('score_mlp', 'SELECT x, y, id, -id AS id FROM points', key => 'id');
SELECT dendrite.score('score_mlp', t) FROM (SELECT 1.0::float8 AS x, 2.0::float8 AS y, 3.0::float8 AS y) t;
SELECT count(*) FROM dendrite.evaluate('score_mlp', 'SELECT x, y, label, -y AS y FROM points');
SELECT count(*) FROM dendrite.evaluate('score_mlp', 'SELECT x, y, label, NOT label AS label FROM points');
SELECT count(*) FROM dendrite.score_query('score_mlp', 'SELECT * FROM points', since => '2026-01-01');

-- A backend caches only a few versions and featurizers (it would otherwise keep every one it ever scored
-- with). Version 1 is scored, then twelve newer versions are trained, deployed and scored, one statement
-- each, which evicts version 1; deployed again, it is loaded from its rows and scores exactly as before.
SELECT version FROM dendrite.train('churn', 'SELECT x, y, label FROM points', 'label', epochs => 2, hidden => '{4}', seed => 3);
CREATE TEMP TABLE churn_first AS SELECT p.id, dendrite.score('churn', p) AS score FROM points p;
\set ECHO none
\o /dev/null
SELECT format($$SELECT dendrite.train('churn', 'SELECT x, y, label FROM points', 'label', epochs => 1, hidden => '{4}', seed => %s);
                SELECT dendrite.deploy('churn');
                SELECT count(dendrite.score('churn', p)) FROM points p$$, g)
  FROM generate_series(1, 12) AS g \gexec
\o
\set ECHO all
SELECT dendrite.deploy('churn', 1) IS NOT NULL AS deployed_version_1;
SELECT count(*) AS rows, bool_and(f.score = dendrite.score('churn', p)) AS identical_after_reload
  FROM points p JOIN churn_first f USING (id);
SELECT dendrite.drop_model('churn') IS NOT NULL AS dropped;  -- the guard suite lists every deployment
