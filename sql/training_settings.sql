-- The training engine's settings from SQL: layers, losses, optimizers, schedules, early stopping, threshold
-- rules, time-ordered validation, gbdt with trees as rows, compare(), the memory budget and progress.
SET client_min_messages = warning;

-- Without a featurizer, train fits one in the same pass that reads the rows (it keeps them and featurizes
-- them afterwards): the model must be the one that a featurizer fitted first, then a second pass, gives.
-- Numbers with NULLs, texts and booleans, so that every kind of kept value comes back.
\set mixed_query 'SELECT x, CASE WHEN id % 10 = 0 THEN NULL ELSE y END AS y, CASE WHEN id % 3 = 0 THEN \'a\' WHEN id % 3 = 1 THEN \'b\' END AS kind, id % 2 = 0 AS even, label FROM points'
SELECT dendrite.create_featurizer('two_pass_features', :'mixed_query', label => 'label') AS featurizer_version;
SELECT a.pr_auc = b.pr_auc AS same_pr_auc, a.loss = b.loss AS same_loss
  FROM dendrite.train('one_pass', :'mixed_query', 'label', epochs => 3, seed => 5) a,
       dendrite.train('two_pass', :'mixed_query', 'label', featurizer => 'two_pass_features', epochs => 3, seed => 5) b;
SELECT count(*) AS tensors, bool_and(a.value = b.value) AS identical_parameters
  FROM (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'one_pass') a
  JOIN (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'two_pass') b USING (layer_index, name);
SELECT f.output_names = g.output_names AS same_outputs, f.spec = g.spec AS same_spec
  FROM dendrite.featurizers f, dendrite.featurizers g WHERE f.name = 'one_pass' AND g.name = 'two_pass_features';

-- Every setting at once: layer normalization, dropout, focal loss, AdamW with weight decay, a cosine schedule
-- with warm-up, gradient clipping, negative sampling, early stopping and a precision target.
SELECT version, best_epoch BETWEEN 1 AND epochs AS best_epoch_kept, pr_auc > 0.9 AS good_pr_auc
  FROM dendrite.train('knobs', 'SELECT x, y, label FROM points', 'label', hidden => '{16,8}', activation => 'gelu',
                      layer_norm => true, dropout => 0.1, loss => 'focal', epochs => 12, batch_size => 64,
                      learning_rate => 0.01, optimizer => 'adamw', threshold => 'precision:0.9', patience => 3,
                      options => '{"weight_decay": 0.001, "schedule": "cosine", "warmup_epochs": 1, "clip_norm": 5,
                                   "negative_sampling": 0.5, "focal_gamma": 1.5, "threads": 2}');

-- Everything the version was trained with is stored with it, and the metrics of the kept epoch.
SELECT v.hyperparameters->>'activation' AS activation, v.hyperparameters->>'loss' AS loss,
       v.hyperparameters->>'optimizer' AS optimizer, v.hyperparameters->>'weight_decay' AS weight_decay,
       v.hyperparameters->>'schedule' AS schedule, v.hyperparameters->>'negative_sampling' AS negative_sampling,
       v.hyperparameters->>'threshold' AS threshold_rule, v.configuration,
       (v.metrics->>'best_epoch')::int = (SELECT e.epoch FROM dendrite.epochs e WHERE e.version_id = v.version_id
                                          ORDER BY e.pr_auc DESC, e.epoch LIMIT 1) AS best_epoch_has_best_pr_auc,
       v.metrics->>'threshold_rule' AS metrics_rule,
       (v.metrics->>'threshold_met')::boolean = ((v.metrics->>'precision')::float8 >= 0.9) AS precision_target_consistent,
       v.threshold = (SELECT e.threshold FROM dendrite.epochs e WHERE e.version_id = v.version_id
                       AND e.epoch = (v.metrics->>'best_epoch')::int) AS threshold_of_kept_epoch
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'knobs';

-- Weight averaging: by default a network keeps the mean of the last half of its epochs' parameters (20 epochs,
-- the last 10); average_epochs => 1 keeps the last epoch's alone. Both are stored with the version.
SELECT a.epochs AS default_epochs, a.pr_auc <> b.pr_auc OR a.loss <> b.loss AS averaging_changes_the_model
  FROM dendrite.train('averaged', 'SELECT x, y, label FROM points', 'label', hidden => '{8}', seed => 3) a,
       dendrite.train('last_epoch', 'SELECT x, y, label FROM points', 'label', hidden => '{8}', seed => 3,
                      options => '{"average_epochs": 1}') b;
SELECT m.name, v.hyperparameters->>'epochs' AS epochs, v.hyperparameters->>'average_epochs' AS average_epochs
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE m.name IN ('averaged', 'last_epoch') ORDER BY m.name;
SELECT count(*) AS tensors, bool_and(a.value = b.value) AS identical_parameters
  FROM (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'averaged') a
  JOIN (SELECT p.* FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id) WHERE m.name = 'last_epoch') b USING (layer_index, name);

-- threshold => 'rate:0.1': the highest threshold that flags a tenth of the validation rows (an alert budget).
SELECT abs((tp + fp)::float8 / (tp + fp + tn + fn) - 0.1) < 0.005 AS a_tenth_flagged, threshold > 0 AS positive
  FROM dendrite.train('rated', 'SELECT x, y, label FROM points', 'label', hidden => '{8}', epochs => 3,
                      threshold => 'rate:0.1');

-- Layer normalization adds two tensors to each hidden layer; the scoring paths use them.
SELECT p.layer, p.name, p.shape FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
  JOIN dendrite.models m USING (model_id) WHERE m.name = 'knobs' ORDER BY p.layer_index, p.name;
SELECT count(*) AS rows, count(*) FILTER (WHERE dendrite.score('knobs', p) BETWEEN 0 AND 1) AS scored,
       count(*) FILTER (WHERE abs(dendrite.score('knobs', p) - dendrite.predict('knobs', dendrite.features('knobs', p))) < 1e-6) AS paths_agree
  FROM points p;

-- A time-ordered split: the validation rows are the latest by the named column.
SELECT version, epochs FROM dendrite.train('by_time', 'SELECT x, y, label, id FROM points', 'label',
                                           split_column => 'id', validation_fraction => 0.25, epochs => 2,
                                           featurizer => 'knobs');
SELECT training_rows, validation_rows, hyperparameters->>'split_column' AS split_column
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'by_time';

-- Gradient-boosted trees through libxgboost: one row per tree, scored by dendrite itself.
SELECT version, epochs, best_epoch, pr_auc > 0.9 AS good_pr_auc, device
  FROM dendrite.train('trees', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt',
                      options => '{"rounds": 25, "max_depth": 3, "eta": 0.3, "threads": 1}');
SELECT v.algorithm, v.configuration->>'trees' AS trees, v.configuration ? 'base_margin' AS has_base_margin,
       (SELECT count(*) FROM dendrite.trees t WHERE t.version_id = v.version_id) AS tree_rows,
       (SELECT count(*) FROM dendrite.parameters p WHERE p.version_id = v.version_id) AS tensor_rows,
       (SELECT count(*) FROM dendrite.epochs e WHERE e.version_id = v.version_id) AS round_rows
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'trees';
SELECT cardinality(t.left_child) = cardinality(t.threshold) AS arrays_align, t.left_child[1] >= 0 AS root_splits
  FROM dendrite.trees t JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'trees' AND t.tree_index = 0;
-- Its scores rank the points like its validation metrics say.
SELECT count(*) FILTER (WHERE dendrite.score('trees', p) BETWEEN 0 AND 1) AS scored,
       avg(dendrite.score('trees', p)) FILTER (WHERE label) > 0.8 AS positives_high,
       avg(dendrite.score('trees', p)) FILTER (WHERE NOT label) < 0.2 AS negatives_low
  FROM points p;
-- Trees edited into an inconsistent shape are refused, not followed (by a backend that loads them afresh).
UPDATE dendrite.trees t SET left_child[1] = 0 FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE t.version_id = v.version_id AND m.name = 'trees' AND t.tree_index = 3;
\c -
SELECT dendrite.score('trees', p) FROM points p LIMIT 1;
UPDATE dendrite.trees t SET left_child[1] = 1 FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE t.version_id = v.version_id AND m.name = 'trees' AND t.tree_index = 3;
\c -
SET client_min_messages = warning;
SELECT count(*) FILTER (WHERE dendrite.score('trees', p) BETWEEN 0 AND 1) AS scored_again FROM points p;

-- Early stopping on the boosting rounds keeps the best round's trees.
SELECT version, best_epoch < epochs AS stopped_after_best
  FROM dendrite.train('trees', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt', patience => 3,
                      options => '{"rounds": 300, "eta": 0.5, "threads": 1}');
SELECT (v.configuration->>'trees')::int = (v.metrics->>'best_epoch')::int AS trees_of_best_round,
       (v.metrics->>'best_epoch')::int < (v.metrics->>'epochs_run')::int AS rounds_after_best_dropped
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'trees' AND v.version = 2;

-- compare(): every algorithm on one featurizer version and one split, judged on fraud metrics.
SELECT algorithm, version, pr_auc > 0.8 AS good_pr_auc, roc_auc > 0.9 AS good_roc_auc,
       recall_at_precision_90 BETWEEN 0 AND 1 AS recall_at_p90_ok, precision BETWEEN 0 AND 1 AS precision_ok,
       train_seconds > 0 AS timed, score_us_per_row > 0 AS score_timed
  FROM dendrite.compare('contest', 'SELECT x, y, label FROM points', 'label', epochs => 30,
                        options => '{"rounds": 30, "threads": 1}');
SELECT count(DISTINCT featurizer_id) AS featurizers, count(DISTINCT validation_rows) AS split_sizes, count(*) AS versions
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'contest';
-- Without max_depth or eta, gbdt grows trees of depth 4 at eta 0.05 (deeper ones overfit fraud data:
-- docs/benchmarks.md), and the version records them for a retraining to ask again.
SELECT v.hyperparameters->>'max_depth' AS max_depth, v.hyperparameters->>'eta' AS eta,
       max(cardinality(t.left_child)) <= 31 AS at_most_depth_4
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) JOIN dendrite.trees t USING (version_id)
 WHERE m.name = 'contest' AND v.algorithm = 'gbdt' GROUP BY 1, 2;

-- compare() marks one winner (the best validation PR-AUC), and with a featurizer that has a time column it
-- ranks on the latest rows by it (never on a random share: fraud drifts).
SELECT algorithm, winner = (pr_auc = max(pr_auc) OVER ()) AS winner_is_best FROM dendrite.compare('contest_again',
    'SELECT x, y, label FROM points', 'label', algorithms => '{logistic_regression,gbdt}', epochs => 5,
    options => '{"rounds": 10, "threads": 1}');
CREATE TABLE timed_points AS
SELECT p.*, timestamp '2026-01-01' + p.id * interval '1 minute' AS at, p.id % 50 AS entity FROM points p;
SELECT dendrite.create_featurizer('timed', 'SELECT x, y, label, at, entity FROM timed_points', label => 'label',
    columns => '{"entity": "ignore", "at": "ignore"}',
    history => '[{"entity": "entity", "time": "at", "windows": ["1 hour"], "aggregates": ["count"]}]') AS version;
SELECT count(*) FILTER (WHERE winner) AS winners, count(*) AS candidates
  FROM dendrite.compare('timed_contest', 'SELECT x, y, label, at, entity FROM timed_points', 'label',
                        featurizer => 'timed', algorithms => '{logistic_regression,gbdt}', epochs => 3,
                        options => '{"rounds": 10, "threads": 1}');
SELECT DISTINCT v.hyperparameters->>'split_column' AS split_column
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'timed_contest';

-- With history, train reads the query's rows as they come while they arrive in time order, and sorts them
-- (reading the query again) from the first row that does not. The same rows (NULL times among them: sorted
-- last, in the query's order) give the same model whether they come in time order with the NULLs last (no
-- sort), with a NULL time before a time (a sort from the 6th row), shuffled (from the 2nd) or in order but
-- for one late row (from the 2,969th).
\set timed_columns 'x, y, label, entity, CASE WHEN id % 97 = 5 THEN NULL ELSE at END AS at'
SELECT q.name, round(r.loss::numeric, 6) AS loss
  FROM (VALUES ('nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id'),
               ('nulls_among', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id'),
               ('shuffled', 'SELECT ' || :'timed_columns' ||
                            ' FROM timed_points ORDER BY CASE WHEN id % 97 = 5 THEN id ELSE 0 END, md5(id::text)'),
               ('one_late_row', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id = 1, id')
       ) AS q(name, query),
       LATERAL dendrite.train('order_' || q.name, q.query, 'label', featurizer => 'timed', epochs => 2, seed => 3) AS r
 ORDER BY q.name;
SELECT m.name, v.training_rows, v.validation_rows
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name LIKE 'order\_%' ORDER BY m.name;
SELECT count(*) AS tensors, bool_and(models = 4 AND values = 1) AS identical_parameters
  FROM (SELECT p.layer_index, p.name, count(*) AS models, count(DISTINCT p.value) AS values
          FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id)
         WHERE m.name LIKE 'order\_%' GROUP BY p.layer_index, p.name) AS t;

-- evaluate, feature_drift and feature_importance read their queries the same way: the same numbers.
SELECT a.pr_auc = b.pr_auc AND a.roc_auc = b.roc_auc AND a.tp = b.tp AND a.fp = b.fp AS same_evaluation
  FROM dendrite.evaluate('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id') a,
       dendrite.evaluate('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY md5(id::text)') b;
SELECT count(*) AS features, bool_and(a.psi = b.psi AND a.current_mean = b.current_mean) AS same_drift
  FROM dendrite.feature_drift('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id') a
  JOIN dendrite.feature_drift('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id') b USING (feature);
SELECT count(*) AS inputs, bool_and(a.mean_abs_contribution = b.mean_abs_contribution) AS same_importance
  FROM dendrite.feature_importance('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id') a
  JOIN dendrite.feature_importance('order_nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id = 1, id') b USING (feature);

-- score_query, featurize and explain_query too, dropping what they had returned when they restart (the rows
-- in time order but for one, read last: a sort from the 3,000th and last row): every row once, the same numbers.
\set in_order 'SELECT id, x, y, label, entity, at FROM timed_points ORDER BY id'
\set late_row 'SELECT id, x, y, label, entity, at FROM timed_points ORDER BY id = 1, id'
SELECT count(*) AS rows, count(*) FILTER (WHERE a.score IS DISTINCT FROM b.score) AS different
  FROM dendrite.score_query('order_nulls_last', :'in_order', key => 'id') a
  FULL JOIN dendrite.score_query('order_nulls_last', :'late_row', key => 'id') b USING (key);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.features IS DISTINCT FROM b.features) AS different
  FROM dendrite.featurize('timed', :'in_order', key => 'id') a
  FULL JOIN dendrite.featurize('timed', :'late_row', key => 'id') b USING (key);
SELECT count(*) AS reasons, count(*) FILTER (WHERE a.contribution IS DISTINCT FROM b.contribution) AS different
  FROM dendrite.explain_query('order_nulls_last', :'in_order', key => 'id', top => 2) a
  FULL JOIN dendrite.explain_query('order_nulls_last', :'late_row', key => 'id', top => 2) b USING (key, rank);

-- The offline passes featurize on a helper thread while they read (pipelined): score_query's scores are
-- predict's over featurize's features (which suite featurize compares with features(), row by row), and train
-- gets the same model with one thread (no helper) as with two.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE a.score IS DISTINCT FROM dendrite.predict('order_nulls_last', b.features)) AS different
  FROM dendrite.score_query('order_nulls_last', :'late_row', key => 'id') a
  JOIN dendrite.featurize('timed', :'in_order', key => 'id') b USING (key);
SELECT round(loss::numeric, 6) AS loss
  FROM dendrite.train('order_one_thread', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id', 'label',
                      featurizer => 'timed', epochs => 2, seed => 3, options => '{"threads": 1}');
SELECT count(*) AS tensors, bool_and(models = 2 AND values = 1) AS identical_parameters
  FROM (SELECT p.layer_index, p.name, count(*) AS models, count(DISTINCT p.value) AS values
          FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id)
         WHERE m.name IN ('order_nulls_last', 'order_one_thread') GROUP BY p.layer_index, p.name) AS t;

-- dendrite.max_threads = 1 keeps a statement on the backend's own thread (no pool, no helper; explanations
-- row by row, as on a one-core machine): the same model, scores, reasons and importance as with every core.
SET dendrite.max_threads = 1;
SELECT round(loss::numeric, 6) AS loss
  FROM dendrite.train('order_max_threads', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id', 'label',
                      featurizer => 'timed', epochs => 2, seed => 3);
CREATE TEMP TABLE one_thread_scores AS SELECT * FROM dendrite.score_query('order_nulls_last', :'late_row', key => 'id');
CREATE TEMP TABLE one_thread_reasons AS
SELECT * FROM dendrite.explain_query('order_nulls_last', :'late_row', key => 'id', top => 3);
CREATE TEMP TABLE one_thread_importance AS
SELECT * FROM dendrite.feature_importance('order_nulls_last', :'in_order');
RESET dendrite.max_threads;
SELECT count(*) AS tensors, bool_and(models = 2 AND values = 1) AS identical_parameters
  FROM (SELECT p.layer_index, p.name, count(*) AS models, count(DISTINCT p.value) AS values
          FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.models m USING (model_id)
         WHERE m.name IN ('order_nulls_last', 'order_max_threads') GROUP BY p.layer_index, p.name) AS t;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.score IS DISTINCT FROM b.score) AS different
  FROM one_thread_scores a FULL JOIN dendrite.score_query('order_nulls_last', :'late_row', key => 'id') b USING (key);
SELECT count(*) AS reasons,
       count(*) FILTER (WHERE a.score IS DISTINCT FROM b.score OR a.feature IS DISTINCT FROM b.feature
                          OR a.value IS DISTINCT FROM b.value OR a.contribution IS DISTINCT FROM b.contribution) AS different
  FROM one_thread_reasons a
  FULL JOIN dendrite.explain_query('order_nulls_last', :'late_row', key => 'id', top => 3) b USING (key, rank);
SELECT count(*) AS inputs, count(*) FILTER (WHERE a.mean_abs_contribution IS DISTINCT FROM b.mean_abs_contribution) AS different
  FROM one_thread_importance a FULL JOIN dendrite.feature_importance('order_nulls_last', :'in_order') b USING (feature);
SET dendrite.max_threads = 257;
-- In a new session (a backend with no thread of its own yet): gbdt under dendrite.max_threads = 1 leaves it
-- with one (libxgboost's OpenMP keeps the threads it starts: one per core without the limit).
\c
SET client_min_messages = warning;
SET dendrite.max_threads = 1;
SELECT version > 0 AS trained
  FROM dendrite.train('one_thread_trees', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt',
                      options => '{"rounds": 10}');
SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'Threads:\s*(\d+)') AS backend_threads;
RESET dendrite.max_threads;

-- create_featurizer reads its query the same way: the four orders fit the same featurizer (its statistics
-- per column and per history output, its spec and its row count), the sorted reads from a new fitter.
SELECT q.name, dendrite.create_featurizer('fit_' || q.name, q.query, label => 'label',
         columns => '{"entity": "ignore"}',
         history => '[{"entity": "entity", "time": "at", "value": "x", "windows": ["1 hour"],
                       "aggregates": ["count", "mean"]}]') AS version
  FROM (VALUES ('nulls_last', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id'),
               ('nulls_among', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id'),
               ('shuffled', 'SELECT ' || :'timed_columns' ||
                            ' FROM timed_points ORDER BY CASE WHEN id % 97 = 5 THEN id ELSE 0 END, md5(id::text)'),
               ('one_late_row', 'SELECT ' || :'timed_columns' || ' FROM timed_points ORDER BY id % 97 = 5, id = 1, id')
       ) AS q(name, query)
 ORDER BY q.name;
SELECT count(*) AS featurizers, count(DISTINCT f.rows) AS row_counts, count(DISTINCT fitted) AS fits
  FROM dendrite.featurizers f,
       LATERAL (SELECT jsonb_build_array(f.spec,
                 (SELECT jsonb_agg(to_jsonb(c) - 'featurizer_id' ORDER BY c.ordinal)
                    FROM dendrite.feature_columns c WHERE c.featurizer_id = f.featurizer_id),
                 (SELECT jsonb_agg(to_jsonb(h) - 'featurizer_id' ORDER BY h.ordinal)
                    FROM dendrite.feature_history h WHERE h.featurizer_id = f.featurizer_id)) AS fitted) AS s
 WHERE f.name LIKE 'fit\_%';

-- No training is in progress once the statements are done.
SELECT count(*) AS in_progress FROM dendrite.training_progress;

-- Errors: clear messages, proper SQLSTATEs, nothing stored.
\set VERBOSITY default
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '{"wait_decay": 0.1}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '{"epochs": 3}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '{"weight_decay": "some"}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '[1, 2]');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => NULL);
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', threshold => 'accuracy:0.9');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', loss => 'hinge');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', dropout => 1);
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', optimizer => 'lbfgs');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '{"nesterov": true}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', options => '{"average_epochs": -1}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt', options => '{"max_depth": 40}');
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', split_column => 'nope');
SELECT dendrite.train('bad', 'SELECT x, y, label, note FROM points', 'label', split_column => 'note');
SELECT dendrite.train('bad', 'SELECT x, y, label, CASE WHEN id > 10 THEN id END AS t FROM points', 'label', split_column => 't');
-- All positives are the latest rows: a time-ordered split leaves none to train on.
SELECT dendrite.train('bad', 'SELECT x, y, id > 2900 AS late, id FROM points', 'late', split_column => 'id');
\set SHOW_CONTEXT never
SELECT dendrite.compare('bad', 'SELECT x, y, label FROM points', 'label', algorithms => '{mlp,svm}');
SELECT dendrite.compare('bad', 'SELECT x, y, label FROM points', 'label', algorithms => '{}');
SELECT dendrite.compare('bad', 'SELECT x, y, label FROM points', 'label', algorithms => '{mlp,gbdt,mlp}');
\set SHOW_CONTEXT errors
-- Over the memory budget: 53200 before the data is read in full.
SET dendrite.training_memory = '1MB';
SELECT dendrite.train('bad', 'SELECT x, y, label, g FROM points, generate_series(1, 20) AS g', 'label');
RESET dendrite.training_memory;
-- Running out of memory in the middle of training (simulated: an allocation fails inside the engine between
-- two batches) is a clean 53200, for the network and for gbdt, and stores nothing.
SET dendrite.fault_injection = 'training_out_of_memory';
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', epochs => 2);
\set VERBOSITY sqlstate
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', epochs => 2);
SELECT dendrite.train('bad', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt');
\set VERBOSITY default
RESET dendrite.fault_injection;
SELECT count(*) AS bad_models FROM dendrite.models WHERE name = 'bad';
