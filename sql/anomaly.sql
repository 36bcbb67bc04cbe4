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
-- An overflowing reconstruction is the most unusual place, and its terms may be infinite: they are the
-- reasons, never an error, whether explain_query explains the row alone or in a batch over threads (64 rows
-- and more).
CREATE TEMP TABLE an_far AS
SELECT transaction_id, CASE WHEN transaction_id = 7 THEN 3e38 ELSE amount END AS amount, online, country,
       merchant_category
  FROM an_tx WHERE transaction_id <= 100;
SELECT 'alone' AS explained, e.key, e.score, e.feature, e.contribution
  FROM dendrite.explain_query('an_ae', 'SELECT * FROM an_far WHERE transaction_id = 7', 'transaction_id', 1) e
UNION ALL
SELECT format('in a batch of %s', (SELECT count(*) FROM an_far)), e.key, e.score, e.feature, e.contribution
  FROM dendrite.explain_query('an_ae', 'SELECT * FROM an_far', 'transaction_id', 1) e WHERE e.key = '7';
-- And in a 'log,reasons' guard: the row is logged with its reasons, the infinite term a JSON string (as
-- to_jsonb writes a float8 that is no JSON number), never an error.
CREATE TABLE an_far_live (LIKE an_tx);
CREATE TRIGGER an_far_guard BEFORE INSERT ON an_far_live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('an_ae', 'log,reasons', 'default');
INSERT INTO an_far_live SELECT (jsonb_populate_record(t, '{"amount": 3e38}')).* FROM an_tx t WHERE transaction_id = 7;
SELECT p.row_key, p.decision, p.reasons->0->>'input' AS input, p.reasons->0->'contribution' AS contribution,
       jsonb_typeof(p.reasons->0->'contribution') AS type
  FROM dendrite.predictions p WHERE p.table_name = 'public.an_far_live';

-- Semi-supervised: an autoencoder's score as a feature of another featurizer (anomaly => ...), so a model
-- learns from the labelled rows and from how unusual each one is. The declaration pins a version (the
-- serving one unless given); the feature is the score centred and scaled as a uniform variable,
-- (score - 0.5) * sqrt(12), placed after the columns' features and before the history's. Its inputs are the
-- autoencoder's columns, read from the same row, featurized by its own featurizer: inline and offline alike.
CREATE TABLE an_semi_live (LIKE an_tx);
ALTER TABLE an_semi_live ADD COLUMN score float8, ADD COLUMN flagged boolean;
SELECT dendrite.create_featurizer('an_semi', 'SELECT * FROM an_tx', label => 'is_fraud',
         columns => '{"transaction_id": "ignore", "terminal_id": "ignore", "ip": "ignore", "fraud_scenario": "ignore",
                      "country": "ignore", "merchant_category": "ignore", "tx_time": "ignore"}',
         history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["7 days"],
                       "aggregates": ["count", "mean"]}]',
         history_query => 'SELECT * FROM an_semi_live',
         anomaly => '[{"model": "an_ae", "version": 1}]') AS version;
SELECT dendrite.feature_names('an_semi');
SELECT f.spec->'anomaly' AS anomaly, f.input_columns
  FROM dendrite.featurizers f WHERE f.name = 'an_semi';
-- The feature is the autoencoder's score of the row, to float precision.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs((dendrite.features('an_semi', t))[3] / sqrt(12) + 0.5 - dendrite.score('an_ae', t, 1)) > 1e-6) AS differ
  FROM an_tx t WHERE t.transaction_id % 20 = 0;
-- A supervised model trained with it scores the same in score_query and in a guard (history included).
SELECT version, pr_auc > 0 AS measured
  FROM dendrite.train('an_semi_mlp', 'SELECT * FROM an_tx', 'is_fraud', featurizer => 'an_semi', epochs => 3, seed => 5);
CREATE TRIGGER an_semi_guard BEFORE INSERT ON an_semi_live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('an_semi_mlp', 'flag', 'default', 'score, flagged');
INSERT INTO an_semi_live SELECT *, NULL, NULL FROM an_tx ORDER BY tx_time, transaction_id LIMIT 1500;
SELECT count(*) AS rows, count(*) FILTER (WHERE l.score = q.score) AS same_score
  FROM an_semi_live l
  JOIN dendrite.score_query('an_semi_mlp', 'SELECT * FROM an_tx ORDER BY tx_time, transaction_id LIMIT 1500',
                            key => 'transaction_id') q ON q.key = l.transaction_id::text;
DROP TRIGGER an_semi_guard ON an_semi_live;
-- Why: the anomaly feature is one reason among the columns, its value the autoencoder's score.
SELECT e.feature, e.input, e.value::float8 = round(dendrite.score('an_ae', r.t, 1)::numeric, 4)::float8 AS value_is_the_score
  FROM (SELECT t FROM an_tx t ORDER BY dendrite.score('an_ae', t, 1) DESC, t.transaction_id LIMIT 1) r,
       dendrite.explain('an_semi_mlp', r.t, 20) e
 WHERE e.feature = 'an_ae_anomaly';
-- export_model carries the declaration (the autoencoder stays where it is): an import scores alike.
SELECT dendrite.import_model(dendrite.export_model('an_semi_mlp', 1), 'an_semi_copy') AS imported_version;
SELECT count(*) AS rows, count(*) FILTER (WHERE a <> b) AS differ
  FROM (SELECT dendrite.score('an_semi_mlp', t) AS a, dendrite.score('an_semi_copy', t) AS b FROM an_tx t LIMIT 300) s;

-- An autoencoder whose featurizer keeps history: the reading featurizer keeps those declarations in its own
-- history state, fed by its own rows (offline the query's, inline its history query and the inserted rows),
-- so the feature needs no history of its own there, and guard and score_query still agree.
SELECT dendrite.create_featurizer('an_cards', 'SELECT amount, online, customer_id, tx_time FROM an_tx',
         history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"],
                       "aggregates": ["count", "mean", "ratio_to_mean"]}]') AS version;
SELECT version FROM dendrite.train('an_ae_cards', 'SELECT * FROM an_tx', NULL, algorithm => 'autoencoder',
                                   featurizer => 'an_cards', epochs => 3, seed => 3);
TRUNCATE an_semi_live;
SELECT dendrite.create_featurizer('an_semi_cards', 'SELECT amount, online, customer_id, tx_time, is_fraud FROM an_tx',
         label => 'is_fraud', columns => '{"customer_id": "ignore", "tx_time": "ignore"}',
         history_query => 'SELECT * FROM an_semi_live', anomaly => '{"model": "an_ae_cards"}') AS version;
-- Its history is read by this featurizer's policy for NaN and Infinity: they must agree.
\set VERBOSITY terse
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT amount, online, customer_id, tx_time FROM an_tx',
         nonfinite => 'missing', anomaly => '{"model": "an_ae_cards"}');
\set VERBOSITY default
SELECT dendrite.feature_names('an_semi_cards'), jsonb_array_length(f.spec->'anomaly'->0->'history') AS kept_declarations
  FROM dendrite.featurizers f WHERE f.name = 'an_semi_cards';
SELECT version FROM dendrite.train('an_semi_cards_mlp', 'SELECT * FROM an_tx', 'is_fraud', featurizer => 'an_semi_cards',
                                   epochs => 2, seed => 5);
CREATE TRIGGER an_semi_guard BEFORE INSERT ON an_semi_live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('an_semi_cards_mlp', 'flag', 'default', 'score, flagged');
INSERT INTO an_semi_live SELECT *, NULL, NULL FROM an_tx ORDER BY tx_time, transaction_id LIMIT 1500;
SELECT count(*) AS rows, count(*) FILTER (WHERE l.score = q.score) AS same_score
  FROM an_semi_live l
  JOIN dendrite.score_query('an_semi_cards_mlp', 'SELECT * FROM an_tx ORDER BY tx_time, transaction_id LIMIT 1500',
                            key => 'transaction_id') q ON q.key = l.transaction_id::text;
DROP TRIGGER an_semi_guard ON an_semi_live;
-- The feature equals the autoencoder's own score over the same rows in the same order.
SELECT count(*) AS rows, count(*) FILTER (WHERE abs(f.features[3] / sqrt(12) + 0.5 - q.score) > 1e-6) AS differ
  FROM dendrite.featurize('an_semi_cards', 'SELECT * FROM an_tx WHERE transaction_id < 3000', key => 'transaction_id') f
  JOIN dendrite.score_query('an_ae_cards', 'SELECT * FROM an_tx WHERE transaction_id < 3000', key => 'transaction_id') q
    USING (key);

-- The autoencoder cannot be dropped while a featurizer reads its score; bad declarations are refused.
\set VERBOSITY terse
SELECT dendrite.drop_model('an_ae');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '[{"model": "no_such_model"}]');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '[{"model": "an_ae", "version": 9}]');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '[{"model": "an_semi_mlp"}]');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT amount, online FROM an_tx', anomaly => '{"model": "an_ae"}');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT amount::text AS amount, online, country, merchant_category FROM an_tx',
                                  anomaly => '{"model": "an_ae"}');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT amount, online, country, merchant_category FROM an_tx', label => 'online',
                                  anomaly => '{"model": "an_ae"}');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '[{"model": "an_ae", "colour": 1}]');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '3');
-- An autoencoder whose featurizer reads anomaly features of its own is refused (one level: no chains, no cycles).
SELECT version FROM dendrite.train('an_ae_history', 'SELECT * FROM an_tx', NULL, algorithm => 'autoencoder',
                                   featurizer => 'an_semi', epochs => 1);
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '{"model": "an_ae_history"}');
\set VERBOSITY sqlstate
SELECT dendrite.drop_model('an_ae');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '[{"model": "an_semi_mlp"}]');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT amount, online FROM an_tx', anomaly => '{"model": "an_ae"}');
SELECT dendrite.create_featurizer('an_semi_bad', 'SELECT * FROM an_tx', anomaly => '{"model": "an_ae_history"}');
\set VERBOSITY default
SELECT count(*) AS no_featurizer_stored FROM dendrite.featurizers WHERE name = 'an_semi_bad';

-- Early stopping keeps an epoch whatever its loss: a barely trained wide network's validation loss stays far
-- above 1 (before the fix no epoch was kept, and the server crashed).
SELECT setseed(0.25);
CREATE TABLE an_tails AS
SELECT random() AS a, random() AS b, random() * random() AS c, exp(5 * random()) AS d, exp(6 * random()) AS e
  FROM generate_series(1, 3000);
SELECT epochs >= 3 AS ran, best_epoch >= 1 AS kept_an_epoch, validation_loss > 1 AS loss_above_one
  FROM dendrite.train('an_tails', 'SELECT * FROM an_tails', NULL, algorithm => 'autoencoder', epochs => 4, patience => 2,
                      hidden => '{256,256,256}', learning_rate => 0.0000001, seed => 1);

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
-- This session keeps an_semi_mlp, its featurizer and the autoencoder version the featurizer's anomaly feature
-- reads; the edit of that version reaches all three at once (model_cache.hpp): refused here too.
SELECT dendrite.score('an_semi_mlp', t) BETWEEN 0 AND 1 AS scored FROM an_tx t LIMIT 1;
UPDATE dendrite.model_versions v SET algorithm = 'mlp' FROM dendrite.models m
 WHERE m.model_id = v.model_id AND m.name = 'an_ae' AND v.version = 1;
SELECT dendrite.score('an_semi_mlp', t) FROM an_tx t LIMIT 1;
\c -
\set VERBOSITY terse
SELECT dendrite.score('an_ae', t, 1) FROM an_tx t LIMIT 1;
\set VERBOSITY default

-- A declaration edited to a version that does not exist is refused when the featurizer loads, naming it.
UPDATE dendrite.featurizers SET spec = jsonb_set(spec, '{anomaly,0,version}', '7') WHERE name = 'an_semi';
\c -
SELECT dendrite.score('an_semi_mlp', t) FROM an_tx t LIMIT 1;
