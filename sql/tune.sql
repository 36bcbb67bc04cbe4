-- dendrite.tune (issue #28): hyperparameters searched on prequential time folds (each fold's model trained on
-- the rows before its week, less a gap, and assessed on that week), by successive halving; every trial a
-- row of dendrite.tuning_trials; the best settings trained on every row as a new version.
SET client_min_messages = warning;

CREATE TABLE tn AS
SELECT transaction_id, tx_time, amount, online, merchant_category, is_fraud
  FROM dendrite.generate_transactions(customers => 400, terminals => 400, days => 30, seed => 5);
SELECT count(*) > 5000 AS rows, count(*) FILTER (WHERE is_fraud) > 50 AS frauds FROM tn;

-- Three folds of five days; four trials: train's defaults ({}) and three of the four combinations.
-- Rung 0 assesses all four on the newest fold, rung 1 the best two on the two newest, rung 2 the best one on
-- all three.
CREATE TEMP TABLE tuned AS
SELECT * FROM dendrite.tune('tn_model', 'SELECT * FROM tn', 'is_fraud',
                            search => '{"hidden": [[4], [8]], "epochs": [1, 2]}', folds => 3, trials => 4,
                            time_column => 'tx_time', fold_length => '5 days', seed => 1);
SELECT trial, settings = '{}' AS defaults, rung, cardinality(array_remove(fold_pr_auc, NULL)) AS folds_assessed,
       fold_pr_auc[3] IS NOT NULL AS newest_assessed, seconds > 0 AS timed, best, version
  FROM tuned ORDER BY trial;
SELECT count(DISTINCT settings) AS distinct_settings, count(*) FILTER (WHERE settings ? 'hidden' AND settings ? 'epochs') AS sampled
  FROM tuned;
-- The best: assessed on every fold, its mean that of its folds, no other trial so assessed above it.
SELECT t.rung = 2 AS all_rungs, abs(t.mean_pr_auc - (SELECT avg(p) FROM unnest(t.fold_pr_auc) p)) < 1e-12 AS mean_of_folds,
       NOT EXISTS (SELECT FROM tuned o WHERE cardinality(array_remove(o.fold_pr_auc, NULL)) = 3
                                         AND o.mean_pr_auc > t.mean_pr_auc) AS highest
  FROM tuned t WHERE t.best;
-- Rung 1 kept the two best of rung 0 on the newest fold.
SELECT count(*) FILTER (WHERE rung >= 1) = 2 AS two_survivors,
       min(fold_pr_auc[3]) FILTER (WHERE rung >= 1) >= max(fold_pr_auc[3]) FILTER (WHERE rung = 0) AS best_two_of_rung_0
  FROM tuned;
-- The new version has the best's settings and was trained on every row; the scratch model is gone.
SELECT v.version, v.hyperparameters->'hidden' AS hidden, v.hyperparameters->'epochs' AS epochs,
       (SELECT settings FROM tuned WHERE best) AS best_settings
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'tn_model';
SELECT count(*) AS scratch_models FROM dendrite.models WHERE name LIKE 'tn_model (tuning %';

-- The catalog keeps every trial with its folds: three windows of five days ending after the newest row.
SELECT count(*) AS trials, count(DISTINCT tuning_id) AS tunings, min(algorithm) AS algorithm, min(time_column) AS time_column,
       bool_and(fold_starts[2] - fold_starts[1] = interval '5 days' AND fold_starts[3] - fold_starts[2] = interval '5 days') AS spaced,
       bool_and(fold_starts[3] + fold_length > (SELECT max(tx_time) FROM tn)
                AND fold_starts[3] <= (SELECT max(tx_time) FROM tn)) AS newest_fold_ends_at_the_last_row,
       bool_and(gap = interval '5 days') AS gap_is_a_fold, count(*) FILTER (WHERE best) AS best, count(version_id) AS versions
  FROM dendrite.tuning_trials;

-- Honest about time: trial 1's newest fold is train's defaults on the rows before the fold less the gap,
-- assessed on the fold's rows; the same training and evaluation by hand give the recorded PR-AUC (without
-- history features the fold's rows are the query's; with them the rows before feed history, since => start).
SELECT fold_starts[3] AS assess_start, fold_starts[3] - gap AS train_end, fold_starts[3] + fold_length AS assess_end,
       fold_pr_auc[3] AS recorded
  FROM dendrite.tuning_trials WHERE trial = 1 \gset
SELECT version AS check_version FROM dendrite.train('tn_check',
    format('SELECT * FROM (SELECT * FROM tn) tune_rows WHERE tune_rows.tx_time < %L::timestamp ORDER BY tune_rows.tx_time', :'train_end'),
    'is_fraud', seed => 1) \gset
SELECT abs(e.pr_auc - :recorded) < 1e-12 AS reproduced
  FROM dendrite.evaluate('tn_check', format('SELECT * FROM tn WHERE tx_time >= %L::timestamp AND tx_time < %L::timestamp',
                                            :'assess_start', :'assess_end'), :check_version, 'is_fraud') e;
SELECT dendrite.drop_model('tn_check');

-- A trial whose training diverges (a learning rate far too high) is ranked last with its failure recorded (and
-- a NOTICE), and the search goes on: one bad point of a grid does not end a long tune.
SELECT trial, settings->'learning_rate' AS learning_rate, rung, cardinality(array_remove(fold_pr_auc, NULL)) AS folds_assessed,
       mean_pr_auc IS NULL AS unranked, best
  FROM dendrite.tune('tn_diverging', 'SELECT * FROM tn', 'is_fraud',
                     search => '{"learning_rate": [1e30], "hidden": [[4]], "epochs": [1]}', folds => 2, trials => 2,
                     time_column => 'tx_time', fold_length => '5 days', seed => 1)
 ORDER BY trial;
SELECT t.trial, t.failure, t.seconds > 0 AS timed
  FROM dendrite.tuning_trials t JOIN dendrite.models m USING (model_id) WHERE m.name = 'tn_diverging' ORDER BY t.trial;
SELECT dendrite.drop_model('tn_diverging');
-- Were every trial to fail, there would be no best: tune then fails, naming each failure.
SELECT dendrite.internal_tune_best('[{"trial": 1, "fold": 1, "pr_auc": null, "seconds": 1, "failure": "training diverged: a"},
                                     {"trial": 2, "fold": 1, "pr_auc": null, "seconds": 1, "failure": "training diverged: b"}]', 1) AS best,
       dendrite.internal_tune_failures('[{"trial": 1, "fold": 1, "pr_auc": null, "seconds": 1, "failure": "training diverged: a"},
                                         {"trial": 2, "fold": 1, "pr_auc": 0.5, "seconds": 1}]') AS failures;

-- A trial's settings become train's named arguments; other keys are options.
SELECT dendrite.internal_tune_arguments('{"hidden": [128, 64], "learning_rate": 0.003, "layer_norm": true, "max_depth": 4}');
-- gbdt's options are searched by their names; a fixed featurizer's time column folds the rows; rows before
-- since only feed its history (in every fold and in the final training).
SELECT dendrite.create_featurizer('tn_features', 'SELECT * FROM tn ORDER BY tx_time', label => 'is_fraud',
    columns => '{"transaction_id": "ignore"}',
    history => '[{"entity": "merchant_category", "time": "tx_time", "windows": ["1 day"], "aggregates": ["count"]}]') AS featurizer_version;
SELECT trial, settings - 'rounds' AS settings, rung, best, version
  FROM dendrite.tune('tn_trees', 'SELECT * FROM tn', 'is_fraud', algorithm => 'gbdt', featurizer => 'tn_features',
                     search => '{"max_depth": [2, 3], "rounds": [5]}', folds => 2, trials => 3, fold_length => '7 days',
                     gap => '0 days', since => '2026-01-05')
 ORDER BY trial;
SELECT v.algorithm, v.hyperparameters->'max_depth' AS max_depth, v.hyperparameters->'rounds' AS rounds, f.name AS featurizer
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) JOIN dendrite.featurizers f USING (featurizer_id)
 WHERE m.name = 'tn_trees';
-- A blend is tuned like the others; its own default space searches the network's share of the logit (an
-- option), the network's epochs and the trees' depth. (Trial 1, train's defaults, would train 300 rounds here.)
SELECT count(*) AS candidates, count(*) FILTER (WHERE c = '{}') AS defaults,
       bool_and(c = '{}' OR (c ? 'network_weight' AND c ? 'epochs' AND c ? 'max_depth')) AS blend_space
  FROM dendrite.internal_tune_plan('tn_blend', 'blend', NULL, 2, 5, 'tn_features', NULL, '7 days', '0 days', 1) p,
       unnest(p.candidates) c;

-- Errors.
\set VERBOSITY terse
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', algorithm => 'forest', time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', folds => 0, time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', search => '{"seed": [1, 2]}', time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', search => '{"epochs": 3}', time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', search => '[1]', time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn WHERE false', 'is_fraud', time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', time_column => 'tx_time', fold_length => '-1 day');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', featurizer => 'tn_features', since => '2026-01-25');
-- Every candidate is checked as train checks its arguments before the first trains: a layer of 0 units, a tree
-- depth of 0 or an unknown activation fails the tune at once, naming the trial and its settings, before any
-- trial has trained.
\set VERBOSITY default
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', search => '{"hidden": [[4], [0], [8]]}', trials => 4,
                            time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', algorithm => 'gbdt', search => '{"max_depth": [0, 3]}',
                            time_column => 'tx_time');
SELECT * FROM dendrite.tune('tn_bad', 'SELECT * FROM tn', 'is_fraud', search => '{"activation": ["relu", "swish"]}',
                            time_column => 'tx_time');
-- The check takes train's own arguments and defaults.
SELECT pg_get_function_arguments('dendrite.train'::regproc) =
       pg_get_function_arguments('dendrite.internal_check_training_settings'::regproc) AS same_arguments_as_train;
\set VERBOSITY default
SELECT count(*) AS left_behind FROM dendrite.models WHERE name LIKE 'tn_bad%';

SELECT dendrite.drop_model('tn_model');
SELECT dendrite.drop_model('tn_trees');
SELECT dendrite.drop_featurizer('tn_features');
SELECT count(*) AS trials_left FROM dendrite.tuning_trials;
DROP TABLE tn;
