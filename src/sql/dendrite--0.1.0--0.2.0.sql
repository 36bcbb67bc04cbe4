-- dendrite 0.1.0 -> 0.2.0: the complete training engine. A fresh CREATE EXTENSION runs 0.1.0 and then
-- this script, so there is one definition of every object.
--   * dendrite.train: dropout, layer_norm, loss ('bce' | 'focal'), threshold ('f1' | 'precision:0.9' |
--     'recall:0.8' | a number), split_column (time-ordered validation), patience (early stopping on
--     PR-AUC, the best epoch kept) and options jsonb (optimizers, schedules, clipping, weight decay,
--     negative sampling, threads, gbdt settings); algorithm 'gbdt' (libxgboost) with trees as rows.
--   * dendrite.compare: a leaderboard of algorithms trained on one split.
--   * dendrite.training_progress: trainings in progress, seen from any session.
\echo Use "ALTER EXTENSION dendrite UPDATE TO '0.2.0'" to load this file. \quit

COMMENT ON TABLE dendrite.parameters IS 'one row per named tensor of a network version (kernel, bias; norm_scale, norm_shift with layer normalization); rows of a version are immutable';

-- Gradient-boosted trees: one row per tree, its nodes as parallel arrays (node 0 is the root).
CREATE TABLE dendrite.trees (
    version_id   bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    tree_index   int NOT NULL,      -- 0-based, in boosting order
    left_child   int[] NOT NULL,    -- per node: the child for x[feature] < threshold; -1 at a leaf
    right_child  int[] NOT NULL,    -- per node: the child otherwise; -1 at a leaf
    feature      int[] NOT NULL,    -- per node: the 0-based feature (dendrite.feature_names order) a split tests
    threshold    real[] NOT NULL,   -- per node: the split threshold (0 at a leaf)
    value        real[] NOT NULL,   -- per node: the leaf's contribution to the margin (0 at a split)
    default_left boolean[] NOT NULL,-- per node: where a missing (NaN) value goes
    PRIMARY KEY (version_id, tree_index)
);
COMMENT ON TABLE dendrite.trees IS 'the trees of a gbdt version: score = sigmoid(base_margin + the leaves reached), base_margin in model_versions.configuration';
SELECT pg_catalog.pg_extension_config_dump('dendrite.trees', '');

ALTER TYPE dendrite.training_result ADD ATTRIBUTE best_epoch int;

DROP FUNCTION dendrite.train(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint, text, text, timestamp);
CREATE FUNCTION dendrite.train(
    model               text,
    query               text,
    label               text,
    algorithm           text    DEFAULT 'mlp',
    hidden              int[]   DEFAULT '{64,32}',
    activation          text    DEFAULT 'relu',
    epochs              int     DEFAULT 10,
    batch_size          int     DEFAULT 256,
    learning_rate       float8  DEFAULT 0.001,
    optimizer           text    DEFAULT 'adam',
    class_weight        text    DEFAULT 'balanced',
    validation_fraction float8  DEFAULT 0.2,
    seed                bigint  DEFAULT 42,
    device              text    DEFAULT 'auto',
    featurizer          text    DEFAULT NULL,
    since               timestamp DEFAULT NULL,
    dropout             float8  DEFAULT 0,
    layer_norm          boolean DEFAULT false,
    loss                text    DEFAULT 'bce',
    threshold           text    DEFAULT 'f1',
    split_column        text    DEFAULT NULL,
    patience            int     DEFAULT 0,
    options             jsonb   DEFAULT '{}'
) RETURNS dendrite.training_result
AS 'MODULE_PATHNAME', 'dendrite_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.train IS 'trains a new version of a model (mlp, logistic_regression or gbdt) on the rows of a query, featurized by the named featurizer (or one fitted on the query), and stores its parameters as rows';

CREATE FUNCTION dendrite.compare(
    name                text,
    query               text,
    label               text,
    algorithms          text[]  DEFAULT '{logistic_regression,mlp,gbdt}',
    epochs              int     DEFAULT 10,
    batch_size          int     DEFAULT 256,
    class_weight        text    DEFAULT 'balanced',
    validation_fraction float8  DEFAULT 0.2,
    split_column        text    DEFAULT NULL,
    threshold           text    DEFAULT 'f1',
    patience            int     DEFAULT 0,
    seed                bigint  DEFAULT 42,
    featurizer          text    DEFAULT NULL,
    since               timestamp DEFAULT NULL,
    options             jsonb   DEFAULT '{}'
) RETURNS TABLE (
    algorithm              text,
    version                int,
    pr_auc                 float8,
    roc_auc                float8,
    recall_at_precision_90 float8,
    "precision"            float8,
    recall                 float8,
    decision_threshold     float8,
    train_seconds          float8,
    score_us_per_row       float8
)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the query is the caller's and runs with the caller's path and rights, as in train.
AS $$
DECLARE
    candidate text;
    trained   dendrite.training_result;
    features  text := compare.featurizer;
BEGIN
    IF compare.algorithms IS NULL OR cardinality(compare.algorithms) = 0 THEN
        RAISE EXCEPTION 'algorithms must name at least one algorithm' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use a subset of {logistic_regression,mlp,gbdt}.';
    END IF;
    FOREACH candidate IN ARRAY compare.algorithms LOOP
        IF candidate IS NULL OR candidate NOT IN ('logistic_regression', 'mlp', 'gbdt') THEN
            RAISE EXCEPTION 'unknown algorithm "%"', candidate USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Use a subset of {logistic_regression,mlp,gbdt}.';
        END IF;
    END LOOP;
    -- Every algorithm: the same rows, the same featurizer version (fitted once, by the first training),
    -- the same seed and so the same validation split.
    FOREACH candidate IN ARRAY compare.algorithms LOOP
        trained := dendrite.train(compare.name, compare.query, compare.label,
                                  algorithm => candidate,
                                  epochs => compare.epochs,
                                  batch_size => compare.batch_size,
                                  class_weight => compare.class_weight,
                                  learning_rate => CASE candidate WHEN 'logistic_regression' THEN 0.01 ELSE 0.001 END,
                                  validation_fraction => compare.validation_fraction,
                                  seed => compare.seed,
                                  featurizer => features,
                                  since => compare.since,
                                  threshold => compare.threshold,
                                  split_column => compare.split_column,
                                  patience => compare.patience,
                                  options => compare.options);
        features := coalesce(features, compare.name);
        RETURN QUERY
            SELECT v.algorithm, v.version, (v.metrics->>'pr_auc')::float8, (v.metrics->>'roc_auc')::float8,
                   (v.metrics->>'recall_at_precision_90')::float8, (v.metrics->>'precision')::float8,
                   (v.metrics->>'recall')::float8, v.threshold, v.seconds, (v.metrics->>'score_us_per_row')::float8
              FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
             WHERE m.name = compare.name AND v.version = trained.version;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dendrite.compare IS 'trains each algorithm as a version of one model on the same rows, featurizer and split, and returns a leaderboard judged on fraud metrics';

CREATE FUNCTION dendrite.training_progress()
RETURNS TABLE (pid int, model text, algorithm text, epoch int, epochs int, loss float8, pr_auc float8,
               rows bigint, started_at timestamptz, updated_at timestamptz)
AS 'MODULE_PATHNAME', 'dendrite_training_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION dendrite.training_progress IS 'the trainings in progress in any session: model, epoch so far, loss and validation PR-AUC';

CREATE VIEW dendrite.training_progress AS SELECT * FROM dendrite.training_progress();
COMMENT ON VIEW dendrite.training_progress IS 'the trainings in progress in any session (epochs: boosting rounds for gbdt)';
