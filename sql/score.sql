-- dendrite.score and dendrite.predict.
SET client_min_messages = warning;

-- score(row) matches columns by name and agrees with predict(features) in feature order.
SELECT dendrite.feature_names('points_mlp');
SELECT count(*) AS rows,
       bool_and(abs(dendrite.score('points_mlp', p) - dendrite.predict('points_mlp', ARRAY[p.x, p.y]::real[])) < 1e-6) AS agree
  FROM points p;

-- Scores are probabilities and rank the positives first.
SELECT min(s) >= 0 AND max(s) <= 1 AS probabilities,
       avg(s) FILTER (WHERE label) > 0.5 AS positives_high,
       avg(s) FILTER (WHERE NOT label) < 0.5 AS negatives_low
  FROM (SELECT dendrite.score('points_mlp', p) AS s, label FROM points p) t;
SELECT round(dendrite.predict('points_mlp', '{5, 5}')::numeric, 2) AS far_positive,
       round(dendrite.predict('points_mlp', '{-5, -5}')::numeric, 2) AS far_negative;

-- Extra columns are ignored and the order of the columns does not matter.
CREATE TABLE reordered AS SELECT 'extra' AS extra, y, 42 AS other, x FROM points WHERE id <= 100;
SELECT bool_and(dendrite.score('points_mlp', r) = dendrite.predict('points_mlp', ARRAY[r.x, r.y]::real[])) AS same
  FROM reordered r;

-- A row built on the fly, and integer / numeric / real columns alike.
SELECT round(dendrite.score('points_mlp', t)::numeric, 4) = round(dendrite.predict('points_mlp', '{1, 2}')::numeric, 4) AS same
  FROM (SELECT 1::int AS x, 2::numeric AS y) t;

-- NULL features are imputed with the training mean, in both paths.
SELECT dendrite.score('points_mlp', t) = dendrite.predict('points_mlp', ARRAY[NULL, 1]::real[]) AS same
  FROM (SELECT NULL::float8 AS x, 1::float8 AS y) t;

-- Strict: a NULL row or model scores NULL.
SELECT dendrite.score('points_mlp', NULL::points) IS NULL AS null_row, dendrite.predict(NULL, '{1,2}') IS NULL AS null_model;

-- The latest version is used: retraining changes the scores of the next statement.
SELECT round(dendrite.predict('points_lr', '{1, 1}')::numeric, 6) = round(dendrite.predict('points_lr', '{1, 1}')::numeric, 6) AS stable;
CREATE TEMP TABLE before AS SELECT dendrite.predict('points_lr', '{1, 1}') AS s;
SELECT version FROM dendrite.train('points_lr', 'SELECT x, y, label FROM points', 'label',
                                   algorithm => 'logistic_regression', epochs => 1, seed => 12345);
SELECT (SELECT s FROM before) <> dendrite.predict('points_lr', '{1, 1}') AS changed;

-- Errors.
SELECT dendrite.predict('no_such_model', '{1,2}');
SELECT dendrite.predict('points_mlp', '{1,2,3}');
SELECT dendrite.predict('points_mlp', '{{1,2},{3,4}}');
SELECT dendrite.predict('points_mlp', '{NaN, 1}');
SELECT dendrite.predict('points_mlp', '{Infinity, 1}');
SELECT dendrite.score('points_mlp', t) FROM (SELECT 1.0 AS x) t;
SELECT dendrite.score('points_mlp', t) FROM (SELECT 'a'::text AS x, 1 AS y) t;
SELECT dendrite.score('points_mlp', t) FROM (SELECT 'NaN'::float8 AS x, 1 AS y) t;
SELECT dendrite.score('points_mlp', 42);

-- A feature column dropped from the table since training: a clear error naming it.
CREATE TABLE shrinking AS SELECT x, y FROM points WHERE id <= 10;
SELECT count(dendrite.score('points_mlp', s)) FROM shrinking s;
ALTER TABLE shrinking DROP COLUMN y;
SELECT count(dendrite.score('points_mlp', s)) FROM shrinking s;
ALTER TABLE shrinking ADD COLUMN y float8 DEFAULT 0;
SELECT count(dendrite.score('points_mlp', s)) FROM shrinking s;

-- Parameter rows edited by hand are detected, not trusted.
SELECT version FROM dendrite.train('tampered', 'SELECT x, y, label FROM points', 'label', epochs => 1, hidden => '{4}');
UPDATE dendrite.parameters SET value = value[1:2]
 WHERE name = 'kernel' AND layer = 'dense_0'
   AND version_id = (SELECT version_id FROM dendrite.model_versions JOIN dendrite.models USING (model_id) WHERE name = 'tampered');
SELECT dendrite.predict('tampered', '{1, 2}');
