-- Lifecycle (issue #7): outcomes recorded against logged decisions, a model's live health on a constructed
-- case, and a version exported as jsonb and imported again, scoring bit for bit.
SET client_min_messages = warning;

CREATE TABLE lc_tx (id int PRIMARY KEY, x numeric, y float8);
SELECT version FROM dendrite.train('lc', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2);
SELECT version_id AS lc_version_id FROM dendrite.serving_version('lc') \gset

-- Ten decisions logged in the last day: keys 1-4 flagged, 5-10 passed.
INSERT INTO dendrite.predictions (version_id, table_name, row_key, score, threshold, decision, predicted_at)
SELECT :lc_version_id, 'public.lc_tx', k::text, CASE WHEN k <= 4 THEN 0.9 ELSE 0.1 END, 0.5,
       CASE WHEN k <= 4 THEN 'flag' ELSE 'pass' END, now() - interval '1 day'
  FROM generate_series(1, 10) k;
-- Outcomes: 1 and 2 fraud (true positives), 3 legitimate (false positive), 4 unknown, 5 fraud (missed),
-- 6 and 7 legitimate (true negatives); 7 first recorded as fraud, then corrected.
SELECT dendrite.record_outcome('lc_tx', k, f)
  FROM (VALUES ('1', true), ('2', true), ('3', false), ('5', true), ('6', false), ('7', true), ('7', false)) o(k, f);
SELECT table_name, row_key, is_fraud FROM dendrite.outcomes ORDER BY row_key;
SELECT serving_version, predictions, flagged, labelled, tp, fp, tn, fn, round("precision"::numeric, 4) AS "precision",
       round(recall::numeric, 4) AS recall, round(labelled_fraud_rate::numeric, 4) AS labelled_fraud_rate,
       round(mean_score::numeric, 4) AS mean_score, score_psi
  FROM dendrite.model_health('lc');
SELECT day = (now() - interval '1 day')::date AS yesterday, predictions, flagged, labelled, frauds, tp, fp
  FROM dendrite.model_health_daily('lc');
-- A row scored again (a guarded UPDATE) counts once, with its latest decision (what its flag column shows):
-- key 3, flagged and legitimate (a false positive), passes on an update twelve hours later (a true negative
-- now); key 1 is flagged twice more (still one true positive). Rows are counted, not log lines.
INSERT INTO dendrite.predictions (version_id, table_name, row_key, score, threshold, decision, predicted_at)
VALUES (:lc_version_id, 'public.lc_tx', '3', 0.2, 0.5, 'pass', now() - interval '12 hours'),
       (:lc_version_id, 'public.lc_tx', '1', 0.8, 0.5, 'flag', now() - interval '12 hours'),
       (:lc_version_id, 'public.lc_tx', '1', 0.7, 0.5, 'flag', now() - interval '12 hours');
SELECT predictions, flagged, labelled, tp, fp, tn, fn, round(mean_score::numeric, 4) AS mean_score
  FROM dendrite.model_health('lc');
SELECT sum(predictions) AS predictions, sum(flagged) AS flagged, sum(tp) AS tp, sum(fp) AS fp
  FROM dendrite.model_health_daily('lc');
DELETE FROM dendrite.predictions WHERE table_name = 'public.lc_tx' AND score IN (0.2, 0.8, 0.7);
-- A partitioned table: the guard, cloned onto each partition, logs under the partitioned table (the table the
-- rows are inserted into), and an outcome named by the table or by one of its partitions is recorded there too,
-- so model_health finds both. (Logged under the partitions, they matched no outcome.)
CREATE TABLE lc_parted (id int PRIMARY KEY, x numeric, y float8) PARTITION BY RANGE (id);
CREATE TABLE lc_parted_low PARTITION OF lc_parted FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE lc_parted_high PARTITION OF lc_parted FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TRIGGER guard_log BEFORE INSERT ON lc_parted FOR EACH ROW EXECUTE FUNCTION dendrite.guard('lc', 'log', '0.5');
INSERT INTO lc_parted SELECT id, x, y FROM points WHERE id BETWEEN 90 AND 109;
SELECT table_name, count(*) AS logged FROM dendrite.predictions WHERE table_name LIKE 'public.lc\_parted%' GROUP BY 1;
SELECT dendrite.record_outcome('lc_parted', '90', true), dendrite.record_outcome('lc_parted_high', '105', false);
SELECT table_name, row_key, is_fraud FROM dendrite.outcomes WHERE table_name LIKE 'public.lc\_parted%' ORDER BY row_key;
SELECT predictions, labelled FROM dendrite.model_health('lc');
DELETE FROM dendrite.predictions WHERE table_name = 'public.lc_parted';
DELETE FROM dendrite.outcomes WHERE table_name = 'public.lc_parted';
DROP TABLE lc_parted;
-- The guard logs a key as key::text gives it, so outcomes recorded with key::text meet a char(n) key's decisions
-- (logged padded, 'c7    ', they matched none).
CREATE TABLE lc_char (id char(6) PRIMARY KEY, x numeric, y float8);
CREATE TRIGGER guard_log BEFORE INSERT ON lc_char FOR EACH ROW EXECUTE FUNCTION dendrite.guard('lc', 'log', '0.5');
INSERT INTO lc_char SELECT 'c' || id, x, y FROM points WHERE id <= 5;
SELECT count(*) AS outcomes FROM (SELECT dendrite.record_outcome('lc_char', id::text, true) FROM lc_char) r;
SELECT string_agg(p.row_key, ',' ORDER BY p.row_key) AS logged_keys, count(o.row_key) AS with_outcome
  FROM dendrite.predictions p LEFT JOIN dendrite.outcomes o USING (table_name, row_key) WHERE p.table_name = 'public.lc_char';
DELETE FROM dendrite.predictions WHERE table_name = 'public.lc_char';
DELETE FROM dendrite.outcomes WHERE table_name = 'public.lc_char';
DROP TABLE lc_char;
-- A NULL the featurizer never saw when fitted is imputed as a value the model was not trained on: the guard says
-- so in a NOTICE, once a statement (three such rows, one NOTICE; the next statement says it again).
CREATE TABLE lc_nulls (id int PRIMARY KEY, x numeric, y float8);
CREATE TRIGGER guard_log BEFORE INSERT ON lc_nulls FOR EACH ROW EXECUTE FUNCTION dendrite.guard('lc', 'log', '0.5');
SET client_min_messages = notice;
INSERT INTO lc_nulls VALUES (1, 0.5, NULL), (2, 0.1, NULL), (3, NULL, 0.2);
INSERT INTO lc_nulls VALUES (4, 0.5, NULL);
SET client_min_messages = warning;
DELETE FROM dendrite.predictions WHERE table_name = 'public.lc_nulls';
DROP TABLE lc_nulls;

-- Score drift: 200 scores in the week before, then the same 200 in this week (PSI near 0: the ten above are
-- in this week too), then 200 more that
-- all sit in the top decile (PSI far above 0.25, the usual alarm level).
INSERT INTO dendrite.predictions (version_id, table_name, row_key, score, threshold, decision, predicted_at)
SELECT :lc_version_id, 'public.lc_tx', NULL, k / 200.0, 0.5, CASE WHEN k >= 100 THEN 'flag' ELSE 'pass' END,
       now() - w * interval '1 day'
  FROM generate_series(0, 199) k, (VALUES (2), (9)) w(w);
SELECT predictions, round(score_psi::numeric, 4) AS score_psi FROM dendrite.model_health('lc');
INSERT INTO dendrite.predictions (version_id, table_name, row_key, score, threshold, decision, predicted_at)
SELECT :lc_version_id, 'public.lc_tx', NULL, 0.999, 0.5, 'flag', now() - interval '1 day' FROM generate_series(1, 200);
SELECT predictions, score_psi > 0.25 AS drifted FROM dendrite.model_health('lc');
-- A window with too few decisions before it has no PSI.
SELECT predictions, score_psi FROM dendrite.model_health('lc', interval '3 days');

-- Errors.
SELECT * FROM dendrite.model_health('no_such_model');
SELECT dendrite.record_outcome('no_such_table', '1', true);

-- Export and import: a new model from the document scores exactly like the original, its featurizer
-- (named after the model) follows the new name, and the document is plain jsonb.
SELECT jsonb_object_keys(dendrite.export_model('lc')) AS key ORDER BY 1;
-- Every table of rows that belongs to a version or a featurizer version, by name.
SELECT jsonb_object_keys(dendrite.export_model('lc')->'version_rows') AS version_table ORDER BY 1;
SELECT jsonb_object_keys(dendrite.export_model('lc')->'featurizer_rows') AS featurizer_table ORDER BY 1;
SELECT dendrite.import_model(dendrite.export_model('lc'), model => 'lc_copy') AS imported_version;
SELECT dendrite.import_model(dendrite.export_model('lc'), model => 'lc_copy') AS second_import;
SELECT count(*) FILTER (WHERE dendrite.score('lc', p) = dendrite.score('lc_copy', p)) AS identical, count(*) AS rows
  FROM points p;
SELECT f.name, f.version FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
  JOIN dendrite.featurizers f USING (featurizer_id) WHERE m.name = 'lc_copy' ORDER BY v.version;
SELECT dendrite.export_model('lc', 7);
SELECT dendrite.import_model('{"format": "dendrite-model", "format_version": 3}');
SELECT dendrite.import_model('{"format": "dendrite-model", "format_version": 2}');
SELECT dendrite.import_model('[1, 2]');
SELECT dendrite.import_model(dendrite.export_model('lc') #- '{version_rows,parameters}', model => 'lc_broken');
SELECT dendrite.import_model(jsonb_set(dendrite.export_model('lc'), '{version_rows,epochs}', '{"epoch": 1}'),
                             model => 'lc_broken');
SELECT count(*) AS broken_models FROM dendrite.models WHERE name = 'lc_broken';
-- A format 1 document (dendrite 0.3.0 to 0.5.0 wrote each table under a key of its own) still imports.
SELECT dendrite.import_model(d - '{version_rows,featurizer_rows}'::text[]
                             || jsonb_build_object('format_version', 1,
                                                   'parameters', d->'version_rows'->'parameters',
                                                   'trees', d->'version_rows'->'trees',
                                                   'epochs', d->'version_rows'->'epochs',
                                                   'validation_curves', d->'version_rows'->'validation_curves'->0,
                                                   'feature_baselines', d->'version_rows'->'feature_baselines',
                                                   'featurizer', d->'featurizer' || jsonb_build_object(
                                                       'columns', d->'featurizer_rows'->'feature_columns',
                                                       'categories', d->'featurizer_rows'->'feature_categories',
                                                       'history', d->'featurizer_rows'->'feature_history')),
                             model => 'lc_format_1') AS imported_version
  FROM (SELECT dendrite.export_model('lc') AS d) e;
SELECT count(*) FILTER (WHERE dendrite.score('lc', p) = dendrite.score('lc_format_1', p)) AS identical, count(*) AS rows
  FROM points p;
SELECT count(*) AS broken_models FROM dendrite.models WHERE name = 'lc_broken';

-- Another trainer may neither read the health of lc, nor export it, nor import over it.
CREATE ROLE regress_dendrite_other;
GRANT dendrite_trainer TO regress_dendrite_other;
SET ROLE regress_dendrite_other;
SELECT * FROM dendrite.model_health('lc');
SELECT dendrite.export_model('lc');
RESET ROLE;
SELECT dendrite.export_model('lc') AS document \gset
SET ROLE regress_dendrite_other;
SELECT dendrite.import_model(:'document');
SELECT dendrite.import_model(:'document', model => 'other_copy') AS imported_under_own_name;
SELECT owner FROM dendrite.models WHERE name = 'other_copy';
SELECT dendrite.drop_model('other_copy');
RESET ROLE;
DROP ROLE regress_dendrite_other;

SELECT dendrite.drop_model('lc_copy');
SELECT dendrite.drop_model('lc');
DROP TABLE lc_tx;
