-- Anomaly detection without labels (issue #30): an autoencoder learns what the rows look like; its score is
-- where a row's reconstruction error falls among its training rows' (a stored quantile table), so a
-- threshold of 'rate:0.01' flags the rarest 1 % of rows like them. Everything that scores works unchanged.
SET client_min_messages = warning;
CREATE TABLE an_tx AS SELECT * FROM dendrite.generate_transactions(200, days => 30, seed => 11);
\set ae_query 'SELECT amount, online, country, merchant_category FROM an_tx'

-- No label: the NULL label needs algorithm => 'autoencoder'; its defaults are hidden {64,16,64} and the
-- threshold 'rate:0.01'. Only the losses and the threshold are measured (the other columns are NULL).
SELECT version, epochs, loss < 1 AS loss_below_one, precision, recall, f1, pr_auc, roc_auc, tp, fp, tn, fn, threshold, device
  FROM dendrite.train('an_ae', :'ae_query', NULL, algorithm => 'autoencoder', epochs => 6, seed => 3);
SELECT v.label_column, v.algorithm, v.threshold, v.configuration->'layers'->1 AS bottleneck,
       v.configuration->'error_quantiles' AS error_quantiles, v.metrics->'labelled' AS labelled,
       v.metrics->>'threshold_rule' AS threshold_rule, v.hyperparameters->'hidden' AS hidden
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'an_ae';
SELECT count(*) AS epochs, count(pr_auc) AS with_pr_auc, count(tp) AS with_counts, min(e.threshold) = 0.99 AS rate_threshold,
       bool_and(validation_loss > 0) AS losses
  FROM dendrite.epochs e JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'an_ae';
-- Its parameters are rows: the four dense layers, and the table of training errors.
SELECT p.layer_index, p.layer, p.name, p.shape
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'an_ae' AND p.name <> 'bias' ORDER BY p.layer_index, p.name;

-- Scores are in [0, 1]; about 1 % of the rows are at or above the threshold (exactly 1 % of the training rows).
SELECT min(score) >= 0 AND max(score) <= 1 AS in_unit_interval, round(avg((score >= 0.99)::int), 2) AS flagged_share,
       count(DISTINCT score) > 1000 AS spread
  FROM dendrite.score_query('an_ae', 'SELECT * FROM an_tx', key => 'transaction_id');
-- dendrite.score scores a row as score_query does, to the bit.
SELECT count(*) AS differ
  FROM (SELECT t.transaction_id, dendrite.score('an_ae', t) AS s FROM an_tx t ORDER BY t.transaction_id LIMIT 300) a
  JOIN dendrite.score_query('an_ae', 'SELECT * FROM an_tx', key => 'transaction_id') q ON q.key = a.transaction_id::text
 WHERE a.s <> q.score;

-- Labels, when the query has them, only measure it: the same parameters, and metrics on the validation rows.
SELECT pr_auc IS NOT NULL AS measured, roc_auc > 0.5 AS better_than_chance, threshold
  FROM dendrite.train('an_ae_measured', 'SELECT amount, online, country, merchant_category, is_fraud FROM an_tx', 'is_fraud',
                      algorithm => 'autoencoder', epochs => 6, seed => 3, threshold => 'rate:0.01');
SELECT count(*) AS tensors, bool_and(a.value = b.value) AS identical_parameters
  FROM (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'an_ae') a
  JOIN (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'an_ae_measured') b USING (layer_index, name);
-- evaluate measures it on labelled rows; without a label to name, it says so.
SELECT rows, roc_auc > 0.5 AS better_than_chance FROM dendrite.evaluate('an_ae', 'SELECT * FROM an_tx', label => 'is_fraud');
\set VERBOSITY terse
SELECT rows FROM dendrite.evaluate('an_ae', 'SELECT * FROM an_tx');
\set VERBOSITY default

-- A guard flags, logs and rejects at the stored threshold, with score_query's scores.
CREATE TABLE an_live (LIKE an_tx);
ALTER TABLE an_live ADD COLUMN anomaly float8, ADD COLUMN unusual boolean;
CREATE TRIGGER an_guard BEFORE INSERT ON an_live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('an_ae', 'flag,log,reasons', 'default', 'anomaly, unusual');
INSERT INTO an_live SELECT *, NULL, NULL FROM an_tx ORDER BY transaction_id LIMIT 2000;
SELECT count(*) AS rows, count(*) FILTER (WHERE unusual = (anomaly >= 0.99)) AS consistent,
       (SELECT count(*) FROM dendrite.predictions p WHERE p.table_name = 'public.an_live') AS logged,
       (SELECT count(*) FILTER (WHERE p.decision = 'flag') = count(*) FILTER (WHERE p.reasons IS NOT NULL)
          FROM dendrite.predictions p WHERE p.table_name = 'public.an_live') AS flagged_rows_have_reasons
  FROM an_live;
SELECT count(*) AS differ_from_score_query
  FROM an_live l JOIN dendrite.score_query('an_ae', 'SELECT * FROM an_tx', key => 'transaction_id') q
    ON q.key = l.transaction_id::text
 WHERE l.anomaly <> q.score;
DROP TRIGGER an_guard ON an_live;
CREATE TRIGGER an_reject BEFORE INSERT ON an_live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('an_ae', 'reject');
\set VERBOSITY sqlstate
INSERT INTO an_live SELECT t.*, NULL, NULL FROM an_tx t
  JOIN dendrite.score_query('an_ae', 'SELECT * FROM an_tx', key => 'transaction_id') q ON q.key = t.transaction_id::text
 WHERE q.score >= 0.999 LIMIT 1;
\set VERBOSITY default
DROP TRIGGER an_reject ON an_live;

-- The report says what the score and the threshold mean.
SELECT position('flags about 1.00 % of rows like them' in r) > 0 AS threshold_explained,
       position('trained without labels' in r) > 0 AS says_no_labels,
       position('No curves: it was trained without labels' in r) > 0 AS no_empty_curves
  FROM dendrite.report('an_ae') r;

-- Retraining reuses the stored settings, without a label; export and import carry the table of errors.
SELECT champion_version, challenger_version FROM dendrite.retrain('an_ae', promote => 'manual');
SELECT v.label_column IS NULL AS no_label, v.configuration->'error_quantiles' AS error_quantiles
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'an_ae' AND v.version = 2;

SELECT dendrite.import_model(dendrite.export_model('an_ae', 2), 'an_ae_copy') AS imported_version;
SELECT count(*) AS differ_after_import
  FROM (SELECT dendrite.score('an_ae', t, 2) AS a, dendrite.score('an_ae_copy', t, 1) AS b FROM an_tx t LIMIT 500) s
 WHERE a <> b;

-- Why a row is unusual: each input's term of the reconstruction error (the terms of every input add up to the
-- error; the score is that error's place among the training rows'). The most unusual row's top reasons, and
-- which inputs matter over many rows.
SELECT count(*) AS reasons, bool_and(e.contribution > 0) AS positive,
       bool_and(e.feature IN ('amount', 'online', 'country', 'merchant_category')) AS named_as_columns
  FROM (SELECT t FROM an_tx t JOIN dendrite.score_query('an_ae', 'SELECT * FROM an_tx', key => 'transaction_id') q
          ON q.key = t.transaction_id::text ORDER BY q.score DESC, t.transaction_id LIMIT 1) r,
       dendrite.explain('an_ae', r.t, 2) e;
SELECT count(*) AS inputs, bool_and(mean_abs_contribution >= 0) AS non_negative, min(rows) AS rows
  FROM dendrite.feature_importance('an_ae', 'SELECT * FROM an_tx WHERE transaction_id % 10 = 0');

-- What an autoencoder does not do (yet), and bad input.
\set VERBOSITY terse
\set VERBOSITY default
SELECT dendrite.train('an_bad', :'ae_query', NULL);
\set VERBOSITY terse
SELECT dendrite.train('an_bad', :'ae_query', NULL, algorithm => 'autoencoder', threshold => 'f1');
SELECT dendrite.train('an_bad', :'ae_query', NULL, algorithm => 'autoencoder', hidden => '{}');
SELECT dendrite.train('an_bad', :'ae_query', NULL, algorithm => 'autoencoder', device => 'cpu', threshold => 'rate:2');
\set VERBOSITY default

-- An edited table of errors, or an algorithm edited to a classifier's, is refused before anything scores.
UPDATE dendrite.parameters p SET value = array_append(p.value[1:10000], 0)
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE p.version_id = v.version_id AND m.name = 'an_ae_measured' AND p.name = 'error_quantiles';
\set VERBOSITY terse
SELECT dendrite.score('an_ae_measured', t) FROM an_tx t LIMIT 1;
UPDATE dendrite.model_versions v SET algorithm = 'mlp' FROM dendrite.models m
 WHERE m.model_id = v.model_id AND m.name = 'an_ae' AND v.version = 1;
\c -
\set VERBOSITY terse
SELECT dendrite.score('an_ae', t, 1) FROM an_tx t LIMIT 1;
\set VERBOSITY default
