-- A row that a version cannot score is an error on every path, never a score. A network's 32-bit arithmetic
-- overflows on a feature far outside the training rows' range (or on parameters edited by hand to extreme
-- values) and its score comes out NaN, which compares false with every threshold: a guard would have
-- passed such a row without a word. Now 22003 (numeric_value_out_of_range), naming the largest feature.
SET client_min_messages = warning;
SELECT dendrite.create_featurizer('unscorable_f', 'SELECT x, y, label FROM points', label => 'label') AS featurizer_version;
-- (Without the piecewise-linear encoding of its inputs: the encoded network of these rows sums such a row to a
-- finite logit of about 1e38, a score of 1 that is no overflow.)
SELECT version FROM dendrite.train('unscorable', 'SELECT x, y, label FROM points', 'label', featurizer => 'unscorable_f',
                                   hidden => '{16,8}', epochs => 3, learning_rate => 0.01, seed => 1,
                                   options => '{"piecewise_bins": 0}');
-- x = 3e38 and y = -3e38 are finite, and so are their features (about 1e38 after scaling) as 32-bit floats;
-- this network's hidden units overflow on them to infinities of both signs, whose sum is NaN.
CREATE TABLE far_rows AS SELECT * FROM (VALUES (1, 1.0, 1.0::float8), (2, 3e38, -3e38::float8), (3, 0.5, -1::float8)) AS r(id, x, y);
SELECT dendrite.score('unscorable', r) BETWEEN 0 AND 1 AS ordinary_row_scores FROM far_rows r WHERE id = 1;

\set VERBOSITY default
SELECT dendrite.score('unscorable', r) FROM far_rows r WHERE id = 2;
\set VERBOSITY sqlstate
SELECT dendrite.predict('unscorable', dendrite.features('unscorable_f', r)) FROM far_rows r WHERE id = 2;
SELECT count(*) FROM dendrite.score_query('unscorable', 'SELECT * FROM far_rows', key => 'id');
SELECT * FROM dendrite.evaluate('unscorable', 'SELECT *, true AS label FROM far_rows', label => 'label');
-- Explanations too: they are computed in double, where the score's floats overflowed.
SELECT * FROM dendrite.explain('unscorable', (SELECT r FROM far_rows r WHERE id = 2));
SELECT count(*) FROM dendrite.explain_query('unscorable', 'SELECT * FROM far_rows', key => 'id');
SELECT count(*) FROM dendrite.feature_importance('unscorable', 'SELECT * FROM far_rows');
-- The same error where feature_importance explains its rows in a batch over threads (64 rows and more).
\set VERBOSITY default
SELECT count(*) FROM dendrite.feature_importance('unscorable', 'SELECT r.* FROM generate_series(1, 40), far_rows r');
\set VERBOSITY sqlstate
\set VERBOSITY default

-- Every guard: the statement fails and nothing is inserted (a 'flag' guard would have passed the row).
CREATE TABLE guarded_far (id int PRIMARY KEY, x numeric, y float8, score float8);
CREATE TRIGGER g BEFORE INSERT ON guarded_far FOR EACH ROW EXECUTE FUNCTION dendrite.guard('unscorable', 'flag', '0.5', 'score');
\set VERBOSITY sqlstate
INSERT INTO guarded_far SELECT * FROM far_rows;
DROP TRIGGER g ON guarded_far;
CREATE TRIGGER g BEFORE INSERT ON guarded_far FOR EACH ROW EXECUTE FUNCTION dendrite.guard('unscorable', 'reject', '0.99');
INSERT INTO guarded_far SELECT * FROM far_rows;
DROP TRIGGER g ON guarded_far;
CREATE TRIGGER g AFTER INSERT ON guarded_far REFERENCING NEW TABLE AS n FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('unscorable', 'flag', '0.5', 'score');
INSERT INTO guarded_far SELECT * FROM far_rows;
DROP TRIGGER g ON guarded_far;
\set VERBOSITY default
-- The row capture scores on its helper thread: the error comes when the statement acts on the scores.
CREATE TRIGGER c BEFORE INSERT ON guarded_far FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('unscorable', 'flag', '0.5', 'score');
CREATE TRIGGER s AFTER INSERT ON guarded_far FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('unscorable', 'flag', '0.5', 'score');
INSERT INTO guarded_far SELECT * FROM far_rows;
DROP TRIGGER c ON guarded_far;
DROP TRIGGER s ON guarded_far;
SELECT count(*) AS inserted FROM guarded_far;

-- A shadow never acts: its overflow is a WARNING, its decision on that row is not logged, the serving
-- version's is. Version 2 (trees: a split only compares) serves; version 1, the network, is the shadow.
SELECT version FROM dendrite.train('unscorable', 'SELECT x, y, label FROM points', 'label', featurizer => 'unscorable_f',
                                   algorithm => 'gbdt', options => '{"rounds": 5}', seed => 1);
SET client_min_messages = notice;
CREATE TRIGGER g BEFORE INSERT ON guarded_far FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('unscorable', 'flag,log,shadow:1', '0.5', 'score', 'id');
INSERT INTO guarded_far SELECT * FROM far_rows;
SET client_min_messages = warning;
SELECT id, score BETWEEN 0 AND 1 AS scored FROM guarded_far ORDER BY id;
SELECT v.version, p.shadow, array_agg(p.row_key ORDER BY p.row_key) AS logged_rows
  FROM dendrite.predictions p JOIN dendrite.model_versions v USING (version_id)
 WHERE p.table_name = 'public.guarded_far' GROUP BY 1, 2 ORDER BY 1;

-- Parameters edited by hand to extreme (finite) values: the detail says the features are ordinary.
UPDATE dendrite.parameters p SET value = array_fill(3e38::real, ARRAY[array_length(value, 1)])
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE p.version_id = v.version_id AND m.name = 'unscorable' AND v.version = 1 AND p.name = 'kernel' AND p.layer_index = 0;
SELECT dendrite.score('unscorable', r, 1) FROM far_rows r WHERE id = 1;

DROP TABLE guarded_far, far_rows;
DELETE FROM dendrite.predictions WHERE table_name = 'public.guarded_far';
SELECT dendrite.drop_model('unscorable');
SELECT dendrite.drop_featurizer('unscorable_f');
