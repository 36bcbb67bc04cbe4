-- dendrite.train: versions, parameters as rows, epochs, determinism.
SET client_min_messages = warning;

-- A logistic regression and an MLP on the same data.
SELECT version, epochs, pr_auc > 0.95 AS good_pr_auc, roc_auc > 0.99 AS good_roc_auc,
       tp + fp + tn + fn AS evaluated, device
  FROM dendrite.train('points_lr', 'SELECT x, y, label FROM points', 'label',
                      algorithm => 'logistic_regression', epochs => 10, learning_rate => 0.05, batch_size => 32);

SELECT version, epochs, pr_auc > 0.95 AS good_pr_auc, tp + fp + tn + fn AS evaluated, device
  FROM dendrite.train('points_mlp', 'SELECT x, y, label FROM points', 'label',
                      hidden => '{16,8}', epochs => 8, learning_rate => 0.01, batch_size => 64);

-- The model rows: the architecture as code.
SELECT name, task, configuration FROM dendrite.models ORDER BY name;

-- The version rows.
SELECT m.name, v.version, v.algorithm, v.label_column, v.training_rows, v.validation_rows, v.device, v.status,
       v.hyperparameters->>'optimizer' AS optimizer, v.metrics->>'evaluated_on' AS evaluated_on,
       v.threshold BETWEEN 0 AND 1 AS threshold_is_probability
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) ORDER BY m.name, v.version;

-- One row per named tensor.
SELECT m.name, p.layer_index, p.layer, p.name AS tensor, p.shape, cardinality(p.value) AS values
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 ORDER BY m.name, p.layer_index, p.name DESC;

-- One row per epoch, with the fraud metrics.
SELECT m.name, e.epoch, e.tp + e.fp + e.tn + e.fn AS evaluated, e.loss > 0 AS positive_loss,
       e.precision BETWEEN 0 AND 1 AS precision_ok, e.recall BETWEEN 0 AND 1 AS recall_ok
  FROM dendrite.epochs e JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'points_mlp' ORDER BY e.epoch;

-- The fitted statistics are rows too: each model got a featurizer fitted on its query, pinned to the version.
SELECT f.name, f.version, f.input_columns, f.input_types, f.output_names, f.rows, c.ordinal, c.column_name, c.kind,
       round(c.center::numeric, 3) AS center, round(c.scale::numeric, 3) AS scale, c.outputs
  FROM dendrite.feature_columns c JOIN dendrite.featurizers f USING (featurizer_id) ORDER BY f.name, c.ordinal;
SELECT m.name, v.version, f.name AS featurizer, f.version AS featurizer_version
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) JOIN dendrite.featurizers f USING (featurizer_id)
 ORDER BY m.name, v.version;

-- Training again makes version 2; the first stays.
SELECT version FROM dendrite.train('points_lr', 'SELECT x, y, label FROM points', 'label',
                                   algorithm => 'logistic_regression', epochs => 2, seed => 7);
SELECT version, hyperparameters->>'seed' AS seed FROM dendrite.model_versions
 WHERE model_id = (SELECT model_id FROM dendrite.models WHERE name = 'points_lr') ORDER BY version;

-- The same seed gives bit-identical parameters; another seed does not.
SELECT version FROM dendrite.train('same_a', 'SELECT x, y, label FROM points', 'label', epochs => 2, seed => 99);
SELECT version FROM dendrite.train('same_b', 'SELECT x, y, label FROM points', 'label', epochs => 2, seed => 99);
SELECT version FROM dendrite.train('other', 'SELECT x, y, label FROM points', 'label', epochs => 2, seed => 100);
CREATE TEMP VIEW tensors AS
SELECT m.name AS model, p.layer, p.name, p.value
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id);
SELECT count(*) AS tensors, bool_and(a.value = b.value) AS identical
  FROM tensors a JOIN tensors b USING (layer, name) WHERE a.model = 'same_a' AND b.model = 'same_b';
SELECT bool_and(a.value = b.value) AS identical
  FROM tensors a JOIN tensors b USING (layer, name) WHERE a.model = 'same_a' AND b.model = 'other';

-- Boolean and integer labels; boolean, integer, numeric, text (one-hot) and timestamp features; NULL
-- values (imputed, with a missing indicator).
SELECT version, epochs FROM dendrite.train('mixed',
    $$SELECT x::numeric AS x, y::real AS y, (id % 2 = 0) AS even, (id % 7)::smallint AS seven,
             CASE WHEN id % 10 = 0 THEN NULL ELSE x END AS sometimes_null, 'kind ' || (id % 3) AS kind,
             '2026-01-01'::timestamp + id * interval '1 hour' AS at,
             label::int AS label
        FROM points$$, 'label', epochs => 1, hidden => '{4}');
SELECT dendrite.feature_names('mixed');
-- Columns that cannot be features are named in a notice.
SET client_min_messages = notice;
SELECT version FROM dendrite.train('ignored', 'SELECT x, ''{}''::json AS doc, false AS label FROM points', 'label');
SET client_min_messages = warning;

-- SGD with class_weight 'none' and a numeric class weight; validation_fraction 0 measures on the training rows.
SELECT version, pr_auc > 0.9 AS good FROM dendrite.train('points_sgd', 'SELECT x, y, label FROM points', 'label',
    optimizer => 'sgd', learning_rate => 0.05, class_weight => 'none', epochs => 3, activation => 'tanh');
-- (A NOTICE then says so: tests/e2e/training_notices.sh, since the per-epoch NOTICEs carry timings.)
SELECT version, tp + fp + tn + fn AS evaluated FROM dendrite.train('points_weighted', 'SELECT x, y, label FROM points',
    'label', class_weight => '8', validation_fraction => 0, epochs => 2);
SELECT metrics->>'evaluated_on' AS evaluated_on FROM dendrite.model_versions
 WHERE model_id = (SELECT model_id FROM dendrite.models WHERE name = 'points_weighted');
-- A split by time whose validation rows hold one class (the last 20 of 100 by i) falls back to the training
-- rows too, which nobody asked for: a WARNING.
SELECT version, tp + fp + tn + fn AS evaluated FROM dendrite.train('one_class_validation',
    'SELECT i::float8 AS x, (i <= 50)::int AS label, i FROM generate_series(1, 100) i', 'label',
    split_column => 'i', validation_fraction => 0.2, epochs => 1);

-- Training inside a transaction that aborts leaves nothing behind.
BEGIN;
SELECT version FROM dendrite.train('aborted', 'SELECT x, y, label FROM points', 'label', epochs => 1);
ROLLBACK;
SELECT count(*) AS aborted_models FROM dendrite.models WHERE name = 'aborted';

-- drop_model removes the versions, parameters, epochs and featurizers.
SELECT dendrite.drop_model('other');
SELECT (SELECT count(*) FROM dendrite.models WHERE name = 'other') AS models,
       (SELECT count(*) FROM dendrite.featurizers WHERE name = 'other') AS featurizers;
SELECT dendrite.drop_model('other');
