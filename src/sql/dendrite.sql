-- dendrite: train neural networks and gradient-boosted trees over queries, store their parameters as rows,
-- score rows inline. The current version's whole SQL surface, hand-edited: the Makefile installs it as
-- dendrite--<default_version>.sql. An older database reaches the same objects through the frozen upgrade
-- scripts dendrite--A--B.sql (tests/e2e/upgrade.sh proves the two identical).
\echo Use "CREATE EXTENSION dendrite" to load this file. \quit

--------------------------------------------------------------------------------------------------------
-- Roles
--------------------------------------------------------------------------------------------------------
-- dendrite_scorer scores and reads models' metadata, dendrite_trainer (a scorer) trains and manages what it
-- owns, dendrite_admin (a trainer) manages everything. Roles belong to the cluster: a second database reuses
-- them, DROP EXTENSION leaves them.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dendrite_scorer') THEN
        CREATE ROLE dendrite_scorer NOLOGIN;
        COMMENT ON ROLE dendrite_scorer IS 'dendrite: may score with any model, create guard triggers and read models'' metadata and metrics';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dendrite_trainer') THEN
        CREATE ROLE dendrite_trainer NOLOGIN;
        COMMENT ON ROLE dendrite_trainer IS 'dendrite: a scorer that may also train models and featurizers, and deploy, roll back, drop and read the parameters of those it owns';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dendrite_admin') THEN
        CREATE ROLE dendrite_admin NOLOGIN;
        COMMENT ON ROLE dendrite_admin IS 'dendrite: a trainer that may manage every model and featurizer';
    END IF;
    IF NOT pg_catalog.pg_has_role('dendrite_trainer', 'dendrite_scorer', 'MEMBER') THEN
        GRANT dendrite_scorer TO dendrite_trainer;
    END IF;
    IF NOT pg_catalog.pg_has_role('dendrite_admin', 'dendrite_trainer', 'MEMBER') THEN
        GRANT dendrite_trainer TO dendrite_admin;
    END IF;
END
$roles$;

--------------------------------------------------------------------------------------------------------
-- Catalog: every table is registered with pg_extension_config_dump, so pg_dump keeps models
--------------------------------------------------------------------------------------------------------
CREATE TABLE dendrite.models (
    model_id      bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    task          text NOT NULL DEFAULT 'binary_classification' CHECK (task = 'binary_classification'),
    configuration jsonb NOT NULL,  -- the architecture as code, e.g. {"layers": [{"dense": 64, "activation": "relu"}, ...]}
    owner         name NOT NULL DEFAULT current_user,
    created_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE dendrite.models IS 'one row per named model; its versions are in dendrite.model_versions';

-- Featurizers turn raw columns (and entity history) into the feature vector a model eats. Every fitted
-- number is a row: per input column in dendrite.feature_columns, per category in
-- dendrite.feature_categories, per history output in dendrite.feature_history. A model version pins the
-- featurizer version it was trained with.
CREATE TABLE dendrite.featurizers (
    featurizer_id bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (name <> ''),
    version       int NOT NULL,
    query         text NOT NULL,   -- the rows it was fitted on
    history_query text,            -- the rows that build inline history state (NULL: query)
    spec          jsonb NOT NULL,  -- the resolved spec: every column's kind and options, history declarations
    input_columns text[] NOT NULL,
    input_types   text[] NOT NULL, -- type class of each input when fitted: number, integer, boolean, text, inet, and for times
                                   -- the type itself ('timestamp without time zone', 'timestamp with time zone', 'date';
                                   -- 'timestamp' as 0.5.0 and earlier stored for any of them)
    output_names  text[] NOT NULL,
    rows          bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version),
    owner         name NOT NULL DEFAULT current_user,
    search_path   text
);

COMMENT ON TABLE dendrite.featurizers IS 'fitted featurizers, versioned; a refit adds a version and old versions stay usable';

CREATE TABLE dendrite.feature_columns (
    featurizer_id     bigint NOT NULL REFERENCES dendrite.featurizers ON DELETE CASCADE,
    ordinal           int NOT NULL,  -- 1-based position among the featurizer's feature columns
    column_name       text NOT NULL,
    kind              text NOT NULL, -- numeric, boolean, categorical, timestamp, inet
    missing_indicator bool NOT NULL,
    center            float8 NOT NULL,  -- numeric: (transform(x) - center) / scale
    scale             float8 NOT NULL,
    impute            float8 NOT NULL,  -- the output for a NULL
    unseen_value      float8 NOT NULL,  -- frequency / target encoding of an unseen category
    outputs           int NOT NULL,
    PRIMARY KEY (featurizer_id, ordinal)
);

COMMENT ON TABLE dendrite.feature_columns IS 'per featurizer version and feature column: its fitted statistics';

CREATE TABLE dendrite.feature_categories (
    featurizer_id bigint NOT NULL REFERENCES dendrite.featurizers ON DELETE CASCADE,
    ordinal       int NOT NULL,  -- the feature column (dendrite.feature_columns.ordinal)
    rank          int NOT NULL,  -- 1 = most frequent
    category      text NOT NULL,
    value         float8,        -- frequency or smoothed target mean; NULL for one-hot
    PRIMARY KEY (featurizer_id, ordinal, rank)
);

COMMENT ON TABLE dendrite.feature_categories IS 'the vocabulary of each categorical column (one-hot: the top-K, the rest is "other")';

CREATE TABLE dendrite.feature_history (
    featurizer_id bigint NOT NULL REFERENCES dendrite.featurizers ON DELETE CASCADE,
    ordinal       int NOT NULL,
    output_name   text NOT NULL,
    center        float8 NOT NULL,
    scale         float8 NOT NULL,
    PRIMARY KEY (featurizer_id, ordinal)
);

COMMENT ON TABLE dendrite.feature_history IS 'standardization of each entity-history output, fitted in the same pass';

CREATE TABLE dendrite.model_versions (
    version_id      bigserial PRIMARY KEY,
    model_id        bigint NOT NULL REFERENCES dendrite.models ON DELETE CASCADE,
    version         int NOT NULL,
    featurizer_id   bigint NOT NULL REFERENCES dendrite.featurizers,
    trained_at      timestamptz NOT NULL DEFAULT now(),
    trained_by      name NOT NULL DEFAULT current_user,
    training_query  text NOT NULL,
    label_column    text,            -- NULL: an autoencoder trained without labels
    algorithm       text NOT NULL,
    configuration   jsonb NOT NULL,  -- the architecture this version was trained with
    hyperparameters jsonb NOT NULL,
    metrics         jsonb NOT NULL,  -- the final epoch's validation metrics
    threshold       float8 NOT NULL, -- the decision threshold (max F1 on the validation rows)
    device          text NOT NULL,
    training_rows   bigint NOT NULL,
    validation_rows bigint NOT NULL,
    seconds         float8 NOT NULL,
    status          text NOT NULL DEFAULT 'trained' CHECK (status IN ('trained', 'deployed', 'retired')),
    UNIQUE (model_id, version),
    search_path     text
);

COMMENT ON TABLE dendrite.model_versions IS 'one row per training run of a model; parameters in dendrite.parameters, per-epoch metrics in dendrite.epochs';

CREATE TABLE dendrite.parameters (
    version_id  bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    layer_index int NOT NULL,   -- 0-based position of the layer in the network
    layer       text NOT NULL,  -- dense_0, dense_1, ...
    name        text NOT NULL,  -- kernel | bias
    shape       int[] NOT NULL, -- kernel: {inputs, units} (row-major); bias: {units}
    value       real[] NOT NULL,
    PRIMARY KEY (version_id, layer, name)
);

COMMENT ON TABLE dendrite.parameters IS 'one row per named tensor of a network version (kernel, bias; norm_scale, norm_shift with layer normalization); rows of a version are immutable';

CREATE TABLE dendrite.epochs (
    version_id      bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    epoch           int NOT NULL,
    loss            float8 NOT NULL,
    validation_loss float8 NOT NULL,
    precision       float8,  -- precision .. fn: NULL for an autoencoder trained without labels
    recall          float8,
    f1              float8,
    pr_auc          float8,
    roc_auc         float8,
    tp              bigint,
    fp              bigint,
    tn              bigint,
    fn              bigint,
    threshold       float8 NOT NULL,
    seconds         float8 NOT NULL,
    PRIMARY KEY (version_id, epoch)
);

COMMENT ON TABLE dendrite.epochs IS 'per training run and epoch: losses and validation metrics at that epoch''s max-F1 threshold';

-- Deployment: which version of a model scores (dendrite.score, dendrite.predict, dendrite.score_query and
-- the guard triggers). Every deploy and rollback is a row; the newest row of a model is what serves. A
-- model that was never deployed serves its latest version.
CREATE TABLE dendrite.deployments (
    deployment_id bigserial PRIMARY KEY,
    model_id      bigint NOT NULL REFERENCES dendrite.models ON DELETE CASCADE,
    version_id    bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    action        text NOT NULL CHECK (action IN ('deploy', 'rollback')),
    strategy      text,            -- deploy: 'version', 'latest' or 'best:<metric>'
    replaces      bigint REFERENCES dendrite.deployments ON DELETE SET NULL,  -- the deployment this one replaced (what a rollback returns to)
    deployed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    deployed_by   name NOT NULL DEFAULT current_user
);

COMMENT ON TABLE dendrite.deployments IS 'every deploy and rollback of a model; the newest row of a model names the version that scores';

CREATE INDEX ON dendrite.deployments (model_id, deployment_id);

-- Decisions of the guard triggers that log ('log' action): the feedback loop joins outcomes to these.
CREATE TABLE dendrite.predictions (
    version_id   bigint NOT NULL,  -- no foreign key: see internal_forget_predictions
    table_name   text NOT NULL,   -- the guarded table, schema-qualified
    row_key      text,            -- the guarded row's key column, as text (NULL when the table has none)
    score        float8 NOT NULL,
    threshold    float8 NOT NULL,
    decision     text NOT NULL CHECK (decision IN ('pass', 'flag')),
    predicted_at timestamptz NOT NULL DEFAULT now(),
    reasons      jsonb,           -- 'log,reasons': the top reasons of a flagged row (dendrite.explain's columns)
    shadow       boolean NOT NULL DEFAULT false  -- 'shadow:N': a shadow version's decision, logged and never acted on
);

COMMENT ON TABLE dendrite.predictions IS 'decisions logged by dendrite.guard and dendrite.guard_batch (rejected rows are not: their transaction is rolled back)';

CREATE INDEX ON dendrite.predictions (table_name, row_key);

SELECT pg_catalog.pg_extension_config_dump('dendrite.models', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.models_model_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.featurizers', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.featurizers_featurizer_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.feature_columns', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.feature_categories', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.feature_history', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.model_versions', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.model_versions_version_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.parameters', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.epochs', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.deployments', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.deployments_deployment_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.predictions', '');

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
    cover        real[],            -- per node: the training rows' hessian sum reaching it (explain); NULL before 0.6.0
    PRIMARY KEY (version_id, tree_index)
);

COMMENT ON TABLE dendrite.trees IS 'the trees of a gbdt version (score = sigmoid(base_margin + the leaves reached), base_margin in model_versions.configuration) or of a blend (beside its network''s dendrite.parameters rows)';

SELECT pg_catalog.pg_extension_config_dump('dendrite.trees', '');

COMMENT ON COLUMN dendrite.featurizers.owner IS 'the role that created the featurizer''s first version; only its members (and dendrite_admin) may refit or drop it';

COMMENT ON COLUMN dendrite.models.owner IS 'the role that first trained the model; only its members (and dendrite_admin) may retrain, deploy, roll back or drop it';

CREATE TABLE dendrite.outcomes (
    table_name  text NOT NULL,   -- as in dendrite.predictions: the guarded table, schema-qualified and quoted
    row_key     text NOT NULL,   -- the row's key, as the guard logged it
    is_fraud    boolean NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by name NOT NULL DEFAULT current_user,
    PRIMARY KEY (table_name, row_key)
);

COMMENT ON TABLE dendrite.outcomes IS 'confirmed fraud or legitimate, per guarded row (the labels that dendrite.model_health joins to dendrite.predictions)';

SELECT pg_catalog.pg_extension_config_dump('dendrite.outcomes', '');

-- model_health reads a model's decisions of a recent window: without this index it scans the whole log.
CREATE INDEX predictions_version_time ON dendrite.predictions (version_id, predicted_at);

CREATE TABLE dendrite.validation_curves (
    version_id          bigint PRIMARY KEY REFERENCES dendrite.model_versions ON DELETE CASCADE,
    thresholds          real[] NOT NULL,  -- descending; a score >= threshold is flagged
    precision           real[] NOT NULL,
    recall              real[] NOT NULL,  -- also the ROC curve's true-positive rate
    false_positive_rate real[] NOT NULL
);

COMMENT ON TABLE dendrite.validation_curves IS 'per version: the PR and ROC curves of the kept epoch on the validation rows, thinned to steps of 0.005';

SELECT pg_catalog.pg_extension_config_dump('dendrite.validation_curves', '');

CREATE TABLE dendrite.validation_importance (
    version_id            bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    rank                  int NOT NULL,     -- 1: the largest
    feature               text NOT NULL,    -- dendrite.explain's: a column, or history:<declaration>
    input                 text NOT NULL,    -- the column it reads (a history declaration: its entity)
    mean_abs_contribution float8 NOT NULL,  -- to the logit, on the rows below
    rows                  int NOT NULL,     -- the evaluation rows it was measured on (at most 2,000)
    PRIMARY KEY (version_id, rank)
);

COMMENT ON TABLE dendrite.validation_importance IS 'per version and input: its mean absolute contribution to the logit (dendrite.explain''s) on the rows its metrics came from, measured at training; the report''s importance chart';

SELECT pg_catalog.pg_extension_config_dump('dendrite.validation_importance', '');

CREATE TABLE dendrite.feature_baselines (
    version_id    bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    feature_index int NOT NULL,       -- 0-based, in dendrite.feature_names order
    feature       text NOT NULL,
    mean          float8 NOT NULL,
    stddev        float8 NOT NULL,
    edges         real[] NOT NULL,    -- the distinct interior deciles on the training rows (at most 10 distinct values: each but the smallest)
    fractions     float8[] NOT NULL,  -- the training rows' share of each bin (one more than edges)
    PRIMARY KEY (version_id, feature_index)
);

COMMENT ON TABLE dendrite.feature_baselines IS 'per version and feature: its distribution on the training rows, the baseline of dendrite.feature_drift';

SELECT pg_catalog.pg_extension_config_dump('dendrite.feature_baselines', '');

CREATE TABLE dendrite.retrainings (
    retraining_id         bigserial PRIMARY KEY,
    model_id              bigint NOT NULL REFERENCES dendrite.models ON DELETE CASCADE,
    champion_version_id   bigint REFERENCES dendrite.model_versions ON DELETE SET NULL,
    challenger_version_id bigint REFERENCES dendrite.model_versions ON DELETE SET NULL,
    promote               text NOT NULL CHECK (promote IN ('manual', 'always', 'if_better')),
    evaluation_query      text,
    evaluation_rows       bigint,
    evaluation_positives  bigint,
    champion_pr_auc       float8,  -- on the evaluation rows (NULL: no evaluation, or one class)
    challenger_pr_auc     float8,
    promoted              boolean NOT NULL,
    decision              text NOT NULL,
    started_at            timestamptz NOT NULL,
    finished_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_by                name NOT NULL
);

COMMENT ON TABLE dendrite.retrainings IS 'every dendrite.retrain run: the champion and the challenger, their PR-AUC on the evaluation rows, and whether the challenger was deployed';

CREATE INDEX ON dendrite.retrainings (model_id, retraining_id);

SELECT pg_catalog.pg_extension_config_dump('dendrite.retrainings', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.retrainings_retraining_id_seq', '');

CREATE TABLE dendrite.tuning_trials (
    tuning_id   bigint NOT NULL,                 -- one dendrite.tune call
    model_id    bigint NOT NULL REFERENCES dendrite.models ON DELETE CASCADE,
    trial       int NOT NULL,                    -- 1: train's defaults; the others sampled from the search space
    algorithm   text NOT NULL,
    settings    jsonb NOT NULL,                  -- train's arguments (and options) this trial set
    rung        int NOT NULL,                    -- the last successive-halving rung it reached (0: the first)
    time_column text NOT NULL,
    fold_starts timestamp[] NOT NULL,            -- each fold's assessment window starts here, oldest first
    fold_length interval NOT NULL,               -- and lasts this long; its model trained on the rows before
    gap         interval NOT NULL,               -- its start less this gap
    fold_pr_auc float8[] NOT NULL,               -- per fold, oldest first (NULL: not assessed, or one class)
    mean_pr_auc float8,                          -- over the folds assessed
    seconds     float8 NOT NULL,                 -- training, summed over its folds
    failure     text,                            -- why a fold's training failed (it diverged): ranked last
    best        boolean NOT NULL,
    version_id  bigint REFERENCES dendrite.model_versions ON DELETE SET NULL,  -- the best: trained on every row
    tuned_at    timestamptz NOT NULL DEFAULT now(),
    tuned_by    name NOT NULL,
    PRIMARY KEY (tuning_id, trial)
);

COMMENT ON TABLE dendrite.tuning_trials IS 'every trial of every dendrite.tune call: its settings, its PR-AUC on each prequential time fold, its training seconds, and which was best (trained on every row as a new version)';

CREATE SEQUENCE dendrite.tuning_trials_tuning_id_seq;

CREATE INDEX ON dendrite.tuning_trials (model_id, tuning_id);

SELECT pg_catalog.pg_extension_config_dump('dendrite.tuning_trials', '');

SELECT pg_catalog.pg_extension_config_dump('dendrite.tuning_trials_tuning_id_seq', '');

COMMENT ON COLUMN dendrite.featurizers.search_path IS 'the search_path its query and history_query run with, as its owner (NULL: "$user", public)';

COMMENT ON COLUMN dendrite.model_versions.search_path IS 'the search_path its training_query runs with when retrain reuses it, as the model''s owner (NULL: "$user", public)';

--------------------------------------------------------------------------------------------------------
-- Result types
--------------------------------------------------------------------------------------------------------
CREATE TYPE dendrite.training_result AS (
    version         int,
    epochs          int,
    loss            float8,
    validation_loss float8,
    precision       float8,
    recall          float8,
    f1              float8,
    pr_auc          float8,
    roc_auc         float8,
    tp              bigint,
    fp              bigint,
    tn              bigint,
    fn              bigint,
    threshold       float8,
    seconds         float8,
    device          text,
    best_epoch      int
);

CREATE TYPE dendrite.retraining_result AS (
    retraining_id      bigint,
    champion_version   int,
    challenger_version int,
    champion_pr_auc    float8,
    challenger_pr_auc  float8,
    evaluation_rows    bigint,
    promoted           boolean,
    decision           text,
    serving_version    int
);

--------------------------------------------------------------------------------------------------------
-- Which version serves a model
--------------------------------------------------------------------------------------------------------
-- Backends cache which version serves each model; a change to these tables (by any session, by hand or
-- by pg_restore) tells every backend to forget that cache at its next statement.
CREATE FUNCTION dendrite.catalog_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_catalog_changed'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.catalog_changed IS 'internal: invalidates every backend''s cache of serving versions, and has it check the rows it keeps of versions and featurizers';

-- The version that serves a model: the newest deployment's, or the latest version when never deployed.
CREATE FUNCTION dendrite.serving_version(model text, OUT version_id bigint, OUT version int, OUT deployed bool)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT v.version_id, v.version, d.version_id IS NOT NULL
      FROM dendrite.models m
      LEFT JOIN LATERAL (SELECT d.version_id FROM dendrite.deployments d WHERE d.model_id = m.model_id
                          ORDER BY d.deployment_id DESC LIMIT 1) d ON true
      JOIN dendrite.model_versions v ON v.model_id = m.model_id AND (v.version_id = d.version_id OR d.version_id IS NULL)
     WHERE m.name = $1
     ORDER BY v.version DESC LIMIT 1
$$;
COMMENT ON FUNCTION dendrite.serving_version IS 'the version of a model that scores: the deployed one, or the latest when the model was never deployed';

--------------------------------------------------------------------------------------------------------
-- Featurizers
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.create_featurizer(
    name          text,
    query         text,
    columns       jsonb     DEFAULT NULL,
    history       jsonb     DEFAULT NULL,
    label         text      DEFAULT NULL,
    nonfinite     text      DEFAULT 'error',
    since         timestamp DEFAULT NULL,
    history_query text      DEFAULT NULL,
    derived       jsonb     DEFAULT NULL,
    anomaly       jsonb     DEFAULT NULL
) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_create_featurizer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.create_featurizer IS 'fits a new version of a featurizer on the rows of a query and stores what it learned as rows; returns the version';

CREATE FUNCTION dendrite.features(featurizer text, "row" anyelement) RETURNS real[]
AS 'MODULE_PATHNAME', 'dendrite_features'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.features IS 'the feature vector of a row under the latest version of a featurizer (history features from the inline state: this backend''s, with the rows other sessions'' guards committed)';

CREATE FUNCTION dendrite.observe(featurizer text, "row" anyelement) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_observe'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.observe IS 'adds a row to this backend''s inline history state of a featurizer (not shared with other sessions)';

CREATE FUNCTION dendrite.featurize(featurizer text, query text, key text DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (key text, features real[])
AS 'MODULE_PATHNAME', 'dendrite_featurize'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.featurize IS 'the feature vectors of every row of a query, in one ordered pass; rows before since only build history';

CREATE FUNCTION dendrite.feature_names(name text) RETURNS text[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT f.output_names
           FROM dendrite.models m
           JOIN dendrite.model_versions v USING (model_id)
           JOIN dendrite.featurizers f USING (featurizer_id)
          WHERE v.version_id = (SELECT version_id FROM dendrite.serving_version($1))),
        (SELECT output_names FROM dendrite.featurizers WHERE name = $1 ORDER BY version DESC LIMIT 1))
$$;
COMMENT ON FUNCTION dendrite.feature_names IS 'the names of the features of a model''s serving version (or of a featurizer''s latest version), in the order dendrite.predict expects';

-- caller: unused, the signature every internal_ function has.
CREATE FUNCTION dendrite.internal_drop_featurizer(name text, caller name) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM dendrite.model_versions v JOIN dendrite.featurizers f USING (featurizer_id) WHERE f.name = internal_drop_featurizer.name) THEN
        RAISE EXCEPTION 'featurizer "%" is used by trained models', internal_drop_featurizer.name
            USING ERRCODE = 'dependent_objects_still_exist', HINT = 'Drop those models first.';
    END IF;
    DELETE FROM dendrite.featurizers f WHERE f.name = internal_drop_featurizer.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'featurizer "%" does not exist', internal_drop_featurizer.name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION dendrite.internal_drop_featurizer IS 'internal: the body of dendrite.drop_featurizer, run as the extension owner once the caller is known to manage the featurizer';

CREATE FUNCTION dendrite.drop_featurizer(name text) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_manage_featurizer'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.drop_featurizer IS 'drops every version of a featurizer that no trained model uses';

--------------------------------------------------------------------------------------------------------
-- Training
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.train(
    model               text,
    query               text,
    label               text,
    algorithm           text    DEFAULT 'mlp',
    hidden              int[]   DEFAULT NULL,  -- {64,32}; an autoencoder's {64,16,64}
    activation          text    DEFAULT 'relu',
    epochs              int     DEFAULT 20,
    batch_size          int     DEFAULT 256,
    learning_rate       float8  DEFAULT 0.001,
    optimizer           text    DEFAULT 'adam',
    class_weight        text    DEFAULT 'none',
    validation_fraction float8  DEFAULT 0.2,
    seed                bigint  DEFAULT 42,
    device              text    DEFAULT 'auto',
    featurizer          text    DEFAULT NULL,
    since               timestamp DEFAULT NULL,
    dropout             float8  DEFAULT 0,
    layer_norm          boolean DEFAULT false,
    loss                text    DEFAULT 'bce',
    threshold           text    DEFAULT NULL,  -- 'f1'; an autoencoder's without labels 'rate:0.01'
    split_column        text    DEFAULT NULL,
    patience            int     DEFAULT 0,
    options             jsonb   DEFAULT '{}'
) RETURNS dendrite.training_result
AS 'MODULE_PATHNAME', 'dendrite_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.train(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint,
                                   text, text, timestamp, float8, boolean, text, text, text, int, jsonb)
    IS 'trains a new version of a model on the rows of a query (NULL: the serving version''s stored query, run as the model''s owner), featurized by the named featurizer (or one fitted on the query), and stores its parameters as rows; algorithm => ''blend'' trains an mlp and gbdt on the same rows and scores the sigmoid of their logits'' weighted mean (options network_weight, 0.3); algorithm => ''autoencoder'' learns without a label and scores how unusual a row is';

CREATE FUNCTION dendrite.compare(
    name                text,
    query               text,
    label               text,
    algorithms          text[]  DEFAULT '{logistic_regression,mlp,gbdt,blend}',
    epochs              int     DEFAULT 20,
    batch_size          int     DEFAULT 256,
    class_weight        text    DEFAULT 'none',
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
    score_us_per_row       float8,
    winner                 boolean
)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the query is the caller's and runs with the caller's path and rights, as in train.
AS $$
DECLARE
    candidate pg_catalog.text;
    trained   dendrite.training_result;
    features  pg_catalog.text := compare.featurizer;
    split     pg_catalog.text := compare.split_column;
    versions  pg_catalog.int4[] := '{}';
BEGIN
    PERFORM dendrite.internal_compare_check(compare.algorithms);
    -- Fraud drifts: a featurizer with a time column ranks on the latest rows, never on a random share.
    -- (Catalog reads and ranking are in internal functions with a pinned search_path: this one runs in the
    -- caller's, whose operators must not see dendrite's rows.)
    IF split IS NULL AND features IS NOT NULL THEN
        split := dendrite.internal_compare_time_column(features);
    END IF;
    -- Every algorithm: the same rows, the same featurizer version (fitted once, by the first training),
    -- the same seed and so the same validation split.
    FOREACH candidate IN ARRAY compare.algorithms LOOP
        trained := dendrite.train(compare.name, compare.query, compare.label,
                                  algorithm => candidate,
                                  epochs => compare.epochs,
                                  batch_size => compare.batch_size,
                                  class_weight => compare.class_weight,
                                  learning_rate => dendrite.internal_compare_learning_rate(candidate),
                                  validation_fraction => compare.validation_fraction,
                                  seed => compare.seed,
                                  featurizer => features,
                                  since => compare.since,
                                  threshold => compare.threshold,
                                  split_column => split,
                                  patience => compare.patience,
                                  options => compare.options);
        features := coalesce(features, compare.name);
        versions := pg_catalog.array_append(versions, trained.version);
    END LOOP;
    RETURN QUERY SELECT * FROM dendrite.internal_compare_leaderboard(compare.name, versions, split,
                                                                    compare.split_column IS NULL,
                                                                    compare.validation_fraction, compare.seed);
END
$$;
COMMENT ON FUNCTION dendrite.compare IS 'trains each algorithm as a version of one model on the same rows, featurizer and split (by the featurizer''s time column when it has one), and returns a leaderboard judged on fraud metrics with its winner (the best validation PR-AUC)';

CREATE FUNCTION dendrite.training_progress()
RETURNS TABLE (pid int, model text, algorithm text, epoch int, epochs int, loss float8, pr_auc float8,
               rows bigint, started_at timestamptz, updated_at timestamptz)
AS 'MODULE_PATHNAME', 'dendrite_training_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION dendrite.training_progress IS 'the trainings in progress in any session: model, epoch so far, loss and validation PR-AUC';

CREATE FUNCTION dendrite.internal_compare_check(algorithms text[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    candidate text;
BEGIN
    IF algorithms IS NULL OR cardinality(algorithms) = 0 THEN
        RAISE EXCEPTION 'algorithms must name at least one algorithm' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use a subset of {logistic_regression,mlp,gbdt,blend}.';
    END IF;
    FOREACH candidate IN ARRAY algorithms LOOP
        IF candidate IS NULL OR candidate NOT IN ('logistic_regression', 'mlp', 'gbdt', 'blend') THEN
            RAISE EXCEPTION 'unknown algorithm "%"', candidate USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Use a subset of {logistic_regression,mlp,gbdt,blend}.';
        END IF;
    END LOOP;
    SELECT a INTO candidate FROM unnest(algorithms) a GROUP BY a HAVING count(*) > 1 ORDER BY a LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'algorithm "%" is named twice', candidate USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'It would be trained twice, with the same settings, and the twins ranked.';
    END IF;
END
$$;
COMMENT ON FUNCTION dendrite.internal_compare_check IS 'internal: compare''s check of its algorithms';

CREATE FUNCTION dendrite.internal_compare_learning_rate(algorithm text) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE algorithm WHEN 'logistic_regression' THEN 0.01 ELSE 0.001 END::float8 $$;
COMMENT ON FUNCTION dendrite.internal_compare_learning_rate IS 'internal: the learning rate compare trains each algorithm with';

CREATE FUNCTION dendrite.internal_compare_time_column(featurizer text) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT f.spec->'history'->0->>'time' FROM dendrite.featurizers f WHERE f.name = $1 ORDER BY f.version DESC LIMIT 1
$$;
COMMENT ON FUNCTION dendrite.internal_compare_time_column IS 'internal: the time column of a featurizer''s latest version (NULL without history), compare''s split';

CREATE FUNCTION dendrite.internal_compare_leaderboard(model text, versions int[], split text, split_chosen boolean,
                                                      validation_fraction float8, seed bigint)
RETURNS TABLE (algorithm text, version int, pr_auc float8, roc_auc float8, recall_at_precision_90 float8,
               "precision" float8, recall float8, decision_threshold float8, train_seconds float8,
               score_us_per_row float8, winner boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    on_training boolean;
BEGIN
    -- The winner: the best validation PR-AUC; none when the metrics come from training rows.
    SELECT bool_or(mv.metrics->>'evaluated_on' = 'training') INTO on_training
      FROM dendrite.model_versions mv JOIN dendrite.models mm ON mm.model_id = mv.model_id
     WHERE mm.name = internal_compare_leaderboard.model AND mv.version = ANY (internal_compare_leaderboard.versions);
    IF on_training THEN
        RAISE NOTICE 'compare has no winner: the metrics of its candidates come from their training rows'
            USING HINT = 'Keep validation rows of both classes (validation_fraction, or split_column for a split by time).';
    ELSE
        RAISE NOTICE 'compare ranked % candidates on validation PR-AUC over %',
            cardinality(internal_compare_leaderboard.versions),
            CASE WHEN internal_compare_leaderboard.split IS NOT NULL
                 THEN format('the last %s %% of the rows by %s (a split in time%s)',
                             round(100 * internal_compare_leaderboard.validation_fraction::numeric, 1),
                             internal_compare_leaderboard.split,
                             CASE WHEN internal_compare_leaderboard.split_chosen THEN ', the featurizer''s time column' ELSE '' END)
                 ELSE format('a random %s %% of the rows, the same share of each class (seed %s)',
                             round(100 * internal_compare_leaderboard.validation_fraction::numeric, 1),
                             internal_compare_leaderboard.seed) END;
    END IF;
    RETURN QUERY
    SELECT r.algorithm, r.version, r.pr_auc, r.roc_auc, r.recall_at_precision_90, r."precision", r.recall,
           r.decision_threshold, r.train_seconds, r.score_us_per_row,
           NOT on_training AND r.version = first_value(r.version) OVER (ORDER BY r.pr_auc DESC NULLS LAST, r.version)
      FROM unnest(internal_compare_leaderboard.versions) WITH ORDINALITY AS u(v, i),
           LATERAL dendrite.internal_compare_row(internal_compare_leaderboard.model, u.v) AS r
     ORDER BY u.i;
END
$$;
COMMENT ON FUNCTION dendrite.internal_compare_leaderboard IS 'internal: compare''s leaderboard with its winner, and the NOTICE of what it ranked on';

CREATE FUNCTION dendrite.internal_compare_row(model text, version int)
RETURNS TABLE (algorithm text, version int, pr_auc float8, roc_auc float8, recall_at_precision_90 float8,
               "precision" float8, recall float8, decision_threshold float8, train_seconds float8,
               score_us_per_row float8)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT v.algorithm, v.version, (v.metrics->>'pr_auc')::float8, (v.metrics->>'roc_auc')::float8,
           (v.metrics->>'recall_at_precision_90')::float8, (v.metrics->>'precision')::float8,
           (v.metrics->>'recall')::float8, v.threshold, v.seconds, (v.metrics->>'score_us_per_row')::float8
      FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE m.name = $1 AND v.version = $2
$$;
COMMENT ON FUNCTION dendrite.internal_compare_row IS 'internal: compare''s leaderboard row of a version';


--------------------------------------------------------------------------------------------------------
-- Tuning: hyperparameters searched on prequential time folds (issue #28)
--------------------------------------------------------------------------------------------------------
-- train's own arguments and defaults (keep the two lists equal: suite tune compares them), for tune to check every
-- candidate's settings as train would before the first trial trains. Reads no row and writes nothing.
CREATE FUNCTION dendrite.internal_check_training_settings(
    model               text,
    query               text,
    label               text,
    algorithm           text    DEFAULT 'mlp',
    hidden              int[]   DEFAULT NULL,
    activation          text    DEFAULT 'relu',
    epochs              int     DEFAULT 20,
    batch_size          int     DEFAULT 256,
    learning_rate       float8  DEFAULT 0.001,
    optimizer           text    DEFAULT 'adam',
    class_weight        text    DEFAULT 'none',
    validation_fraction float8  DEFAULT 0.2,
    seed                bigint  DEFAULT 42,
    device              text    DEFAULT 'auto',
    featurizer          text    DEFAULT NULL,
    since               timestamp DEFAULT NULL,
    dropout             float8  DEFAULT 0,
    layer_norm          boolean DEFAULT false,
    loss                text    DEFAULT 'bce',
    threshold           text    DEFAULT NULL,
    split_column        text    DEFAULT NULL,
    patience            int     DEFAULT 0,
    options             jsonb   DEFAULT '{}'
) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_check_training_settings'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.internal_check_training_settings IS 'internal: the checks dendrite.train makes of its arguments before it reads a row (the same signature), for tune''s candidates';

CREATE FUNCTION dendrite.tune(
    model       text,
    query       text,
    label       text,
    algorithm   text     DEFAULT 'mlp',
    search      jsonb    DEFAULT NULL,
    folds       int      DEFAULT 3,
    trials      int      DEFAULT 12,
    featurizer  text     DEFAULT NULL,
    since       timestamp DEFAULT NULL,
    time_column text     DEFAULT NULL,
    fold_length interval DEFAULT '7 days',
    gap         interval DEFAULT NULL,
    seed        bigint   DEFAULT 42
) RETURNS TABLE (trial int, settings jsonb, rung int, fold_pr_auc float8[], mean_pr_auc float8, seconds float8,
                 best boolean, version int)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the query is the caller's and runs with the caller's path and rights, as in train.
-- So the body uses no operator a caller's schema could stand in for; the logic is in the internal helpers.
AS $$
DECLARE
    plan      record;
    last_time pg_catalog.timestamp;
    current_rung pg_catalog.int4;
    work      record;
    results   pg_catalog.jsonb := '[]';
    trained   dendrite.training_result;
    assessed  pg_catalog.float8;
    winner    pg_catalog.int4;
    tuning    pg_catalog.int8;
    started   pg_catalog.timestamptz;
    failure   pg_catalog.text;
    failure_state  pg_catalog.text;
    failure_detail pg_catalog.text;
    failure_hint   pg_catalog.text;
    candidate pg_catalog.int4;
BEGIN
    SELECT * INTO plan FROM dendrite.internal_tune_plan(tune.model, tune.algorithm, tune.search, tune.folds, tune.trials,
                                                      tune.featurizer, tune.time_column, tune.fold_length, tune.gap,
                                                      tune.seed);
    -- Every candidate's settings as train checks them, before the first trains: a value train refuses (a layer
    -- width of 0, a gbdt option out of range) fails the tune now, not after the trials before it have trained.
    FOR candidate IN 1 .. pg_catalog.cardinality(plan.candidates) LOOP
        BEGIN
            EXECUTE pg_catalog.format('SELECT dendrite.internal_check_training_settings(%L, NULL, %L, algorithm => %L, '
                                      'featurizer => %L, since => %L, seed => %s%s)', plan.scratch, tune.label,
                                      tune.algorithm, tune.featurizer, tune.since, tune.seed,
                                      dendrite.internal_tune_arguments(plan.candidates[candidate]));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, failure_state = RETURNED_SQLSTATE,
                                    failure_detail = PG_EXCEPTION_DETAIL, failure_hint = PG_EXCEPTION_HINT;
            failure_detail := pg_catalog.concat_ws(' ', CASE WHEN failure_detail OPERATOR(pg_catalog.<>) '' THEN failure_detail END,
                                                   pg_catalog.format('Its settings: %s.', plan.candidates[candidate]));
            IF failure_hint IS NULL OR failure_hint OPERATOR(pg_catalog.=) '' THEN
                RAISE EXCEPTION 'tune: trial % of the search cannot train: %', candidate, failure
                    USING ERRCODE = failure_state, DETAIL = failure_detail;
            END IF;
            RAISE EXCEPTION 'tune: trial % of the search cannot train: %', candidate, failure
                USING ERRCODE = failure_state, DETAIL = failure_detail, HINT = failure_hint;
        END;
    END LOOP;
    -- The newest row's time: the folds end there (the caller's query, run with the caller's rights).
    EXECUTE pg_catalog.format('SELECT pg_catalog.max(tune_rows.%I)::pg_catalog.timestamp FROM (%s) tune_rows',
                              plan.fold_time_column, tune.query) INTO last_time;
    -- Successive halving: each rung assesses the survivors of the last on one more of the newest folds.
    FOR current_rung IN SELECT r FROM dendrite.internal_tune_rungs(tune.folds) r LOOP
        FOR work IN SELECT * FROM dendrite.internal_tune_work(results, plan.candidates, tune.folds, current_rung, last_time,
                                                              tune.fold_length, plan.fold_gap, plan.fold_time_column, tune.query,
                                                              tune.since)
        LOOP
            started := pg_catalog.clock_timestamp();
            BEGIN
                EXECUTE pg_catalog.format('SELECT * FROM dendrite.train(%L, %L, %L, algorithm => %L, featurizer => %L, '
                                          'since => %L, seed => %s%s)', plan.scratch, work.train_query, tune.label,
                                          tune.algorithm, tune.featurizer, tune.since, tune.seed, work.arguments) INTO trained;
                -- Assessed on the fold's rows; with history features, the rows before them feed the history.
                IF dendrite.internal_tune_has_history(plan.scratch, trained.version) THEN
                    SELECT e.pr_auc INTO assessed
                      FROM dendrite.evaluate(plan.scratch, work.assess_query, trained.version, tune.label, work.assess_start) e;
                ELSE
                    SELECT e.pr_auc INTO assessed
                      FROM dendrite.evaluate(plan.scratch, work.fold_query, trained.version, tune.label) e;
                END IF;
                results := dendrite.internal_tune_add(results, work.trial, work.fold, assessed, trained.seconds);
            EXCEPTION WHEN SQLSTATE '22000' THEN
                -- A training that diverged says something of its settings (a learning rate too high), not of
                -- the rows: the trial is ranked last and the search goes on. Any other error ends the tune.
                GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT;
                IF pg_catalog.starts_with(failure, 'training diverged') IS NOT TRUE THEN
                    RAISE;
                END IF;
                RAISE NOTICE 'tune: trial % failed on fold % and is ranked last: %', work.trial, work.fold, failure
                    USING DETAIL = pg_catalog.format('Its settings: %s.', plan.candidates[work.trial]);
                results := dendrite.internal_tune_add(results, work.trial, work.fold, NULL,
                    pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started), failure);
            END;
        END LOOP;
    END LOOP;
    PERFORM dendrite.drop_model(plan.scratch);
    -- The best settings (the best mean PR-AUC over every fold), trained on every row as a new version.
    winner := dendrite.internal_tune_best(results, tune.folds);
    IF winner IS NULL THEN
        RAISE EXCEPTION 'every trial of tune failed' USING ERRCODE = 'data_exception',
            DETAIL = dendrite.internal_tune_failures(results),
            HINT = 'Search lower learning rates, or clip gradients with clip_norm.';
    END IF;
    EXECUTE pg_catalog.format('SELECT * FROM dendrite.train(%L, %L, %L, algorithm => %L, featurizer => %L, since => %L, '
                              'seed => %s%s)', tune.model, tune.query, tune.label, tune.algorithm, tune.featurizer,
                              tune.since, tune.seed, dendrite.internal_tune_arguments(plan.candidates[winner]))
       INTO trained;
    tuning := dendrite.record_tuning(tune.model, trained.version, tune.algorithm, plan.candidates, results, tune.folds,
                                     last_time, tune.fold_length, plan.fold_gap, plan.fold_time_column, winner);
    RETURN QUERY SELECT * FROM dendrite.internal_tuning_trials(tuning);  -- a new statement: it sees the rows
END
$$;
COMMENT ON FUNCTION dendrite.tune IS 'searches hyperparameters of an algorithm on prequential time folds (train on the rows before each of the newest weeks, less a gap, assess on that week; rows before since only feed history) by successive halving, records every trial in dendrite.tuning_trials, and trains the best settings on every row as a new version';

CREATE FUNCTION dendrite.internal_tune_plan(model text, algorithm text, search jsonb, folds int, trials int,
    featurizer text, time_column text, fold_length interval, gap interval, seed bigint,
    OUT fold_time_column text, OUT fold_gap interval, OUT candidates jsonb[], OUT scratch text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_name name;
    space jsonb := search;
    combinations jsonb[] := ARRAY['{}'::jsonb];
    entry record;
BEGIN
    IF model IS NULL OR model = '' THEN
        RAISE EXCEPTION 'model must be a non-empty name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT m.owner INTO owner_name FROM dendrite.models m WHERE m.name = internal_tune_plan.model;
    IF FOUND AND NOT dendrite.may_manage(owner_name) THEN
        RAISE EXCEPTION 'must be owner of model "%"', model USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s"; tune trains a new version of it.', owner_name);
    END IF;
    IF algorithm IS NULL OR algorithm NOT IN ('logistic_regression', 'mlp', 'gbdt', 'blend') THEN
        RAISE EXCEPTION 'unknown algorithm "%"', algorithm USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use logistic_regression, mlp, gbdt or blend.';
    END IF;
    IF folds IS NULL OR folds < 1 OR folds > 52 THEN
        RAISE EXCEPTION 'folds must be between 1 and 52, got %', folds USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF trials IS NULL OR trials < 1 OR trials > 500 THEN
        RAISE EXCEPTION 'trials must be between 1 and 500, got %', trials USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF fold_length IS NULL OR fold_length <= interval '0' THEN
        RAISE EXCEPTION 'fold_length must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    fold_gap := coalesce(gap, fold_length);
    IF fold_gap < interval '0' THEN
        RAISE EXCEPTION 'gap must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    fold_time_column := coalesce(time_column, dendrite.internal_compare_time_column(featurizer));
    IF fold_time_column IS NULL THEN
        RAISE EXCEPTION 'tune needs a time column to fold the rows by'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Hyperparameters are chosen on the newest weeks with a model trained on the weeks before them, never on a random share of rows.',
                  HINT = 'Name time_column, or a featurizer whose history declares one.';
    END IF;

    -- The search space: each key a list of values; a key that is not one of train's arguments is an option.
    IF space IS NULL THEN
        space := CASE algorithm
            WHEN 'mlp' THEN '{"hidden": [[32, 16], [64, 32], [128, 64]], "learning_rate": [0.0005, 0.001, 0.003],
                              "epochs": [10, 20, 30], "class_weight": ["balanced", "none"], "dropout": [0, 0.2]}'
            WHEN 'logistic_regression' THEN '{"learning_rate": [0.003, 0.01, 0.03], "epochs": [10, 20, 40],
                                              "class_weight": ["balanced", "none"]}'
            WHEN 'blend' THEN '{"network_weight": [0.25, 0.5, 0.75], "epochs": [10, 20], "max_depth": [4, 6]}'
            ELSE '{"max_depth": [4, 6, 8], "eta": [0.05, 0.1, 0.2], "rounds": [100, 300],
                   "subsample": [0.8, 1.0], "colsample_bytree": [0.8, 1.0]}' END::jsonb;
    END IF;
    IF jsonb_typeof(space) <> 'object' THEN
        RAISE EXCEPTION 'search must be a JSON object of lists of values' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'As in {"hidden": [[64, 32], [128, 64]], "learning_rate": [0.001, 0.003]}.';
    END IF;
    FOR entry IN SELECT e.key, e.value FROM jsonb_each(space) e ORDER BY e.key LOOP
        IF entry.key IN ('algorithm', 'seed', 'featurizer', 'since', 'device', 'options', 'model', 'query', 'label') THEN
            RAISE EXCEPTION 'search cannot vary "%"', entry.key USING ERRCODE = 'invalid_parameter_value',
                HINT = 'It is an argument of tune itself (or, for options, give their keys directly).';
        END IF;
        IF jsonb_typeof(entry.value) <> 'array' OR jsonb_array_length(entry.value) = 0 THEN
            RAISE EXCEPTION 'search key "%" must list its values', entry.key USING ERRCODE = 'invalid_parameter_value',
                HINT = format('As in {"%s": [...]}.', entry.key);
        END IF;
        combinations := ARRAY(SELECT c.c || jsonb_build_object(entry.key, v.value)
                                FROM unnest(combinations) WITH ORDINALITY c(c, i),
                                     jsonb_array_elements(entry.value) WITH ORDINALITY v(value, j)
                               ORDER BY c.i, v.j);
        IF cardinality(combinations) > 100000 THEN
            RAISE EXCEPTION 'the search space has more than 100000 combinations' USING ERRCODE = 'program_limit_exceeded';
        END IF;
    END LOOP;
    -- Trial 1 is train's defaults (what tuning is measured against); the others a sample of the space,
    -- the same for the same seed.
    candidates := ARRAY['{}'::jsonb] || ARRAY(
        SELECT c.c FROM unnest(combinations) WITH ORDINALITY c(c, i)
         WHERE c.c <> '{}'::jsonb
         ORDER BY md5(seed::text || ':' || c.i::text), c.i
         LIMIT trials - 1);
    scratch := format('%s (tuning %s)', model, pg_backend_pid());
END
$$;
COMMENT ON FUNCTION dendrite.internal_tune_plan IS 'internal: tune''s checks, time column, gap, candidate settings and scratch model name';

CREATE FUNCTION dendrite.internal_tune_arguments(settings jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arguments text := '';
    options jsonb := '{}';
    entry record;
    argument_type text;
BEGIN
    FOR entry IN SELECT e.key, e.value FROM jsonb_each(settings) e ORDER BY e.key LOOP
        argument_type := CASE entry.key
            WHEN 'hidden' THEN 'pg_catalog.int4[]'
            WHEN 'epochs' THEN 'pg_catalog.int4' WHEN 'batch_size' THEN 'pg_catalog.int4' WHEN 'patience' THEN 'pg_catalog.int4'
            WHEN 'learning_rate' THEN 'pg_catalog.float8' WHEN 'validation_fraction' THEN 'pg_catalog.float8'
            WHEN 'dropout' THEN 'pg_catalog.float8'
            WHEN 'layer_norm' THEN 'pg_catalog.bool'
            WHEN 'activation' THEN 'pg_catalog.text' WHEN 'optimizer' THEN 'pg_catalog.text'
            WHEN 'class_weight' THEN 'pg_catalog.text' WHEN 'loss' THEN 'pg_catalog.text'
            WHEN 'threshold' THEN 'pg_catalog.text' WHEN 'split_column' THEN 'pg_catalog.text' END;
        IF argument_type IS NULL THEN
            options := options || jsonb_build_object(entry.key, entry.value);
        ELSIF entry.key = 'hidden' THEN
            IF jsonb_typeof(entry.value) <> 'array' THEN
                RAISE EXCEPTION 'search key "hidden" lists layer widths, as in [[64, 32], [128, 64]]'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            arguments := arguments || format(', hidden => %L::%s',
                '{' || (SELECT string_agg(w.value, ',' ORDER BY w.i)
                          FROM jsonb_array_elements_text(entry.value) WITH ORDINALITY w(value, i)) || '}', argument_type);
        ELSE
            arguments := arguments || format(', %I => %L::%s', entry.key, entry.value #>> '{}', argument_type);
        END IF;
    END LOOP;
    IF options <> '{}' THEN
        arguments := arguments || format(', options => %L::pg_catalog.jsonb', options);
    END IF;
    RETURN arguments;
END
$$;
COMMENT ON FUNCTION dendrite.internal_tune_arguments IS 'internal: a trial''s settings as dendrite.train''s named arguments (keys that are not arguments go into options)';

CREATE FUNCTION dendrite.internal_tune_rungs(folds int) RETURNS SETOF int
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT generate_series(0, folds - 1) $$;
COMMENT ON FUNCTION dendrite.internal_tune_rungs IS 'internal: tune''s successive-halving rungs (rung r assesses on the r + 1 newest folds)';

CREATE FUNCTION dendrite.internal_tune_add(results jsonb, trial int, fold int, pr_auc float8, seconds float8,
                                           failure text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT results || jsonb_build_array(jsonb_build_object('trial', trial, 'fold', fold, 'pr_auc', pr_auc,
                                                             'seconds', seconds)
                                          || CASE WHEN failure IS NULL THEN '{}'::jsonb
                                                  ELSE jsonb_build_object('failure', failure) END) $$;
COMMENT ON FUNCTION dendrite.internal_tune_add IS 'internal: tune''s results with one more trained and assessed fold (or one whose training failed: failure says why)';

CREATE FUNCTION dendrite.internal_tune_failures(results jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(format('Trial %s, fold %s: %s.', r->>'trial', r->>'fold', r->>'failure'), ' '
                      ORDER BY (r->>'trial')::int, (r->>'fold')::int)
      FROM jsonb_array_elements(results) r WHERE r ? 'failure'
$$;
COMMENT ON FUNCTION dendrite.internal_tune_failures IS 'internal: the failed trainings among tune''s results, for a message';

-- Per trial, the mean PR-AUC over the given folds it was assessed on (NULL: none of them has both classes, or
-- the training failed on one).
CREATE FUNCTION dendrite.internal_tune_means(results jsonb, fold_set int[])
RETURNS TABLE (trial int, assessed int, mean_pr_auc float8)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (r->>'trial')::int, count(*)::int,
           CASE WHEN bool_or(r ? 'failure') THEN NULL ELSE avg((r->>'pr_auc')::float8) END
      FROM jsonb_array_elements(results) r
     WHERE (r->>'fold')::int = ANY (fold_set)
     GROUP BY 1
$$;
COMMENT ON FUNCTION dendrite.internal_tune_means IS 'internal: tune''s mean PR-AUC of each trial over a set of folds';

-- The folds a rung assesses on: the rung + 1 newest (fold 1 the oldest).
CREATE FUNCTION dendrite.internal_tune_fold_set(folds int, rung int) RETURNS int[]
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT array_agg(f ORDER BY f) FROM generate_series(greatest(1, folds - rung), folds) f $$;
COMMENT ON FUNCTION dendrite.internal_tune_fold_set IS 'internal: the folds a rung of tune assesses on';

CREATE FUNCTION dendrite.internal_tune_work(results jsonb, candidates jsonb[], folds int, rung int,
    last_time timestamp, fold_length interval, gap interval, time_column text, query text, since timestamp)
RETURNS TABLE (trial int, fold int, train_query text, assess_query text, fold_query text, assess_start timestamp,
               arguments text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    survivors int[] := ARRAY(SELECT generate_series(1, cardinality(candidates)));
    r int;
    fold_set int[];
    -- The folds end at the newest row (inclusive): fold f of F is assessed on [end - (F - f + 1) L, end - (F - f) L).
    ending timestamp := last_time + interval '1 microsecond';
BEGIN
    IF last_time IS NULL THEN
        RAISE EXCEPTION 'the query returned no rows with a time to fold them by' USING ERRCODE = 'data_exception';
    END IF;
    IF since IS NOT NULL AND ending - folds * fold_length - gap <= since THEN
        RAISE EXCEPTION 'since leaves the oldest fold no rows to train on' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Fold 1 trains on the rows from %s to %s.', since, ending - folds * fold_length - gap),
            HINT = 'Start since earlier, or use fewer or shorter folds.';
    END IF;
    -- Each rung keeps the best third (at least one) of the survivors of the last, ranked on its folds.
    FOR r IN 0 .. rung - 1 LOOP
        fold_set := dendrite.internal_tune_fold_set(folds, r);
        survivors := ARRAY(
            SELECT s.trial FROM unnest(survivors) s(trial)
              LEFT JOIN dendrite.internal_tune_means(results, fold_set) m ON m.trial = s.trial
             ORDER BY m.mean_pr_auc DESC NULLS LAST, s.trial
             LIMIT greatest(1, ceil(cardinality(survivors) / 3.0)::int));
    END LOOP;
    fold_set := dendrite.internal_tune_fold_set(folds, rung);
    RETURN QUERY
    SELECT s.trial, f.fold,
           format('SELECT * FROM (%s) tune_rows WHERE tune_rows.%I OPERATOR(pg_catalog.<) %L::pg_catalog.timestamp '
                  'ORDER BY tune_rows.%I', query, time_column, ending - (folds - f.fold + 1) * fold_length - gap,
                  time_column),
           format('SELECT * FROM (%s) tune_rows WHERE tune_rows.%I OPERATOR(pg_catalog.<) %L::pg_catalog.timestamp '
                  'ORDER BY tune_rows.%I', query, time_column, ending - (folds - f.fold) * fold_length, time_column),
           format('SELECT * FROM (%s) tune_rows WHERE tune_rows.%I OPERATOR(pg_catalog.>=) %L::pg_catalog.timestamp '
                  'AND tune_rows.%I OPERATOR(pg_catalog.<) %L::pg_catalog.timestamp ORDER BY tune_rows.%I', query,
                  time_column, ending - (folds - f.fold + 1) * fold_length, time_column,
                  ending - (folds - f.fold) * fold_length, time_column),
           ending - (folds - f.fold + 1) * fold_length,
           dendrite.internal_tune_arguments(candidates[s.trial])
      FROM unnest(survivors) s(trial), unnest(fold_set) f(fold)
     WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(results) d
                        WHERE (d->>'trial')::int = s.trial AND (d->>'fold')::int = f.fold)
     ORDER BY f.fold DESC, s.trial;
END
$$;
COMMENT ON FUNCTION dendrite.internal_tune_work IS 'internal: the trainings a rung of tune still needs (trial, fold, its training and assessment queries)';

CREATE FUNCTION dendrite.internal_tune_has_history(model text, version int) RETURNS boolean
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_array_length(f.spec->'history') > 0, false)
      FROM dendrite.models m JOIN dendrite.model_versions v ON v.model_id = m.model_id
      JOIN dendrite.featurizers f ON f.featurizer_id = v.featurizer_id
     WHERE m.name = $1 AND v.version = $2
$$;
COMMENT ON FUNCTION dendrite.internal_tune_has_history IS 'internal: whether a version''s featurizer has history features (tune then assesses a fold with the rows before it)';

CREATE FUNCTION dendrite.internal_tune_best(results jsonb, folds int) RETURNS int
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.trial FROM dendrite.internal_tune_means(results, ARRAY(SELECT generate_series(1, folds))) m
     WHERE m.assessed = folds
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(results) r WHERE (r->>'trial')::int = m.trial AND r ? 'failure')
     ORDER BY m.mean_pr_auc DESC NULLS LAST, m.trial LIMIT 1
$$;
COMMENT ON FUNCTION dendrite.internal_tune_best IS 'internal: the trial of tune with the best mean PR-AUC over every fold (NULL when every trial failed)';

CREATE FUNCTION dendrite.record_tuning(model text, version int, algorithm text, candidates jsonb[], results jsonb,
    folds int, last_time timestamp, fold_length interval, gap interval, time_column text, winner int)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.record_tuning IS 'internal to dendrite.tune: records its trials as rows of dendrite.tuning_trials (as the extension owner, for a caller who manages the model); returns the tuning''s id';

CREATE FUNCTION dendrite.internal_record_tuning(model text, version int, algorithm text, candidates jsonb[],
    results jsonb, folds int, last_time timestamp, fold_length interval, gap interval, time_column text, winner int,
    caller name)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tuning bigint := nextval('dendrite.tuning_trials_tuning_id_seq');
    target_model_id bigint;
    best_version_id bigint;
    ending timestamp := last_time + interval '1 microsecond';
BEGIN
    SELECT m.model_id, v.version_id INTO target_model_id, best_version_id
      FROM dendrite.models m JOIN dendrite.model_versions v ON v.model_id = m.model_id AND v.version = $2
     WHERE m.name = $1;
    INSERT INTO dendrite.tuning_trials (tuning_id, model_id, trial, algorithm, settings, rung, time_column,
                                        fold_starts, fold_length, gap, fold_pr_auc, mean_pr_auc, seconds, failure,
                                        best, version_id, tuned_by)
    SELECT tuning, target_model_id, c.i, $3, c.c, greatest(count(d.d) - 1, 0), $10,
           ARRAY(SELECT ending - (folds - f + 1) * fold_length FROM generate_series(1, folds) f ORDER BY f),
           fold_length, gap,
           ARRAY(SELECT (SELECT (x->>'pr_auc')::float8 FROM jsonb_array_elements(results) x
                          WHERE (x->>'trial')::int = c.i AND (x->>'fold')::int = f)
                   FROM generate_series(1, folds) f ORDER BY f),
           (SELECT m.mean_pr_auc FROM dendrite.internal_tune_means(results, ARRAY(SELECT generate_series(1, folds))) m
             WHERE m.trial = c.i),
           coalesce(sum((d.d->>'seconds')::float8), 0), min(d.d->>'failure'), c.i = winner,
           CASE WHEN c.i = winner THEN best_version_id END, caller
      FROM unnest(candidates) WITH ORDINALITY c(c, i)
      LEFT JOIN jsonb_array_elements(results) d(d) ON (d.d->>'trial')::int = c.i
     GROUP BY c.i, c.c;
    RETURN tuning;
END
$$;
COMMENT ON FUNCTION dendrite.internal_record_tuning IS 'internal: dendrite.tune''s trials as rows, written as the extension owner';

CREATE FUNCTION dendrite.internal_tuning_trials(tuning bigint)
RETURNS TABLE (trial int, settings jsonb, rung int, fold_pr_auc float8[], mean_pr_auc float8, seconds float8,
               best boolean, version int)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.trial, t.settings, t.rung, t.fold_pr_auc, t.mean_pr_auc, t.seconds, t.best, v.version
      FROM dendrite.tuning_trials t LEFT JOIN dendrite.model_versions v ON v.version_id = t.version_id
     WHERE t.tuning_id = $1
     ORDER BY t.trial
$$;
COMMENT ON FUNCTION dendrite.internal_tuning_trials IS 'internal: the trials of one dendrite.tune call, as it returns them';

--------------------------------------------------------------------------------------------------------
-- Scoring
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.predict(model text, features real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_predict'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.predict IS 'scores a feature vector (the output of dendrite.features for the model''s featurizer) with the serving version of a model (dendrite.serving_version)';

CREATE FUNCTION dendrite.score(model text, "row" anyelement) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.score(text, anyelement) IS 'scores a row with the serving version of a model (dendrite.serving_version) and the featurizer version it was trained with; columns are matched by name';
CREATE FUNCTION dendrite.score(model text, "row" anyelement, version int) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.score(text, anyelement, int) IS 'scores a row with a given version of a model (a challenger, without deploying it) and the featurizer version it was trained with';

-- Not STRICT, for version's NULL default (the serving version); a NULL model, row or top explains nothing.
CREATE FUNCTION dendrite.explain(model text, "row" anyelement, top int DEFAULT 5, version int DEFAULT NULL)
RETURNS TABLE (feature text, input text, value text, contribution float8)
AS 'MODULE_PATHNAME', 'dendrite_explain'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION dendrite.explain IS 'why a version of a model (NULL: the serving one) scored a row: the inputs (a column, or a history declaration) whose contributions to the score''s logit are largest, largest first (gbdt: exact TreeSHAP)';

CREATE FUNCTION dendrite.feature_importance(model text, query text, version int DEFAULT NULL)
RETURNS TABLE (feature text, input text, mean_abs_contribution float8, rows bigint)
AS 'MODULE_PATHNAME', 'dendrite_feature_importance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.feature_importance IS 'the mean absolute contribution of each input (a column, or a history declaration) to the logit of a version of a model (NULL: the serving one) over the rows of a query, largest first (gbdt: TreeSHAP)';

CREATE FUNCTION dendrite.explain_query(model text, query text, key text DEFAULT NULL, top int DEFAULT 3,
                                       min_score float8 DEFAULT NULL, since timestamp DEFAULT NULL,
                                       version int DEFAULT NULL)
RETURNS TABLE (key text, score float8, rank int, feature text, input text, value text, contribution float8)
AS 'MODULE_PATHNAME', 'dendrite_explain_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.explain_query IS 'dendrite.explain for every row of a query (scoring at least min_score) in one ordered pass, history features computed offline as score_query computes them: one row per reason, rank 1 the largest';

CREATE FUNCTION dendrite.score_query(model text, query text, key text DEFAULT NULL, since timestamp DEFAULT NULL,
                                     version int DEFAULT NULL)
RETURNS TABLE (key text, score float8)
AS 'MODULE_PATHNAME', 'dendrite_score_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.score_query IS 'scores every row of a query in one ordered pass (history features computed offline) with a version of a model (NULL: the serving one); rows before since only build history';

CREATE FUNCTION dendrite.evaluate(model text, query text, version int DEFAULT NULL, label text DEFAULT NULL,
    since timestamp DEFAULT NULL,
    OUT version int, OUT rows bigint, OUT positives bigint, OUT pr_auc float8, OUT roc_auc float8,
    OUT recall_at_precision_90 float8, OUT "precision" float8, OUT recall float8,
    OUT tp bigint, OUT fp bigint, OUT tn bigint, OUT fn bigint, OUT threshold float8)
AS 'MODULE_PATHNAME', 'dendrite_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.evaluate IS 'scores the rows of a labelled query with a version of a model (NULL: the serving one) and returns its fraud metrics at the version''s threshold; label defaults to the column the version was trained on; rows before since only feed history features';

--------------------------------------------------------------------------------------------------------
-- Ownership, deployment and dropping
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.may_manage(owner name) RETURNS boolean
AS 'MODULE_PATHNAME', 'dendrite_may_manage'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.may_manage IS 'whether the current user may manage (retrain, deploy, drop) what the role owner owns: a member of it, of dendrite_admin, or a superuser';

CREATE FUNCTION dendrite.internal_deploy(model text, version int, strategy text, metric text, caller name)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_model_id bigint;
    target_version_id bigint;
    target_version int;
    how text;
    current_deployment bigint;
    on_training text;
    n_on_training bigint;
BEGIN
    IF model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The model row's lock serialises deploys, rollbacks and trainings of one model.
    SELECT m.model_id INTO target_model_id FROM dendrite.models m WHERE m.name = internal_deploy.model FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', internal_deploy.model USING ERRCODE = 'undefined_object',
            HINT = 'Train it first with dendrite.train.';
    END IF;
    IF version IS NOT NULL AND strategy IS NOT NULL THEN
        RAISE EXCEPTION 'give either a version or a strategy, not both' USING ERRCODE = 'invalid_parameter_value';
    ELSIF version IS NOT NULL THEN
        how := 'version';
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v WHERE v.model_id = target_model_id AND v.version = internal_deploy.version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'model "%" has no version %', internal_deploy.model, internal_deploy.version USING ERRCODE = 'undefined_object';
        END IF;
    ELSIF coalesce(strategy, 'latest') = 'latest' THEN
        how := 'latest';
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v WHERE v.model_id = target_model_id ORDER BY v.version DESC LIMIT 1;
    ELSIF strategy = 'best' THEN
        IF metric IS NULL OR metric NOT IN ('pr_auc', 'roc_auc', 'f1', 'precision', 'recall') THEN
            RAISE EXCEPTION 'unknown metric "%"', metric USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Use pr_auc, roc_auc, f1, precision or recall (the validation metrics stored with each version).';
        END IF;
        how := 'best:' || metric;
        -- Ranked on validation rows only: a metric measured on a version's own training rows flatters a model
        -- that memorizes them (gbdt's PR-AUC near 1), as compare, which names no winner on them, says.
        SELECT pg_catalog.string_agg(v.version::text, ', ' ORDER BY v.version), count(*) INTO on_training, n_on_training
          FROM dendrite.model_versions v
         WHERE v.model_id = target_model_id AND v.metrics->>'evaluated_on' = 'training';
        IF n_on_training > 0 THEN
            RAISE NOTICE 'deploy leaves out % % of model "%": % measured on % training rows',
                CASE WHEN n_on_training = 1 THEN 'version' ELSE 'versions' END, on_training, internal_deploy.model,
                CASE WHEN n_on_training = 1 THEN 'its metrics were' ELSE 'their metrics were' END,
                CASE WHEN n_on_training = 1 THEN 'its' ELSE 'their' END;
        END IF;
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v
         WHERE v.model_id = target_model_id AND v.metrics->>'evaluated_on' IS DISTINCT FROM 'training'
           AND v.metrics->>metric IS NOT NULL
         ORDER BY (v.metrics->>metric)::float8 DESC, v.version DESC LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'model "%" has no version with a validation % to rank', internal_deploy.model, metric
                USING ERRCODE = 'object_not_in_prerequisite_state',
                DETAIL = CASE WHEN n_on_training > 0
                              THEN format('The metrics of %s %s were measured on training rows.',
                                          CASE WHEN n_on_training = 1 THEN 'version' ELSE 'versions' END, on_training)
                              ELSE format('No version stores %s (an autoencoder''s have no labels to measure it on).', metric) END,
                HINT = 'Train with validation rows of both classes (validation_fraction, or split_column for a split by time), or deploy a version by number.';
        END IF;
    ELSE
        RAISE EXCEPTION 'unknown deployment strategy "%"', strategy USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''latest'' or ''best'', or name a version.';
    END IF;
    IF target_version_id IS NULL THEN
        RAISE EXCEPTION 'model "%" has no trained version', internal_deploy.model USING ERRCODE = 'undefined_object';
    END IF;

    SELECT d.deployment_id INTO current_deployment FROM dendrite.deployments d
     WHERE d.model_id = target_model_id ORDER BY d.deployment_id DESC LIMIT 1;
    INSERT INTO dendrite.deployments (model_id, version_id, action, strategy, replaces, deployed_by)
    VALUES (target_model_id, target_version_id, 'deploy', how, current_deployment, caller);
    UPDATE dendrite.model_versions v SET status = CASE WHEN v.version_id = target_version_id THEN 'deployed' ELSE 'trained' END
     WHERE v.model_id = target_model_id AND (v.status = 'deployed' OR v.version_id = target_version_id);
    RETURN target_version;
END
$$;
COMMENT ON FUNCTION dendrite.internal_deploy IS 'internal: the body of dendrite.deploy, run as the extension owner once the caller is known to manage the model';

CREATE FUNCTION dendrite.internal_rollback(model text, caller name) RETURNS int
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_model_id bigint;
    current_row dendrite.deployments;
    earlier dendrite.deployments;
    earlier_version int;
BEGIN
    SELECT m.model_id INTO target_model_id FROM dendrite.models m WHERE m.name = internal_rollback.model FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', internal_rollback.model USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO current_row FROM dendrite.deployments d WHERE d.model_id = target_model_id ORDER BY d.deployment_id DESC LIMIT 1;
    IF current_row.replaces IS NULL THEN
        RAISE EXCEPTION 'model "%" has no earlier deployment to roll back to', internal_rollback.model
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN current_row.deployment_id IS NULL THEN 'It was never deployed.'
                                ELSE 'Its first deployment is the one serving.' END;
    END IF;
    SELECT * INTO earlier FROM dendrite.deployments d WHERE d.deployment_id = current_row.replaces;
    -- The rollback takes the place of the deployment it returns to: a second rollback goes one further back.
    INSERT INTO dendrite.deployments (model_id, version_id, action, strategy, replaces, deployed_by)
    VALUES (target_model_id, earlier.version_id, 'rollback', NULL, earlier.replaces, caller);
    UPDATE dendrite.model_versions v SET status = CASE WHEN v.version_id = earlier.version_id THEN 'deployed' ELSE 'trained' END
     WHERE v.model_id = target_model_id AND (v.status = 'deployed' OR v.version_id = earlier.version_id);
    SELECT v.version INTO earlier_version FROM dendrite.model_versions v WHERE v.version_id = earlier.version_id;
    RETURN earlier_version;
END
$$;
COMMENT ON FUNCTION dendrite.internal_rollback IS 'internal: the body of dendrite.rollback, run as the extension owner once the caller is known to manage the model';

CREATE FUNCTION dendrite.internal_drop_model(model text, caller name) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped_featurizers bigint[];
    dependents text;
BEGIN
    -- A featurizer whose anomaly feature is this model's score would no longer load.
    SELECT string_agg(DISTINCT format('featurizer "%s" version %s', f.name, f.version), ', ') INTO dependents
      FROM dendrite.featurizers f, jsonb_array_elements(coalesce(f.spec->'anomaly', '[]')) a
     WHERE a->>'model' = model;
    IF dependents IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop model "%": its score is an anomaly feature of %', model, dependents
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop the models trained with those featurizers, then the featurizers (dendrite.drop_featurizer).';
    END IF;
    SELECT array_agg(v.featurizer_id) INTO dropped_featurizers
      FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = model;
    DELETE FROM dendrite.models WHERE name = model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
    END IF;
    -- Featurizers fitted automatically for this model go with it; named ones stay.
    DELETE FROM dendrite.featurizers f
     WHERE f.featurizer_id = ANY (dropped_featurizers) AND f.name = model
       AND NOT EXISTS (SELECT FROM dendrite.model_versions v WHERE v.featurizer_id = f.featurizer_id);
END
$$;
COMMENT ON FUNCTION dendrite.internal_drop_model IS 'internal: the body of dendrite.drop_model, run as the extension owner once the caller is known to manage the model';

CREATE FUNCTION dendrite.deploy(model text, version int DEFAULT NULL, strategy text DEFAULT NULL, metric text DEFAULT 'pr_auc')
RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.deploy IS 'makes a version of a model the one that scores (NULL: the latest; strategy => ''best'' picks the best by a stored validation metric); every session uses it from its next statement';

CREATE FUNCTION dendrite.rollback(model text) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.rollback IS 'returns a model to the version deployed before the current deployment; returns that version';

CREATE FUNCTION dendrite.drop_model(model text) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.drop_model IS 'drops a model with all its versions, parameters and epochs, and the featurizers fitted for it';

CREATE FUNCTION dendrite.internal_may_manage(caller name, owner name) RETURNS boolean
AS 'MODULE_PATHNAME', 'dendrite_internal_may_manage'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.internal_may_manage IS 'internal: whether a caller given to an internal_ function may manage what owner owns';

--------------------------------------------------------------------------------------------------------
-- Guards: scoring inside INSERT and UPDATE
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_guard'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.guard IS 'row trigger: guard(model, action [, threshold [, columns [, key]]]) fired BEFORE INSERT OR UPDATE scores NEW with the serving version and rejects, flags and/or logs it; guard(model) fired by UPDATE ... FOR EACH ROW, DELETE or TRUNCATE keeps the inline history in step with the table (labels set later, corrected and deleted rows)';

CREATE FUNCTION dendrite.guard_batch() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_guard_batch'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.guard_batch IS 'AFTER INSERT ... REFERENCING NEW TABLE statement trigger: scores every new row of a statement in one batched pass; same arguments as dendrite.guard';

CREATE FUNCTION dendrite.internal_forget_predictions() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM dendrite.predictions p USING deleted_versions d WHERE p.version_id = d.version_id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dendrite.internal_forget_predictions IS 'internal: deletes the logged decisions of deleted model versions';

--------------------------------------------------------------------------------------------------------
-- Lifecycle: outcomes, health, drift
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.record_outcome(guarded_table regclass, row_key text, is_fraud boolean) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT has_table_privilege(guarded_table, 'UPDATE') THEN
        RAISE EXCEPTION 'permission denied to record outcomes of table %', guarded_table
            USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Outcomes are the labels that model_health and retraining trust.',
            HINT = 'Recording an outcome needs the UPDATE privilege on the guarded table.';
    END IF;
    -- A partition's rows are logged under the root of its partition tree (the table they are inserted into):
    -- an outcome named by the partition goes there too.
    INSERT INTO dendrite.outcomes AS o (table_name, row_key, is_fraud)
    SELECT format('%I.%I', n.nspname, c.relname), record_outcome.row_key, record_outcome.is_fraud
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = coalesce(pg_partition_root(guarded_table), guarded_table)
    ON CONFLICT ON CONSTRAINT outcomes_pkey DO UPDATE
       SET is_fraud = EXCLUDED.is_fraud, recorded_at = EXCLUDED.recorded_at, recorded_by = EXCLUDED.recorded_by;
END
$$;
COMMENT ON FUNCTION dendrite.record_outcome IS 'records that a guarded row (its table and key, as the guard logs them) was fraud or legitimate; a second call for a row replaces the first';

-- Shared by model_health and model_health_daily: the model's logged decisions since a time, with their
-- outcomes. Raises when the model does not exist or the caller may not manage it.
CREATE FUNCTION dendrite.internal_labelled_predictions(model text, since timestamptz)
RETURNS TABLE (version int, predicted_at timestamptz, score float8, flagged boolean, is_fraud boolean, shadow boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_name name;
BEGIN
    SELECT m.owner INTO owner_name FROM dendrite.models m WHERE m.name = internal_labelled_predictions.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', internal_labelled_predictions.model USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT dendrite.may_manage(owner_name) THEN
        RAISE EXCEPTION 'must be owner of model "%"', internal_labelled_predictions.model USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s".', owner_name),
            HINT = 'Only a member of its owner role or of dendrite_admin may read its predictions.';
    END IF;
    -- A row scored again (a guarded UPDATE, a second trigger) counts once per version and role, with its latest
    -- decision (what its flag column shows): else each update would count its outcome again. Decisions of one
    -- transaction share predicted_at; the later row of the log is the later decision. Rows logged without a
    -- key cannot be told apart (nor labelled): each of their decisions counts.
    RETURN QUERY
        SELECT d.version, d.predicted_at, d.score, d.flagged, o.is_fraud, d.shadow
          FROM (SELECT DISTINCT ON (p.table_name, p.row_key, p.version_id, p.shadow,
                                    CASE WHEN p.row_key IS NULL THEN p.ctid END)
                       v.version, p.table_name, p.row_key, p.predicted_at, p.score, p.decision = 'flag' AS flagged,
                       p.shadow
                  FROM dendrite.predictions p
                  JOIN dendrite.model_versions v ON v.version_id = p.version_id
                  JOIN dendrite.models m ON m.model_id = v.model_id
                 WHERE m.name = internal_labelled_predictions.model
                   AND p.predicted_at >= internal_labelled_predictions.since
                 ORDER BY p.table_name, p.row_key, p.version_id, p.shadow, CASE WHEN p.row_key IS NULL THEN p.ctid END,
                          p.predicted_at DESC, p.ctid DESC) d
          LEFT JOIN dendrite.outcomes o ON o.table_name = d.table_name AND o.row_key = d.row_key;
END
$$;
COMMENT ON FUNCTION dendrite.internal_labelled_predictions IS 'internal: a model''s logged decisions since a time (shadow ones marked), the latest of each row''s, joined to their outcomes';

CREATE FUNCTION dendrite.model_health(model text, since interval DEFAULT '7 days')
RETURNS TABLE (serving_version int, window_start timestamptz, predictions bigint, flagged bigint, labelled bigint,
               tp bigint, fp bigint, tn bigint, fn bigint, "precision" float8, recall float8,
               labelled_fraud_rate float8, mean_score float8, score_psi float8)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    WITH window_start AS (SELECT now() - $2 AS t),
    recent AS (SELECT p.* FROM dendrite.internal_labelled_predictions($1, now() - 2 * $2) p WHERE NOT p.shadow),
    current_window AS (SELECT r.* FROM recent r, window_start w WHERE r.predicted_at >= w.t),
    previous_window AS (SELECT r.* FROM recent r, window_start w WHERE r.predicted_at < w.t),
    -- Score drift: the population stability index of this window's scores against the previous window's,
    -- over the previous window's deciles (NULL with fewer than 100 scores in either window).
    edges AS (SELECT percentile_cont(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) WITHIN GROUP (ORDER BY score)::float8[] AS e
                FROM previous_window HAVING count(*) >= 100),
    bins AS (SELECT width_bucket(c.score, e.e) AS bin, 'current' AS side FROM current_window c, edges e
             UNION ALL
             SELECT width_bucket(p.score, e.e), 'previous' FROM previous_window p, edges e),
    shares AS (SELECT b.bin,
                      greatest(count(*) FILTER (WHERE b.side = 'current')::float8 / nullif((SELECT count(*) FROM current_window), 0), 1e-4) AS actual,
                      greatest(count(*) FILTER (WHERE b.side = 'previous')::float8 / nullif((SELECT count(*) FROM previous_window), 0), 1e-4) AS expected
                 FROM bins b GROUP BY b.bin),
    psi AS (SELECT sum((s.actual - s.expected) * ln(s.actual / s.expected)) AS value FROM shares s
             WHERE (SELECT count(*) FROM current_window) >= 100)
    SELECT (SELECT s.version FROM dendrite.serving_version($1) s),
           (SELECT t FROM window_start),
           count(*), count(*) FILTER (WHERE c.flagged), count(c.is_fraud),
           count(*) FILTER (WHERE c.flagged AND c.is_fraud), count(*) FILTER (WHERE c.flagged AND NOT c.is_fraud),
           count(*) FILTER (WHERE NOT c.flagged AND NOT c.is_fraud), count(*) FILTER (WHERE NOT c.flagged AND c.is_fraud),
           (count(*) FILTER (WHERE c.flagged AND c.is_fraud))::float8 / nullif(count(*) FILTER (WHERE c.flagged AND c.is_fraud IS NOT NULL), 0),
           (count(*) FILTER (WHERE c.flagged AND c.is_fraud))::float8 / nullif(count(*) FILTER (WHERE c.is_fraud), 0),
           (count(*) FILTER (WHERE c.is_fraud))::float8 / nullif(count(c.is_fraud), 0),
           avg(c.score),
           (SELECT value FROM psi)
      FROM current_window c
$$;
COMMENT ON FUNCTION dendrite.model_health IS 'live health of a model over a recent window of logged decisions: volumes, confusion counts, precision and recall against recorded outcomes, score drift (PSI against the window before)';

CREATE FUNCTION dendrite.model_health_daily(model text, since interval DEFAULT '30 days')
RETURNS TABLE (day date, predictions bigint, flagged bigint, labelled bigint, frauds bigint, tp bigint, fp bigint,
               mean_score float8)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.predicted_at::date, count(*), count(*) FILTER (WHERE p.flagged), count(p.is_fraud),
           count(*) FILTER (WHERE p.is_fraud), count(*) FILTER (WHERE p.flagged AND p.is_fraud),
           count(*) FILTER (WHERE p.flagged AND NOT p.is_fraud), avg(p.score)
      FROM dendrite.internal_labelled_predictions($1, now() - $2) p
     WHERE NOT p.shadow
     GROUP BY 1 ORDER BY 1
$$;
COMMENT ON FUNCTION dendrite.model_health_daily IS 'a model''s logged decisions per day: volumes, flags, recorded outcomes, true and false positives, mean score';

CREATE FUNCTION dendrite.shadow_health(model text, since interval DEFAULT '7 days')
RETURNS TABLE (version int, role text, predictions bigint, flagged bigint, labelled bigint, tp bigint, fp bigint,
               tn bigint, fn bigint, "precision" float8, recall float8, mean_score float8)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- Champion and challenger on the same rows: each version's decisions logged over the window, the serving
    -- version's ('serving': what acted) and those of guards' 'shadow:N' ('shadow': logged, never acted on).
    SELECT p.version, CASE WHEN p.shadow THEN 'shadow' ELSE 'serving' END,
           count(*), count(*) FILTER (WHERE p.flagged), count(p.is_fraud),
           count(*) FILTER (WHERE p.flagged AND p.is_fraud), count(*) FILTER (WHERE p.flagged AND NOT p.is_fraud),
           count(*) FILTER (WHERE NOT p.flagged AND NOT p.is_fraud), count(*) FILTER (WHERE NOT p.flagged AND p.is_fraud),
           (count(*) FILTER (WHERE p.flagged AND p.is_fraud))::float8 / nullif(count(*) FILTER (WHERE p.flagged AND p.is_fraud IS NOT NULL), 0),
           (count(*) FILTER (WHERE p.flagged AND p.is_fraud))::float8 / nullif(count(*) FILTER (WHERE p.is_fraud), 0),
           avg(p.score)
      FROM dendrite.internal_labelled_predictions($1, now() - $2) p
     GROUP BY p.version, p.shadow
     ORDER BY p.shadow, p.version
$$;
COMMENT ON FUNCTION dendrite.shadow_health IS 'champion against challenger, live: per version and role (serving, or shadow: logged by a guard''s ''shadow:N'' and never acted on), the decisions over a recent window, confusion counts, precision and recall against recorded outcomes';

CREATE FUNCTION dendrite.feature_drift(model text, query text, version int DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (feature_number int, feature text, training_mean float8, current_mean float8, training_stddev float8,
               psi float8, rows bigint)
AS 'MODULE_PATHNAME', 'dendrite_feature_drift'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.feature_drift IS 'per feature of a model version (NULL: the serving one): the population stability index of the query''s rows (at or after since; earlier ones only feed history features) against the training rows (< 0.1 stable, 0.1-0.25 moderate, > 0.25 drifted)';

CREATE FUNCTION dendrite.internal_may_label(table_name text) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(has_table_privilege(to_regclass($1), 'UPDATE'), false) $$;
COMMENT ON FUNCTION dendrite.internal_may_label IS 'internal: whether the current user may record outcomes of a guarded table (it may update it)';

--------------------------------------------------------------------------------------------------------
-- Retraining: champion against challenger, on a schedule
--------------------------------------------------------------------------------------------------------
-- The settings a retraining reuses: the serving version's query, label, featurizer and hyperparameters
-- (stored by train as every named argument and option), split into train's named arguments and options.
-- Checks the policy and that the caller manages the model, before anything is trained.
CREATE FUNCTION dendrite.internal_retraining_plan(model text, query text, evaluation_query text, promote text,
    OUT champion_version int, OUT training_query text, OUT label text, OUT featurizer text, OUT algorithm text,
    OUT hidden int[], OUT activation text, OUT epochs int, OUT batch_size int, OUT learning_rate float8,
    OUT optimizer text, OUT class_weight text, OUT validation_fraction float8, OUT seed bigint, OUT dropout float8,
    OUT layer_norm boolean, OUT loss text, OUT threshold text, OUT split_column text, OUT patience int,
    OUT options jsonb, OUT evaluation text, OUT policy text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_name name;
    settings jsonb;
    named_arguments text[] := '{algorithm,hidden,activation,epochs,batch_size,learning_rate,optimizer,class_weight,'
                              'validation_fraction,seed,dropout,layer_norm,loss,threshold,patience,device,split_column}';
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT m.owner INTO owner_name FROM dendrite.models m WHERE m.name = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', $1 USING ERRCODE = 'undefined_object',
            HINT = 'Train its first version with dendrite.train: retraining reuses its settings.';
    END IF;
    IF NOT dendrite.may_manage(owner_name) THEN
        RAISE EXCEPTION 'must be owner of model "%"', $1 USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s".', owner_name),
            HINT = 'Only a member of its owner role or of dendrite_admin may retrain it.';
    END IF;
    IF $4 IS NULL OR $4 NOT IN ('manual', 'always', 'if_better') THEN
        RAISE EXCEPTION 'unknown promotion policy "%"', $4 USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''manual'' (never deploy), ''always'' or ''if_better'' (deploy when the new version''s PR-AUC on evaluation_query beats the serving version''s).';
    END IF;
    IF $4 = 'if_better' AND $3 IS NULL THEN
        RAISE EXCEPTION 'promote => ''if_better'' needs an evaluation_query' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The new version and the serving one are compared on the same labelled rows.',
            HINT = 'Pass a query of recent labelled rows the training query leaves out, e.g. the last week.';
    END IF;
    SELECT s.version, v.training_query, v.label_column, f.name, v.hyperparameters
      INTO champion_version, training_query, label, featurizer, settings
      FROM dendrite.serving_version($1) s
      JOIN dendrite.model_versions v ON v.version_id = s.version_id
      JOIN dendrite.featurizers f ON f.featurizer_id = v.featurizer_id;
    training_query := coalesce($2, training_query);
    algorithm := settings->>'algorithm';
    hidden := coalesce((SELECT array_agg(h::int) FROM jsonb_array_elements_text(settings->'hidden') h), '{64,32}');
    IF algorithm = 'logistic_regression' THEN
        hidden := '{}';
    END IF;
    activation := coalesce(settings->>'activation', 'relu');
    epochs := coalesce((settings->>'epochs')::int, 10);
    batch_size := coalesce((settings->>'batch_size')::int, 256);
    learning_rate := coalesce((settings->>'learning_rate')::float8, 0.001);
    optimizer := coalesce(settings->>'optimizer', 'adam');
    class_weight := coalesce(settings->>'class_weight', 'balanced');
    validation_fraction := coalesce((settings->>'validation_fraction')::float8, 0.2);
    seed := coalesce((settings->>'seed')::bigint, 42);
    dropout := coalesce((settings->>'dropout')::float8, 0);
    layer_norm := coalesce((settings->>'layer_norm')::boolean, false);
    loss := coalesce(settings->>'loss', 'bce');
    threshold := coalesce(settings->>'threshold', 'f1');
    split_column := settings->>'split_column';
    patience := coalesce((settings->>'patience')::int, 0);
    options := settings - named_arguments;
    evaluation := $3;
    policy := $4;
END
$$;
COMMENT ON FUNCTION dendrite.internal_retraining_plan IS 'internal: the serving version''s training settings, as retrain passes them to train';

CREATE FUNCTION dendrite.internal_record_retraining(model text, champion_version int, challenger_version int,
    promote text, evaluation_query text, evaluation_rows bigint, evaluation_positives bigint, champion_pr_auc float8,
    challenger_pr_auc float8, started_at timestamptz, caller name)
RETURNS dendrite.retraining_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_model_id bigint;
    result dendrite.retraining_result;
BEGIN
    SELECT m.model_id INTO target_model_id FROM dendrite.models m WHERE m.name = $1 FOR UPDATE;
    result.champion_version := champion_version;
    result.challenger_version := challenger_version;
    result.champion_pr_auc := champion_pr_auc;
    result.challenger_pr_auc := challenger_pr_auc;
    result.evaluation_rows := evaluation_rows;
    CASE promote
        WHEN 'manual' THEN
            result.promoted := false;
            result.decision := format('not deployed (promote => ''manual''): deploy it with dendrite.deploy(%L, %s)', $1, challenger_version);
        WHEN 'always' THEN
            result.promoted := true;
            result.decision := 'deployed (promote => ''always'')';
        ELSE
            IF champion_pr_auc IS NULL OR challenger_pr_auc IS NULL THEN
                result.promoted := false;
                result.decision := format('kept version %s: the %s evaluation rows have a single class, PR-AUC is undefined',
                                          champion_version, evaluation_rows);
            ELSIF challenger_pr_auc > champion_pr_auc THEN
                result.promoted := true;
                result.decision := format('deployed: PR-AUC %s > %s of version %s on %s evaluation rows',
                                          round(challenger_pr_auc::numeric, 4), round(champion_pr_auc::numeric, 4),
                                          champion_version, evaluation_rows);
            ELSE
                result.promoted := false;
                result.decision := format('kept version %s: PR-AUC %s <= its %s on %s evaluation rows', champion_version,
                                          round(challenger_pr_auc::numeric, 4), round(champion_pr_auc::numeric, 4),
                                          evaluation_rows);
            END IF;
    END CASE;
    IF result.promoted THEN
        PERFORM dendrite.internal_deploy($1, challenger_version, NULL, 'pr_auc', caller);
    ELSIF NOT EXISTS (SELECT FROM dendrite.deployments d WHERE d.model_id = target_model_id) THEN
        -- A model never deployed serves its latest version, which is now the challenger: deploy the
        -- champion explicitly so that it keeps serving.
        PERFORM dendrite.internal_deploy($1, champion_version, NULL, 'pr_auc', caller);
    END IF;
    INSERT INTO dendrite.retrainings (model_id, champion_version_id, challenger_version_id, promote, evaluation_query,
                                      evaluation_rows, evaluation_positives, champion_pr_auc, challenger_pr_auc,
                                      promoted, decision, started_at, run_by)
    SELECT target_model_id,
           (SELECT v.version_id FROM dendrite.model_versions v WHERE v.model_id = target_model_id AND v.version = $2),
           (SELECT v.version_id FROM dendrite.model_versions v WHERE v.model_id = target_model_id AND v.version = $3),
           promote, evaluation_query, evaluation_rows, evaluation_positives, champion_pr_auc, challenger_pr_auc,
           result.promoted, result.decision, started_at, caller
    RETURNING retraining_id INTO result.retraining_id;
    result.serving_version := (SELECT s.version FROM dendrite.serving_version($1) s);
    RETURN result;
END
$$;
COMMENT ON FUNCTION dendrite.internal_record_retraining IS 'internal: retrain''s decision, recorded (and the challenger deployed) as the extension owner';

CREATE FUNCTION dendrite.record_retraining(model text, champion_version int, challenger_version int, promote text,
    evaluation_query text, evaluation_rows bigint, evaluation_positives bigint, champion_pr_auc float8,
    challenger_pr_auc float8, started_at timestamptz)
RETURNS dendrite.retraining_result
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.record_retraining IS 'internal to dendrite.retrain: applies the promotion policy and records the comparison';

CREATE FUNCTION dendrite.retrain(model text, query text DEFAULT NULL, evaluation_query text DEFAULT NULL,
                                            promote text DEFAULT 'if_better')
RETURNS dendrite.retraining_result
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the queries given now are the caller's and run with the caller's path and rights, as
-- in train. So the body uses no operator a caller's schema could stand in for; the logic is in helpers.
AS $$
DECLARE
    plan record;
    started pg_catalog.timestamptz := pg_catalog.clock_timestamp();
    trained dendrite.training_result;
    champion_pr_auc pg_catalog.float8;
    challenger_pr_auc pg_catalog.float8;
    evaluated_rows pg_catalog.int8;
    evaluated_positives pg_catalog.int8;
BEGIN
    SELECT * INTO plan FROM dendrite.internal_retraining_plan(retrain.model, retrain.query, retrain.evaluation_query,
                                                              retrain.promote);
    trained := dendrite.train(retrain.model, retrain.query, plan.label,
                              algorithm => plan.algorithm,
                              hidden => plan.hidden,
                              activation => plan.activation,
                              epochs => plan.epochs,
                              batch_size => plan.batch_size,
                              learning_rate => plan.learning_rate,
                              optimizer => plan.optimizer,
                              class_weight => plan.class_weight,
                              validation_fraction => plan.validation_fraction,
                              seed => plan.seed,
                              featurizer => plan.featurizer,
                              dropout => plan.dropout,
                              layer_norm => plan.layer_norm,
                              loss => plan.loss,
                              threshold => plan.threshold,
                              split_column => plan.split_column,
                              patience => plan.patience,
                              options => plan.options);
    IF plan.evaluation IS NOT NULL THEN
        SELECT e.pr_auc INTO champion_pr_auc
          FROM dendrite.evaluate(retrain.model, plan.evaluation, plan.champion_version) e;
        SELECT e.pr_auc, e.rows, e.positives INTO challenger_pr_auc, evaluated_rows, evaluated_positives
          FROM dendrite.evaluate(retrain.model, plan.evaluation, trained.version) e;
    END IF;
    RETURN dendrite.record_retraining(retrain.model, plan.champion_version, trained.version, plan.policy,
                                      plan.evaluation, evaluated_rows, evaluated_positives, champion_pr_auc,
                                      challenger_pr_auc, started);
END
$$;
COMMENT ON FUNCTION dendrite.retrain IS 'trains a new version of a model with its serving version''s settings (query: default the serving version''s) and deploys it by the promotion policy: ''manual'', ''always'', or ''if_better'' (PR-AUC on evaluation_query above the serving version''s); every run is a row of dendrite.retrainings';

CREATE FUNCTION dendrite.internal_cron_job_name(model text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'dendrite retrain ' || $1 $$;
COMMENT ON FUNCTION dendrite.internal_cron_job_name IS 'internal: the pg_cron job name of a model''s scheduled retraining';

-- Raises unless pg_cron is installed in this database and the caller may schedule with it.
CREATE FUNCTION dendrite.internal_require_cron() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Scheduled retraining runs as a pg_cron job; everything else in dendrite works without it.',
            HINT = 'Install postgresql-15-cron, set shared_preload_libraries = ''pg_cron'' and cron.database_name to this database, restart, and CREATE EXTENSION pg_cron. Or call dendrite.retrain from your own scheduler.';
    END IF;
    IF NOT has_schema_privilege('cron', 'USAGE') THEN
        RAISE EXCEPTION 'permission denied for schema cron' USING ERRCODE = 'insufficient_privilege',
            HINT = format('A superuser can allow it: GRANT USAGE ON SCHEMA cron TO %I.', current_user);
    END IF;
END
$$;
COMMENT ON FUNCTION dendrite.internal_require_cron IS 'internal: raises unless pg_cron can schedule jobs here for the current user';

CREATE FUNCTION dendrite.schedule_retraining(model text, schedule text, query text DEFAULT NULL,
                                             evaluation_query text DEFAULT NULL, promote text DEFAULT 'if_better')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan record;
    job_id bigint;
BEGIN
    IF schedule IS NULL THEN
        RAISE EXCEPTION 'schedule must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Use cron syntax, e.g. ''0 3 * * *'' for every night at 03:00.';
    END IF;
    -- Every check retrain would make at its first run, made now.
    SELECT * INTO plan FROM dendrite.internal_retraining_plan($1, $3, $4, $5);
    PERFORM dendrite.internal_require_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
      USING dendrite.internal_cron_job_name($1), $2,
            format('SELECT dendrite.retrain(%L, query => %L, evaluation_query => %L, promote => %L)', $1, $3, $4, $5);
    RETURN job_id;
END
$$;
COMMENT ON FUNCTION dendrite.schedule_retraining IS 'schedules dendrite.retrain of a model as a pg_cron job (cron syntax), run as the current user; a second call replaces the schedule; returns the job id (cron.job, cron.job_run_details)';

CREATE FUNCTION dendrite.unschedule_retraining(model text) RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_job boolean;
BEGIN
    PERFORM dendrite.internal_require_cron();
    EXECUTE 'SELECT EXISTS (SELECT FROM cron.job WHERE jobname = $1 AND username = current_user)' INTO found_job
      USING dendrite.internal_cron_job_name($1);
    IF found_job THEN
        EXECUTE 'SELECT cron.unschedule($1)' USING dendrite.internal_cron_job_name($1);
    END IF;
    RETURN found_job;
END
$$;
COMMENT ON FUNCTION dendrite.unschedule_retraining IS 'removes the current user''s scheduled retraining of a model; false when there was none';

--------------------------------------------------------------------------------------------------------
-- Export and import
--------------------------------------------------------------------------------------------------------
-- The tables of the rows that belong to one model version or one featurizer version: those keyed by it (their
-- primary key starts with its key column, which references it ON DELETE CASCADE). export_model and
-- import_model copy them generically, so a new kind of row needs no new code there.
CREATE FUNCTION dendrite.internal_owned_tables(parent regclass)
RETURNS TABLE (table_name text, key_column text, order_by text)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.relname::text, a.attname::text,
           (SELECT string_agg(quote_ident(k.attname), ', ' ORDER BY array_position(i.indkey::int2[], k.attnum))
              FROM pg_index i JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY (i.indkey::int2[])
             WHERE i.indrelid = c.oid AND i.indisprimary)
      FROM pg_constraint f
      JOIN pg_class c ON c.oid = f.conrelid
      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.conkey[1]
      JOIN pg_index p ON p.indrelid = f.conrelid AND p.indisprimary AND p.indkey[0] = f.conkey[1]
     WHERE f.contype = 'f' AND f.confrelid = parent AND f.confdeltype = 'c' AND cardinality(f.conkey) = 1
       AND c.relnamespace = 'dendrite'::regnamespace
     ORDER BY c.relname
$$;
COMMENT ON FUNCTION dendrite.internal_owned_tables IS 'internal: the tables of the rows that belong to a row of parent (keyed by it), for export and import';

CREATE FUNCTION dendrite.export_model(model text, version int DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3  -- every real and float8 written so that it reads back bit for bit
AS $$
DECLARE
    m dendrite.models;
    v dendrite.model_versions;
    f dendrite.featurizers;
    owned record;
    owned_rows jsonb := '{"version_rows": {}, "featurizer_rows": {}}';
    table_rows jsonb;
BEGIN
    SELECT * INTO m FROM dendrite.models x WHERE x.name = export_model.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', export_model.model USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT dendrite.may_manage(m.owner) THEN
        RAISE EXCEPTION 'must be owner of model "%"', export_model.model USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s".', m.owner),
            HINT = 'Only a member of its owner role or of dendrite_admin may export it.';
    END IF;
    SELECT * INTO v FROM dendrite.model_versions x
     WHERE x.model_id = m.model_id
       AND x.version_id = CASE WHEN export_model.version IS NULL
                               THEN (SELECT s.version_id FROM dendrite.serving_version(export_model.model) s)
                               ELSE x.version_id END
       AND (export_model.version IS NULL OR x.version = export_model.version);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no version %', export_model.model, coalesce(export_model.version::text, 'serving')
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO f FROM dendrite.featurizers x WHERE x.featurizer_id = v.featurizer_id;
    -- Every table of rows that belong to the version (parameters, trees, epochs, curves, baselines) and to
    -- its featurizer version (columns, categories, history): table name -> its rows, without the key.
    FOR owned IN SELECT p.member, p.key, o.*
                   FROM (VALUES ('version_rows', 'dendrite.model_versions'::regclass, v.version_id),
                                ('featurizer_rows', 'dendrite.featurizers'::regclass, f.featurizer_id)) AS p(member, parent, key),
                        dendrite.internal_owned_tables(p.parent) o LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t) - %L ORDER BY %s), ''[]'') FROM dendrite.%I t WHERE t.%I = $1',
                       owned.key_column, owned.order_by, owned.table_name, owned.key_column)
           INTO table_rows USING owned.key;
        owned_rows := jsonb_set(owned_rows, ARRAY[owned.member, owned.table_name], table_rows);
    END LOOP;
    RETURN jsonb_build_object(
        'format', 'dendrite-model',
        'format_version', 2,
        'extension_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'dendrite'),
        'exported_at', now(),
        'model', jsonb_build_object('name', m.name, 'task', m.task, 'configuration', m.configuration),
        'version', to_jsonb(v) - '{version_id,model_id,featurizer_id,status}'::text[],
        'version_rows', owned_rows->'version_rows',
        'featurizer', to_jsonb(f) - '{featurizer_id,owner}'::text[],
        'featurizer_rows', owned_rows->'featurizer_rows');
END
$$;
COMMENT ON FUNCTION dendrite.export_model IS 'a version of a model (NULL: the serving one) as one jsonb document: its row and every row that belongs to it (parameters or trees, epochs, curves, training baselines), and its featurizer version''s; dendrite.import_model reads it back';

CREATE FUNCTION dendrite.internal_import_model(document jsonb, model text, caller name) RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := coalesce(internal_import_model.model, document->'model'->>'name');
    featurizer_name text;
    target_model_id bigint;
    owner_name name;
    new_featurizer_id bigint;
    new_version int;
    new_version_id bigint;
    owned record;
BEGIN
    IF document IS NULL OR jsonb_typeof(document) IS DISTINCT FROM 'object' OR document->>'format' IS DISTINCT FROM 'dendrite-model' THEN
        RAISE EXCEPTION 'the document is not a dendrite model export' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Export a model with dendrite.export_model.';
    END IF;
    IF jsonb_typeof(document->'format_version') IS DISTINCT FROM 'number' OR (document->>'format_version')::numeric NOT IN (1, 2) THEN
        RAISE EXCEPTION 'unsupported export format version %', coalesce(document->>'format_version', 'NULL')
            USING ERRCODE = 'feature_not_supported', HINT = 'This dendrite reads format versions 1 and 2.';
    END IF;
    IF (document->>'format_version')::numeric = 1 THEN
        -- Format 1 (dendrite 0.3.0 to 0.5.0) named each table's rows by hand; format 2 names them by table.
        document := document || jsonb_build_object(
            'version_rows', jsonb_strip_nulls(jsonb_build_object(
                'parameters', document->'parameters', 'trees', document->'trees', 'epochs', document->'epochs',
                'validation_curves', CASE WHEN jsonb_typeof(document->'validation_curves') = 'object'
                                          THEN jsonb_build_array(document->'validation_curves') END,
                'feature_baselines', document->'feature_baselines')),
            'featurizer_rows', jsonb_strip_nulls(jsonb_build_object(
                'feature_columns', document->'featurizer'->'columns',
                'feature_categories', document->'featurizer'->'categories',
                'feature_history', document->'featurizer'->'history')));
    END IF;
    IF target IS NULL OR target = '' THEN
        RAISE EXCEPTION 'the document names no model' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass model => ''name''.';
    END IF;
    IF jsonb_typeof(document->'version') IS DISTINCT FROM 'object' OR jsonb_typeof(document->'featurizer') IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the document has no version or featurizer' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(coalesce(document->'version_rows', '{}')) <> 'object'
       OR jsonb_typeof(coalesce(document->'featurizer_rows', '{}')) <> 'object'
       OR EXISTS (SELECT FROM jsonb_each(coalesce(document->'version_rows', '{}') || coalesce(document->'featurizer_rows', '{}')) r
                   WHERE jsonb_typeof(r.value) <> 'array') THEN
        RAISE EXCEPTION 'the document''s rows are not arrays of objects by table' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Export a model with dendrite.export_model.';
    END IF;
    -- A featurizer named after the exported model (fitted by train for it) follows the model's new name.
    featurizer_name := CASE WHEN document->'featurizer'->>'name' = document->'model'->>'name' THEN target
                            ELSE document->'featurizer'->>'name' END;

    SELECT m.model_id, m.owner INTO target_model_id, owner_name FROM dendrite.models m WHERE m.name = target FOR UPDATE;
    IF FOUND AND NOT dendrite.internal_may_manage(caller, owner_name) THEN
        RAISE EXCEPTION 'must be owner of model "%"', target USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s".', owner_name),
            HINT = 'Import under another name: dendrite.import_model(document, model => ''...'').';
    END IF;
    SELECT f.owner INTO owner_name FROM dendrite.featurizers f WHERE f.name = featurizer_name ORDER BY f.version LIMIT 1;
    IF FOUND AND NOT dendrite.internal_may_manage(caller, owner_name) THEN
        RAISE EXCEPTION 'must be owner of featurizer "%"', featurizer_name USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It belongs to role "%s".', owner_name);
    END IF;
    IF target_model_id IS NULL THEN
        INSERT INTO dendrite.models (name, task, configuration, owner)
        VALUES (target, coalesce(document->'model'->>'task', 'binary_classification'),
                coalesce(document->'model'->'configuration', document->'version'->'configuration'), caller)
        RETURNING model_id INTO target_model_id;
    END IF;

    INSERT INTO dendrite.featurizers (name, version, query, history_query, spec, input_columns, input_types, output_names, rows, owner)
    SELECT featurizer_name,
           coalesce((SELECT max(x.version) FROM dendrite.featurizers x WHERE x.name = featurizer_name), 0) + 1,
           f.query, f.history_query, f.spec, f.input_columns, f.input_types, f.output_names, f.rows, caller
      FROM jsonb_populate_record(NULL::dendrite.featurizers, document->'featurizer') f
    RETURNING featurizer_id INTO new_featurizer_id;

    SELECT coalesce(max(v.version), 0) + 1 INTO new_version FROM dendrite.model_versions v WHERE v.model_id = target_model_id;
    INSERT INTO dendrite.model_versions (model_id, version, featurizer_id, trained_at, trained_by, training_query,
                                         label_column, algorithm, configuration, hyperparameters, metrics, threshold,
                                         device, training_rows, validation_rows, seconds, status)
    SELECT target_model_id, new_version, new_featurizer_id, coalesce(v.trained_at, now()), coalesce(v.trained_by, caller),
           v.training_query, v.label_column, v.algorithm, v.configuration, v.hyperparameters, v.metrics, v.threshold,
           v.device, v.training_rows, v.validation_rows, v.seconds, 'trained'
      FROM jsonb_populate_record(NULL::dendrite.model_versions, document->'version') v
    RETURNING version_id INTO new_version_id;

    -- The rows that belong to each, table by table, with the new key (a key in the document is ignored; a
    -- table the document lacks gets no rows, a table this dendrite lacks is ignored).
    FOR owned IN SELECT p.member, p.key, o.*
                   FROM (VALUES ('featurizer_rows', 'dendrite.featurizers'::regclass, new_featurizer_id),
                                ('version_rows', 'dendrite.model_versions'::regclass, new_version_id)) AS p(member, parent, key),
                        dendrite.internal_owned_tables(p.parent) o LOOP
        EXECUTE format('INSERT INTO dendrite.%I SELECT row.* FROM jsonb_array_elements($2) r, '
                       'jsonb_populate_record(NULL::dendrite.%I, r || jsonb_build_object(%L, $1)) row',
                       owned.table_name, owned.table_name, owned.key_column)
          USING owned.key, coalesce(document->owned.member->owned.table_name, '[]');
    END LOOP;
    IF NOT EXISTS (SELECT FROM dendrite.parameters p WHERE p.version_id = new_version_id)
       AND NOT EXISTS (SELECT FROM dendrite.trees t WHERE t.version_id = new_version_id) THEN
        RAISE EXCEPTION 'the document has no parameters and no trees' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN new_version;
END
$$;
COMMENT ON FUNCTION dendrite.internal_import_model IS 'internal: the body of dendrite.import_model, run as the extension owner; checks the caller itself';

CREATE FUNCTION dendrite.import_model(document jsonb, model text DEFAULT NULL) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_import_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.import_model IS 'adds a model version (and its featurizer version) from a dendrite.export_model document, as a new version of the named model (default: the exported name); returns the version; deploy it to serve';

--------------------------------------------------------------------------------------------------------
-- The report: one self-contained HTML document, charts as inline SVG, no script
--------------------------------------------------------------------------------------------------------
CREATE FUNCTION dendrite.internal_html(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT replace(replace(replace(replace(replace(coalesce($1, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                           '"', '&quot;'), '''', '&#39;')
$$;
COMMENT ON FUNCTION dendrite.internal_html IS 'internal: text escaped for HTML';

-- A line chart of up to two series over one x axis, 420 x 300 pixels. Axes span [x_min, x_max] and
-- [y_min, y_max]; a NULL bound is the data's.
CREATE FUNCTION dendrite.internal_svg_chart(title text, x_label text, y_label text, x float8[], y1 float8[],
                                            name1 text, y2 float8[] DEFAULT NULL, name2 text DEFAULT NULL,
                                            x_min float8 DEFAULT NULL, x_max float8 DEFAULT NULL,
                                            y_min float8 DEFAULT NULL, y_max float8 DEFAULT NULL,
                                            diagonal boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    left_edge constant float8 := 60;
    top_edge constant float8 := 44;  -- the title and the legend above the plot
    width constant float8 := 340;
    height constant float8 := 206;
    lo_x float8 := coalesce(x_min, (SELECT min(v) FROM unnest(x) v));
    hi_x float8 := coalesce(x_max, (SELECT max(v) FROM unnest(x) v));
    lo_y float8 := coalesce(y_min, (SELECT min(v) FROM unnest(y1 || coalesce(y2, '{}')) v));
    hi_y float8 := coalesce(y_max, (SELECT max(v) FROM unnest(y1 || coalesce(y2, '{}')) v));
    whole_x boolean := NOT EXISTS (SELECT FROM unnest(x) v WHERE v <> round(v));
    svg text;
    series text;
    tick int;
    x_tick float8;
    x_step float8;  -- between whole-number x ticks
BEGIN
    IF hi_x IS NULL OR hi_y IS NULL THEN
        RETURN format('<p class="empty">%s: no data</p>', dendrite.internal_html(title));
    END IF;
    IF hi_x <= lo_x THEN hi_x := lo_x + 1; END IF;
    IF hi_y <= lo_y THEN hi_y := lo_y + 1; END IF;
    svg := format('<svg xmlns="http://www.w3.org/2000/svg" width="420" height="300" viewBox="0 0 420 300" role="img" aria-label="%1$s">'
                  '<text x="210" y="18" text-anchor="middle" class="title">%1$s</text>'
                  '<rect x="%2$s" y="%3$s" width="%4$s" height="%5$s" class="frame"/>'
                  '<text x="%6$s" y="292" text-anchor="middle">%7$s</text>'
                  '<text x="14" y="%8$s" text-anchor="middle" transform="rotate(-90 14 %8$s)">%9$s</text>',
                  dendrite.internal_html(title), left_edge, top_edge, width, height, left_edge + width / 2,
                  dendrite.internal_html(x_label), top_edge + height / 2, dendrite.internal_html(y_label));
    -- Five ticks on each axis; on an x axis of whole numbers (epochs, rounds), its ends and the multiples of a
    -- round step (1, 2, 5, 10, 20, 25, 50, 100, ...) between them, at most six, none crowding an end.
    IF whole_x THEN
        SELECT min(c.step) INTO x_step
          FROM unnest('{1,2,2.5,5}'::float8[]) m, generate_series(0, 15) k, LATERAL (SELECT m * 10 ^ k) c(step)
         WHERE c.step = round(c.step) AND (hi_x - lo_x) / c.step <= 5;
    END IF;
    FOR x_tick IN
        SELECT t FROM (SELECT lo_x + (hi_x - lo_x) * t / 4 FROM generate_series(0, 4) t WHERE NOT whole_x
                       UNION SELECT lo_x WHERE whole_x UNION SELECT hi_x WHERE whole_x
                       UNION SELECT m * x_step
                               FROM generate_series(ceil((lo_x + x_step / 2) / x_step)::bigint,
                                                    floor((hi_x - x_step / 2) / x_step)::bigint) m
                              WHERE whole_x) ticks(t)
         ORDER BY t
    LOOP
        svg := svg || format('<text x="%s" y="%s" text-anchor="middle" class="tick">%s</text>',
                             round((left_edge + (x_tick - lo_x) / (hi_x - lo_x) * width)::numeric, 1), top_edge + height + 14,
                             CASE WHEN whole_x THEN x_tick::bigint::text ELSE trim_scale(round(x_tick::numeric, 3))::text END);
    END LOOP;
    FOR tick IN 0..4 LOOP
        svg := svg || format('<text x="%s" y="%s" text-anchor="end" class="tick">%s</text>',
                             left_edge - 4, top_edge + height - height * tick / 4 + 4,
                             trim_scale(round((lo_y + (hi_y - lo_y) * tick / 4)::numeric, 3)));
    END LOOP;
    IF diagonal THEN
        svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="chance"/>', left_edge, top_edge + height,
                             left_edge + width, top_edge);
    END IF;
    FOR series IN
        SELECT format('<polyline class="%s" points="%s"/>', s.css,
                      string_agg(format('%s,%s', round((left_edge + (p.px - lo_x) / (hi_x - lo_x) * width)::numeric, 1),
                                        round((top_edge + height - (p.py - lo_y) / (hi_y - lo_y) * height)::numeric, 1)),
                                 ' ' ORDER BY p.i))
          FROM (VALUES (1, 'series1', y1), (2, 'series2', y2)) s(n, css, y)
          CROSS JOIN LATERAL unnest(x, s.y) WITH ORDINALITY p(px, py, i)
         WHERE s.y IS NOT NULL AND p.px IS NOT NULL AND p.py IS NOT NULL
         GROUP BY s.n, s.css ORDER BY s.n
    LOOP
        svg := svg || series;
    END LOOP;
    svg := svg || format('<text x="%s" y="%s" class="legend series1">&#8212; %s</text>', left_edge, top_edge - 8,
                         dendrite.internal_html(name1));
    IF y2 IS NOT NULL THEN
        svg := svg || format('<text x="%s" y="%s" class="legend series2">&#8212; %s</text>', left_edge + width / 2, top_edge - 8,
                             dendrite.internal_html(name2));
    END IF;
    RETURN svg || '</svg>';
END
$$;
COMMENT ON FUNCTION dendrite.internal_svg_chart IS 'internal: an SVG line chart for dendrite.report';

CREATE FUNCTION dendrite.report(model text, version int DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    curve record;
    feature_list text;
    importance text;
    settings text;
    alerts text;
    chosen text;
    histogram jsonb;
    deployed int;
    html text;
    metrics jsonb;  -- the version's validation metrics
    network_epochs int;  -- a blend's: its first epochs are the network's, then the trees' rounds, then its own
    progress text;  -- the charts per epoch (per round for trees)
    stage record;
BEGIN
    SELECT mv.*, m.name AS model_name, m.owner, f.name AS featurizer_name, f.version AS featurizer_version,
           f.output_names
      INTO v
      FROM dendrite.models m
      JOIN dendrite.model_versions mv ON mv.model_id = m.model_id
      JOIN dendrite.featurizers f ON f.featurizer_id = mv.featurizer_id
     WHERE m.name = $1
       AND mv.version = coalesce($2, (SELECT s.version FROM dendrite.serving_version($1) s));
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT FROM dendrite.models WHERE name = $1) THEN
            RAISE EXCEPTION 'model "%" does not exist', $1 USING ERRCODE = 'undefined_object';
        END IF;
        RAISE EXCEPTION 'model "%" has no version %', $1, $2 USING ERRCODE = 'undefined_object';
    END IF;
    metrics := v.metrics;
    deployed := (SELECT s.version FROM dendrite.serving_version($1) s);
    SELECT * INTO curve FROM dendrite.validation_curves c WHERE c.version_id = v.version_id;
    -- Progress per epoch; gbdt's per evaluated round, its validation loss alone (xgboost reports no training
    -- loss). A blend's stages apart: the network's epochs, the trees' rounds (stored numbered on after the
    -- epochs), and its own last row, which the metrics above already are.
    network_epochs := CASE WHEN v.algorithm = 'blend' THEN (metrics->>'network_epochs')::int END;
    progress := '';
    FOR stage IN
        SELECT s.title, s.unit, array_agg((e.epoch - s.shift)::float8 ORDER BY e.epoch) AS x,
               array_agg(e.loss ORDER BY e.epoch) AS loss, array_agg(e.validation_loss ORDER BY e.epoch) AS validation_loss,
               array_agg(e.pr_auc ORDER BY e.epoch) AS pr_auc, array_agg(e.roc_auc ORDER BY e.epoch) AS roc_auc
          FROM (VALUES (1, CASE WHEN network_epochs IS NOT NULL THEN ' (the network)' ELSE '' END,
                        CASE WHEN v.algorithm = 'gbdt' THEN 'round' ELSE 'epoch' END, 0, coalesce(network_epochs, 2147483647)),
                       (2, ' (the trees)', 'round', network_epochs,
                        (SELECT max(last.epoch) - 1 FROM dendrite.epochs last WHERE last.version_id = v.version_id))) s(n, title, unit, shift, upto)
          LEFT JOIN dendrite.epochs e ON e.version_id = v.version_id AND e.epoch > s.shift AND e.epoch <= s.upto
         WHERE s.shift IS NOT NULL
         GROUP BY s.n, s.title, s.unit, s.shift ORDER BY s.n
    LOOP
        progress := progress
            || CASE WHEN stage.unit = 'round'
                    THEN dendrite.internal_svg_chart(format('Validation loss per round%s', stage.title), 'round', 'loss',
                                                     stage.x, stage.validation_loss, 'validation', y_min => 0)
                    ELSE dendrite.internal_svg_chart(format('Loss per epoch%s', stage.title), 'epoch', 'loss', stage.x,
                                                     stage.loss, 'training', stage.validation_loss, 'validation', y_min => 0) END
            || dendrite.internal_svg_chart(format('PR-AUC and ROC-AUC per %s%s', stage.unit, stage.title), stage.unit,
                                           'validation', stage.x, stage.pr_auc, 'PR-AUC', stage.roc_auc, 'ROC-AUC',
                                           y_min => 0, y_max => 1);
    END LOOP;
    SELECT string_agg(format('<li>%s</li>', dendrite.internal_html(n)), '' ORDER BY i) INTO feature_list
      FROM unnest(v.output_names) WITH ORDINALITY o(n, i);
    -- What the model looks at: each input's mean |contribution| (measured at training), as bars.
    SELECT format('<p>Each input''s mean absolute contribution to the score''s logit on %s of the rows the metrics '
                  'come from (the reasons of dendrite.explain, averaged). A history declaration counts as one input.</p>'
                  '<table class="importance"><tr><th>input</th><th>mean |contribution|</th></tr>%s</table>',
                  min(i.rows),
                  string_agg(format('<tr><td class="name">%s</td><td class="bar"><span style="width:%spx"></span> %s</td></tr>',
                                    dendrite.internal_html(i.feature),
                                    round((300 * i.mean_abs_contribution / nullif(i.top, 0))::numeric),
                                    round(i.mean_abs_contribution::numeric, 4)), '' ORDER BY i.rank))
      INTO importance
      FROM (SELECT *, max(mean_abs_contribution) OVER () AS top FROM dendrite.validation_importance
             WHERE version_id = v.version_id) i;
    -- How the evaluation rows were chosen, and what the stored threshold means a day.
    chosen := CASE WHEN v.algorithm = 'autoencoder' AND metrics->>'evaluated_on' = 'training' THEN 'the training rows (no validation rows)'
                   WHEN v.algorithm = 'autoencoder' AND v.hyperparameters->>'split_column' IS NULL
                   THEN format('a random %s %% of the rows (seed %s; an autoencoder''s split ignores labels)',
                               round(100 * coalesce((v.hyperparameters->>'validation_fraction')::numeric, 0.2), 1),
                               dendrite.internal_html(v.hyperparameters->>'seed'))
                   WHEN metrics->>'evaluated_on' = 'training' THEN 'the training rows (no validation rows of both classes)'
                   WHEN v.hyperparameters->>'split_column' IS NOT NULL
                   THEN format('the last %s %% of the rows by %s (a split in time)',
                               round(100 * (v.hyperparameters->>'validation_fraction')::numeric, 1),
                               dendrite.internal_html(v.hyperparameters->>'split_column'))
                   ELSE format('a random %s %% of the rows, the same share of each class (seed %s)',
                               round(100 * coalesce((v.hyperparameters->>'validation_fraction')::numeric, 0.2), 1),
                               dendrite.internal_html(v.hyperparameters->>'seed')) END;
    alerts := CASE WHEN (metrics->>'tp') IS NULL THEN ''
              ELSE format('<p>At the stored threshold %s, %s of the %s evaluation rows are flagged (%s per 1,000)%s.</p>',
                          round(v.threshold::numeric, 4), (metrics->>'tp')::bigint + (metrics->>'fp')::bigint,
                          (metrics->>'tp')::bigint + (metrics->>'fp')::bigint + (metrics->>'tn')::bigint + (metrics->>'fn')::bigint,
                          round(1000.0 * ((metrics->>'tp')::bigint + (metrics->>'fp')::bigint)
                                / nullif((metrics->>'tp')::bigint + (metrics->>'fp')::bigint + (metrics->>'tn')::bigint + (metrics->>'fn')::bigint, 0), 2),
                          CASE WHEN (metrics->>'days_spanned')::float8 > 0 THEN
                               format(': at the %s rows a day of the training data (%s rows over %s days), about %s alerts a day',
                                      round((v.training_rows + v.validation_rows) / (metrics->>'days_spanned')::numeric),
                                      v.training_rows + v.validation_rows, round((metrics->>'days_spanned')::numeric, 1),
                                      round(((metrics->>'tp')::bigint + (metrics->>'fp')::bigint)::numeric
                                            / nullif((metrics->>'tp')::bigint + (metrics->>'fp')::bigint + (metrics->>'tn')::bigint + (metrics->>'fn')::bigint, 0)
                                            * (v.training_rows + v.validation_rows) / (metrics->>'days_spanned')::numeric, 1))
                               ELSE '' END) END;
    histogram := metrics->'score_histogram';
    SELECT string_agg(format('<tr><th>%s</th><td>%s</td></tr>', dendrite.internal_html(key), dendrite.internal_html(value)),
                      '' ORDER BY key)
      INTO settings FROM jsonb_each_text(v.hyperparameters);

    html := '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         || format('<title>dendrite: %s version %s</title>', dendrite.internal_html(v.model_name), v.version)
         || '<style>body{font-family:sans-serif;margin:2em;color:#222}h1{font-size:1.5em}'
            'table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}'
            'th{background:#eee}.charts{display:flex;flex-wrap:wrap;gap:1em}svg{background:#fff;border:1px solid #ddd}'
            'svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:bold}svg .tick{font-size:9px}'
            '.frame{fill:none;stroke:#999}.series1{fill:none;stroke:#1f77b4;stroke-width:2}'
            '.series2{fill:none;stroke:#d62728;stroke-width:2}text.series1,text.series2{stroke:none}'
            'text.series1{fill:#1f77b4}text.series2{fill:#d62728}.chance{stroke:#aaa;stroke-dasharray:4 4}'
            'ol{columns:3}li{overflow-wrap:anywhere}table.importance td.name,table.settings th{text-align:left;'
            'overflow-wrap:anywhere;max-width:30em}table.settings td{text-align:left}td.bar{text-align:left;'
            'white-space:nowrap}td.bar span{display:inline-block;height:10px;background:#1f77b4}</style></head><body>'
         || format('<h1>Model %s, version %s%s</h1>', dendrite.internal_html(v.model_name), v.version,
                   CASE WHEN deployed = v.version THEN ' (serving)' ELSE '' END)
         || format('<p>%s, trained %s by %s on %s rows (%s validation rows), %s s on %s. Featurizer %s version %s.</p>',
                   dendrite.internal_html(v.algorithm), to_char(v.trained_at, 'YYYY-MM-DD HH24:MI:SS TZ'),
                   dendrite.internal_html(v.trained_by), v.training_rows, v.validation_rows, round(v.seconds::numeric, 2),
                   dendrite.internal_html(v.device), dendrite.internal_html(v.featurizer_name), v.featurizer_version)
         || '<h2>Validation metrics</h2><table><tr><th>PR-AUC</th><th>ROC-AUC</th><th>recall at precision 0.9</th>'
            '<th>precision</th><th>recall</th><th>F1</th><th>threshold</th></tr>'
         || format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr></table>',
                   round((metrics->>'pr_auc')::numeric, 4), round((metrics->>'roc_auc')::numeric, 4),
                   round((metrics->>'recall_at_precision_90')::numeric, 4), round((metrics->>'precision')::numeric, 4),
                   round((metrics->>'recall')::numeric, 4), round((metrics->>'f1')::numeric, 4), round(v.threshold::numeric, 4))
         || format('<p>Metrics are measured on %s.</p>', chosen)
         || CASE WHEN v.algorithm = 'autoencoder'
                 THEN format('<p>An autoencoder: its score is the share of the training rows it reconstructed better than '
                             'this row, so the threshold %s flags about %s %% of rows like them.%s</p>',
                             round(v.threshold::numeric, 4), round(100 * (1 - v.threshold)::numeric, 2),
                             CASE WHEN metrics->>'labelled' = 'false'
                                  THEN ' It was trained without labels: only its losses and threshold are measured.'
                                  ELSE '' END)
                 ELSE '' END
         || format('<h2>Confusion matrix</h2><p>At threshold %s, on the %s rows.</p>', round(v.threshold::numeric, 4),
                   dendrite.internal_html(metrics->>'evaluated_on'))
         || '<table class="confusion"><tr><th></th><th>flagged</th><th>passed</th></tr>'
         || format('<tr><th>fraud</th><td>%s (TP)</td><td>%s (FN)</td></tr><tr><th>legitimate</th><td>%s (FP)</td><td>%s (TN)</td></tr></table>',
                   metrics->>'tp', metrics->>'fn', metrics->>'fp', metrics->>'tn')
         || '<h2>Curves</h2><div class="charts">'
         || CASE WHEN metrics->>'labelled' = 'false'
                 THEN '<p class="empty">No curves: it was trained without labels (dendrite.evaluate with a label measures it).</p>'
                 WHEN curve IS NULL THEN '<p class="empty">No curves: this version was trained before dendrite 0.4.0 (or imported from such a version).</p>'
            ELSE dendrite.internal_svg_chart('Precision-recall', 'recall', 'precision', curve.recall::float8[],
                                             curve.precision::float8[], format('PR-AUC %s', round((metrics->>'pr_auc')::numeric, 4)),
                                             x_min => 0, x_max => 1, y_min => 0, y_max => 1)
              || dendrite.internal_svg_chart('ROC', 'false positive rate', 'true positive rate',
                                             curve.false_positive_rate::float8[], curve.recall::float8[],
                                             format('ROC-AUC %s', round((metrics->>'roc_auc')::numeric, 4)),
                                             x_min => 0, x_max => 1, y_min => 0, y_max => 1, diagonal => true)
            END
         || progress
         || CASE WHEN jsonb_typeof(histogram->'fraud') = 'array' THEN
                 (SELECT dendrite.internal_svg_chart('Scores of each class', 'score', 'share of the class',
                                                     array_agg((i - 0.5) / bins ORDER BY i),
                                                     array_agg(f / nullif(fraud, 0) ORDER BY i), 'fraud',
                                                     array_agg(l / nullif(legitimate, 0) ORDER BY i), 'legitimate',
                                                     x_min => 0, x_max => 1, y_min => 0)
                    FROM (SELECT i, f::float8 AS f, l::float8 AS l, count(*) OVER () AS bins,
                                 sum(f::float8) OVER () AS fraud, sum(l::float8) OVER () AS legitimate
                            FROM jsonb_array_elements_text(histogram->'fraud') WITH ORDINALITY a(f, i)
                            JOIN jsonb_array_elements_text(histogram->'legitimate') WITH ORDINALITY b(l, j) ON i = j) bins)
            ELSE '' END
         || '</div>'
         || CASE WHEN alerts <> '' THEN '<h2>Alerts</h2>' || alerts ELSE '' END
         || '<h2>What the model looks at</h2>'
         || coalesce(importance, '<p class="empty">No importance: this version was trained before dendrite 0.6.0 (or imported from such a version).</p>')
         || format('<h2>Features (%s)</h2><ol>%s</ol>', coalesce(cardinality(v.output_names), 0), coalesce(feature_list, ''))
         || format('<h2>Training</h2><p>Query: <code>%s</code></p><p>Label: <code>%s</code></p>'
                   '<table class="settings"><tr><th>setting</th><td>value</td></tr>%s</table>',
                   dendrite.internal_html(v.training_query), dendrite.internal_html(v.label_column), coalesce(settings, ''))
         || '</body></html>';
    RETURN html;
END
$$;
COMMENT ON FUNCTION dendrite.report IS 'a self-contained HTML report of a model version (NULL: the serving one): metrics, confusion matrix, PR and ROC curves, loss and PR-AUC per epoch, features; save it with psql \o or dendritectl report';

--------------------------------------------------------------------------------------------------------
-- Derived features
--------------------------------------------------------------------------------------------------------

-- Immutable helpers for derived columns (create_featurizer's derived, or stored generated columns, which the
-- guards compute as PostgreSQL will store them). In C: no time zone, no catalog lookup, no SET clause.
CREATE FUNCTION dendrite.distance_km(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_distance_km'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.distance_km IS 'the great-circle distance in km between two points given in degrees (haversine, mean Earth radius 6371.0088 km); immutable, so usable in a derived column or a stored generated column (e.g. card holder to merchant)';

CREATE FUNCTION dendrite.age_years(born date, at timestamptz) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_age_years_tz'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.age_years(date, timestamptz) IS 'years of 365.25 days from midnight UTC of born to at (an age at a transaction); immutable, unlike casting a date to timestamptz';
CREATE FUNCTION dendrite.age_years(born date, at timestamp) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_age_years'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.age_years(date, timestamp) IS 'years of 365.25 days from midnight of born to at (an age at a transaction)';

--------------------------------------------------------------------------------------------------------
-- Demo data
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.generate_transactions(
    customers         int       DEFAULT 2000,
    terminals         int       DEFAULT 4000,
    days              int       DEFAULT 50,
    seed              bigint    DEFAULT 42,
    start_time        timestamp DEFAULT '2026-01-05 00:00:00',
    card_testing_from timestamp DEFAULT 'infinity'
) RETURNS TABLE (
    transaction_id    bigint,
    tx_time           timestamp,
    customer_id       int,
    terminal_id       int,
    amount            numeric(12,2),
    online            boolean,
    ip                inet,
    country           text,
    merchant_category text,
    is_fraud          boolean,
    fraud_scenario    int
)
AS 'MODULE_PATHNAME', 'dendrite_generate_transactions'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE ROWS 200000;
COMMENT ON FUNCTION dendrite.generate_transactions IS 'simulated card transactions with ~1% fraud (large amounts, compromised terminals, leaked cards; card testing from card_testing_from on), deterministic for a seed';

--------------------------------------------------------------------------------------------------------
-- Views
--------------------------------------------------------------------------------------------------------
CREATE VIEW dendrite.deployment_history AS
SELECT m.name AS model, v.version, d.action, d.strategy, d.deployed_at, d.deployed_by,
       d.deployment_id = max(d.deployment_id) OVER (PARTITION BY d.model_id) AS serving
  FROM dendrite.deployments d
  JOIN dendrite.models m USING (model_id)
  JOIN dendrite.model_versions v USING (version_id);

COMMENT ON VIEW dendrite.deployment_history IS 'every deploy and rollback, with the one serving each model marked';

CREATE VIEW dendrite.training_progress AS SELECT * FROM dendrite.training_progress();

COMMENT ON VIEW dendrite.training_progress IS 'the trainings in progress in any session (epochs: boosting rounds for gbdt)';

--------------------------------------------------------------------------------------------------------
-- Catalog triggers
--------------------------------------------------------------------------------------------------------
CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.models
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();

CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();

CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();

-- The rows a backend keeps of each version and featurizer it scores with (model_cache.hpp): an edit of them in
-- any session makes every backend check its kept rows against the catalog at its next lookup, and load the
-- edited ones again (validating them) instead of scoring on with what it read before. On a shard the
-- statement triggers do not fire for replicated changes: the row triggers version_rows_replicated (fired by
-- the replication worker only, as serving_versions_replicated) do the same there.
DO $version_rows$
DECLARE
    kept_table text;
BEGIN
    FOREACH kept_table IN ARRAY ARRAY['parameters', 'trees', 'feature_baselines', 'featurizers', 'feature_columns',
                                      'feature_categories', 'feature_history'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER version_rows_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                                  'ON dendrite.%I FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed()',
                                  kept_table);
        EXECUTE pg_catalog.format('CREATE TRIGGER version_rows_replicated AFTER INSERT OR UPDATE OR DELETE '
                                  'ON dendrite.%I FOR EACH ROW EXECUTE FUNCTION dendrite.catalog_changed()', kept_table);
        EXECUTE pg_catalog.format('ALTER TABLE dendrite.%I ENABLE REPLICA TRIGGER version_rows_replicated', kept_table);
    END LOOP;
END
$version_rows$;

CREATE TRIGGER forget_predictions AFTER DELETE ON dendrite.model_versions
    REFERENCING OLD TABLE AS deleted_versions FOR EACH STATEMENT EXECUTE FUNCTION dendrite.internal_forget_predictions();

--------------------------------------------------------------------------------------------------------
-- Scale-out (docs/scaleout.md): the coordinator publishes the catalog; each shard subscribes to it
--------------------------------------------------------------------------------------------------------
-- The shard a key lands on in a table hash-partitioned on it into `shards` equal partitions: PostgreSQL's
-- routing, immutable, so a derived column (and a history declaration's "within": "shard") can use it.
CREATE FUNCTION dendrite.shard_of(key anyelement, shards int) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_shard_of'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.shard_of IS 'the remainder of the partition a row with this key lands on in a table PARTITION BY HASH (key) with shards partitions of MODULUS shards (PostgreSQL''s own hash routing; a NULL key: 0)';

-- The tables a shard receives by logical replication: what defines, versions and deploys models. Not
-- predictions or outcomes: each shard logs and labels the decisions of its own rows.
CREATE FUNCTION dendrite.replicated_tables() RETURNS regclass[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
RETURN ARRAY['dendrite.models', 'dendrite.featurizers', 'dendrite.feature_columns', 'dendrite.feature_categories',
             'dendrite.feature_history', 'dendrite.model_versions', 'dendrite.parameters', 'dendrite.epochs',
             'dendrite.deployments', 'dendrite.trees', 'dendrite.validation_curves',
             'dendrite.validation_importance', 'dendrite.feature_baselines', 'dendrite.retrainings',
             'dendrite.tuning_trials']::regclass[];
COMMENT ON FUNCTION dendrite.replicated_tables IS 'the catalog tables a shard receives from the coordinator by logical replication (dendrite.create_catalog_publication publishes them)';

CREATE FUNCTION dendrite.create_catalog_publication(publication name DEFAULT 'dendrite_catalog') RETURNS name
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('wal_level') <> 'logical' THEN
        RAISE EXCEPTION 'the catalog cannot be published: wal_level is %', pg_catalog.current_setting('wal_level')
            USING ERRCODE = '55000', HINT = 'Set wal_level = logical in postgresql.conf and restart the server.';
    END IF;
    EXECUTE pg_catalog.format('CREATE PUBLICATION %I FOR TABLE %s', publication,
        (SELECT pg_catalog.string_agg(t::text, ', ') FROM pg_catalog.unnest(dendrite.replicated_tables()) t));
    RETURN publication;
END
$$;
COMMENT ON FUNCTION dendrite.create_catalog_publication IS 'on the coordinator: publishes dendrite''s catalog for the shards to subscribe to (run as the extension''s owner)';

-- On a shard (dendrite.catalog = replica) a session's write to a replicated table is refused; the logical
-- replication worker's are not (it runs with session_replication_role = replica, which skips these triggers).
CREATE FUNCTION dendrite.refuse_replica_catalog_write() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_refuse_replica_catalog_write'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.refuse_replica_catalog_write IS 'internal: refuses a write to a replicated catalog table where dendrite.catalog = replica';

DO $replica$
DECLARE
    replicated regclass;
BEGIN
    FOREACH replicated IN ARRAY dendrite.replicated_tables() LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER refuse_replica_catalog_write BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE '
                                  'ON %s FOR EACH STATEMENT EXECUTE FUNCTION dendrite.refuse_replica_catalog_write()',
                                  replicated);
    END LOOP;
END
$replica$;

-- Statement triggers do not fire for replicated changes: on a shard, these row triggers (fired by the
-- replication worker only) tell its backends to forget which versions serve, as serving_versions_changed does.
CREATE TRIGGER serving_versions_replicated AFTER INSERT OR UPDATE OR DELETE ON dendrite.models
    FOR EACH ROW EXECUTE FUNCTION dendrite.catalog_changed();
ALTER TABLE dendrite.models ENABLE REPLICA TRIGGER serving_versions_replicated;

CREATE TRIGGER serving_versions_replicated AFTER INSERT OR UPDATE OR DELETE ON dendrite.model_versions
    FOR EACH ROW EXECUTE FUNCTION dendrite.catalog_changed();
ALTER TABLE dendrite.model_versions ENABLE REPLICA TRIGGER serving_versions_replicated;

CREATE TRIGGER serving_versions_replicated AFTER INSERT OR UPDATE OR DELETE ON dendrite.deployments
    FOR EACH ROW EXECUTE FUNCTION dendrite.catalog_changed();
ALTER TABLE dendrite.deployments ENABLE REPLICA TRIGGER serving_versions_replicated;

-- On a shard, a version deleted by replication takes its logged decisions with it too (the statement trigger
-- forget_predictions does not fire for replicated changes).
CREATE FUNCTION dendrite.internal_forget_replicated_predictions() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM dendrite.predictions WHERE version_id = OLD.version_id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dendrite.internal_forget_replicated_predictions IS 'internal: on a shard, deletes the logged decisions of a model version deleted by logical replication';

CREATE TRIGGER forget_predictions_replicated AFTER DELETE ON dendrite.model_versions
    FOR EACH ROW EXECUTE FUNCTION dendrite.internal_forget_replicated_predictions();
ALTER TABLE dendrite.model_versions ENABLE REPLICA TRIGGER forget_predictions_replicated;

-- What serves on this server, per model; the coordinator's cluster_status reads it on every shard through
-- postgres_fdw. replicated_lsn: how far this server's catalog subscriptions have received the publisher's WAL.
CREATE VIEW dendrite.serving_versions AS
SELECT m.name AS model, s.version, s.version_id, s.deployed,
       coalesce(pg_catalog.current_setting('dendrite.catalog', true), 'primary') AS catalog,
       (SELECT pg_catalog.max(st.latest_end_lsn) FROM pg_catalog.pg_stat_subscription st
          JOIN pg_catalog.pg_subscription sub ON sub.oid = st.subid
         WHERE sub.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
           AS replicated_lsn
  FROM dendrite.models m, LATERAL dendrite.serving_version(m.name) s;
COMMENT ON VIEW dendrite.serving_versions IS 'per model: the version that serves it on this server, whether this server''s catalog is a replica, and how far its catalog subscription has received';

-- On the coordinator: per postgres_fdw server (a shard), what serves the model there, read through a
-- temporary foreign table on its dendrite.serving_versions (dropped again); a shard that cannot answer
-- gets its error.
CREATE FUNCTION dendrite.cluster_status(model text)
RETURNS TABLE (server name, serving_version int, version_id bigint, current boolean, catalog text,
               replicated_lsn pg_lsn, lag_bytes numeric, error text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    local_version_id bigint := (SELECT s.version_id FROM dendrite.serving_version(model) s);
    shard record;
    remote text;
BEGIN
    FOR shard IN SELECT srv.srvname FROM pg_foreign_server srv JOIN pg_foreign_data_wrapper w ON w.oid = srv.srvfdw
                  WHERE w.fdwname = 'postgres_fdw' ORDER BY srv.srvname LOOP
        server := shard.srvname;
        serving_version := NULL; version_id := NULL; current := NULL; catalog := NULL;
        replicated_lsn := NULL; lag_bytes := NULL; error := NULL;
        remote := 'dendrite_serving_versions_' || md5(shard.srvname);
        BEGIN
            EXECUTE format('CREATE FOREIGN TABLE pg_temp.%I (model text, version int, version_id bigint, catalog text,'
                           ' replicated_lsn pg_lsn) SERVER %I OPTIONS (schema_name ''dendrite'', table_name ''serving_versions'')',
                           remote, shard.srvname);
            EXECUTE format('SELECT version, version_id, catalog, replicated_lsn FROM pg_temp.%I WHERE model = $1', remote)
               INTO serving_version, version_id, catalog, replicated_lsn USING model;
            -- Dropped at once: a table left behind would hold up DROP SERVER.
            EXECUTE format('DROP FOREIGN TABLE pg_temp.%I', remote);
            IF version_id IS NULL THEN
                error := format('model "%s" does not exist there', model);
            END IF;
            current := version_id IS NOT DISTINCT FROM local_version_id AND version_id IS NOT NULL;
            IF replicated_lsn IS NOT NULL AND NOT pg_is_in_recovery() THEN
                lag_bytes := greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), replicated_lsn), 0);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            error := SQLERRM;
            current := false;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dendrite.cluster_status IS 'on the coordinator: per postgres_fdw server, the version serving the model there and whether it is the coordinator''s, with its catalog replication state';

-- For deploy scripts: waits until every shard serves the coordinator's version of the model. A procedure,
-- CALLed outside a transaction block: it commits between polls, so each poll sees new snapshots there. It
-- cannot pin search_path (a procedure with SET cannot commit), so its body calls functions by their
-- qualified names and uses no operator.
CREATE FUNCTION dendrite.internal_shards_behind(model text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(format('%s (%s)', s.server, coalesce(s.error,
                              'serves version ' || coalesce(s.serving_version::text, 'none'))), ', ' ORDER BY s.server)
          FROM dendrite.cluster_status(model) s WHERE NOT s.current);
COMMENT ON FUNCTION dendrite.internal_shards_behind IS 'internal: the servers that do not serve the coordinator''s version of a model, with why (wait_for_shards)';

CREATE PROCEDURE dendrite.wait_for_shards(model text, timeout interval DEFAULT '1 minute',
                                          INOUT all_current boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    deadline timestamptz := pg_catalog.timestamptz_pl_interval(pg_catalog.clock_timestamp(), timeout);
    behind text;
BEGIN
    LOOP
        behind := dendrite.internal_shards_behind(model);
        IF behind IS NULL THEN
            all_current := true;
            RETURN;
        END IF;
        IF pg_catalog.timestamptz_ge(pg_catalog.clock_timestamp(), deadline) THEN
            RAISE WARNING 'not every shard serves the coordinator''s version of model "%" after %', model, timeout
                USING DETAIL = pg_catalog.format('Behind: %s.', behind),
                      HINT = pg_catalog.format('SELECT * FROM dendrite.cluster_status(%L) shows each shard''s replication state.', model);
            all_current := false;
            RETURN;
        END IF;
        COMMIT;
        PERFORM pg_catalog.pg_sleep(0.1);
    END LOOP;
END
$$;
COMMENT ON PROCEDURE dendrite.wait_for_shards IS 'on the coordinator: waits (CALL, outside a transaction block) until every shard serves the coordinator''s version of the model; all_current is false after the timeout';

--------------------------------------------------------------------------------------------------------
-- Row security: a role sees the rows of what it manages
--------------------------------------------------------------------------------------------------------
ALTER TABLE dendrite.parameters ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.trees ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.predictions ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.feature_columns ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.feature_categories ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.feature_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY managed_models ON dendrite.parameters FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE v.version_id = parameters.version_id AND dendrite.may_manage(m.owner)));

CREATE POLICY managed_models ON dendrite.trees FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE v.version_id = trees.version_id AND dendrite.may_manage(m.owner)));

CREATE POLICY managed_models ON dendrite.predictions FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE v.version_id = predictions.version_id AND dendrite.may_manage(m.owner)));

CREATE POLICY managed_featurizers ON dendrite.feature_columns FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.featurizers f WHERE f.featurizer_id = feature_columns.featurizer_id AND dendrite.may_manage(f.owner)));

CREATE POLICY managed_featurizers ON dendrite.feature_categories FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.featurizers f WHERE f.featurizer_id = feature_categories.featurizer_id AND dendrite.may_manage(f.owner)));

CREATE POLICY managed_featurizers ON dendrite.feature_history FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.featurizers f WHERE f.featurizer_id = feature_history.featurizer_id AND dendrite.may_manage(f.owner)));

ALTER TABLE dendrite.feature_baselines ENABLE ROW LEVEL SECURITY;

ALTER TABLE dendrite.retrainings ENABLE ROW LEVEL SECURITY;

CREATE POLICY managed_models ON dendrite.feature_baselines FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE v.version_id = feature_baselines.version_id AND dendrite.may_manage(m.owner)));

CREATE POLICY managed_models ON dendrite.retrainings FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.models m WHERE m.model_id = retrainings.model_id AND dendrite.may_manage(m.owner)));

ALTER TABLE dendrite.tuning_trials ENABLE ROW LEVEL SECURITY;

CREATE POLICY managed_models ON dendrite.tuning_trials FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.models m WHERE m.model_id = tuning_trials.model_id AND dendrite.may_manage(m.owner)));

ALTER TABLE dendrite.outcomes ENABLE ROW LEVEL SECURITY;

CREATE POLICY readable ON dendrite.outcomes FOR SELECT USING (true);

CREATE POLICY labelled_by_table_writers_insert ON dendrite.outcomes FOR INSERT
    WITH CHECK (dendrite.internal_may_label(table_name));

CREATE POLICY labelled_by_table_writers_update ON dendrite.outcomes FOR UPDATE
    USING (dendrite.internal_may_label(table_name)) WITH CHECK (dendrite.internal_may_label(table_name));

CREATE POLICY labelled_by_table_writers_delete ON dendrite.outcomes FOR DELETE
    USING (dendrite.internal_may_label(table_name));

--------------------------------------------------------------------------------------------------------
-- Privileges. PUBLIC may use the schema and call only generate_transactions, distance_km, age_years, shard_of and
-- may_manage.
-- Scorers score, guard and read models' metadata; trainers also train and manage what they own, and read parameters,
-- trees, fitted statistics and logged predictions row by row for what they manage (row security above).
-- The catalog tables stay the extension owner's: dendrite's own catalog statements run as that owner.
--------------------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA dendrite TO PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA dendrite FROM PUBLIC;

GRANT EXECUTE ON FUNCTION dendrite.generate_transactions(int, int, int, bigint, timestamp, timestamp),
                          dendrite.distance_km(float8, float8, float8, float8),
                          dendrite.age_years(date, timestamptz),
                          dendrite.age_years(date, timestamp),
                          dendrite.shard_of(anyelement, int),
                          dendrite.may_manage(name) TO PUBLIC;

GRANT EXECUTE ON FUNCTION dendrite.predict(text, real[]),
                          dendrite.score(text, anyelement),
                          dendrite.score(text, anyelement, int),
                          dendrite.explain(text, anyelement, int, int),
                          dendrite.score_query(text, text, text, timestamp, int),
                          dendrite.feature_importance(text, text, int),
                          dendrite.explain_query(text, text, text, int, float8, timestamp, int),
                          dendrite.features(text, anyelement),
                          dendrite.observe(text, anyelement),
                          dendrite.featurize(text, text, text, timestamp),
                          dendrite.feature_names(text),
                          dendrite.serving_version(text),
                          dendrite.replicated_tables(),
                          dendrite.guard(),
                          dendrite.guard_batch(),
                          dendrite.training_progress(),
                          dendrite.report(text, int),
                          dendrite.internal_html(text),
                          dendrite.internal_svg_chart(text, text, text, float8[], float8[], text, float8[], text, float8,
                                                      float8, float8, float8, boolean),
                          dendrite.internal_may_label(text) TO dendrite_scorer;
GRANT SELECT ON dendrite.models, dendrite.model_versions, dendrite.epochs, dendrite.deployments, dendrite.featurizers,
                dendrite.deployment_history, dendrite.training_progress, dendrite.validation_curves,
                dendrite.validation_importance, dendrite.serving_versions TO dendrite_scorer;

GRANT EXECUTE ON FUNCTION dendrite.train(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint,
                                         text, text, timestamp, float8, boolean, text, text, text, int, jsonb),
                          dendrite.compare(text, text, text, text[], int, int, text, float8, text, text, int, bigint,
                                           text, timestamp, jsonb),
                          dendrite.internal_compare_check(text[]),
                          dendrite.internal_compare_learning_rate(text),
                          dendrite.internal_compare_row(text, int),
                          dendrite.internal_compare_time_column(text),
                          dendrite.internal_compare_leaderboard(text, int[], text, boolean, float8, bigint),
                          dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text, jsonb, jsonb),
                          dendrite.deploy(text, int, text, text),
                          dendrite.rollback(text),
                          dendrite.drop_model(text),
                          dendrite.drop_featurizer(text),
                          dendrite.evaluate(text, text, int, text, timestamp),
                          dendrite.record_outcome(regclass, text, boolean),
                          dendrite.model_health(text, interval),
                          dendrite.model_health_daily(text, interval),
                          dendrite.shadow_health(text, interval),
                          dendrite.internal_labelled_predictions(text, timestamptz),
                          dendrite.feature_drift(text, text, int, timestamp),
                          dendrite.retrain(text, text, text, text),
                          dendrite.internal_retraining_plan(text, text, text, text),
                          dendrite.record_retraining(text, int, int, text, text, bigint, bigint, float8, float8, timestamptz),
                          dendrite.schedule_retraining(text, text, text, text, text),
                          dendrite.unschedule_retraining(text),
                          dendrite.internal_cron_job_name(text),
                          dendrite.internal_require_cron(),
                          dendrite.export_model(text, int),
                          dendrite.internal_owned_tables(regclass),
                          dendrite.tune(text, text, text, text, jsonb, int, int, text, timestamp, text, interval, interval, bigint),
                          dendrite.internal_tune_plan(text, text, jsonb, int, int, text, text, interval, interval, bigint),
                          dendrite.internal_tune_arguments(jsonb),
                          dendrite.internal_check_training_settings(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint, text, text, timestamp, float8, boolean, text, text, text, int, jsonb),
                          dendrite.internal_tune_rungs(int),
                          dendrite.internal_tune_add(jsonb, int, int, float8, float8, text),
                          dendrite.internal_tune_failures(jsonb),
                          dendrite.internal_tune_means(jsonb, int[]),
                          dendrite.internal_tune_fold_set(int, int),
                          dendrite.internal_tune_work(jsonb, jsonb[], int, int, timestamp, interval, interval, text, text, timestamp),
                          dendrite.internal_tune_has_history(text, int),
                          dendrite.internal_tune_best(jsonb, int),
                          dendrite.record_tuning(text, int, text, jsonb[], jsonb, int, timestamp, interval, interval, text, int),
                          dendrite.internal_tuning_trials(bigint),
                          dendrite.import_model(jsonb, text),
                          dendrite.cluster_status(text),
                          dendrite.internal_shards_behind(text) TO dendrite_trainer;
REVOKE EXECUTE ON PROCEDURE dendrite.wait_for_shards(text, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE dendrite.wait_for_shards(text, interval, boolean) TO dendrite_trainer;
GRANT SELECT ON dendrite.parameters, dendrite.trees, dendrite.predictions, dendrite.feature_columns,
                dendrite.feature_categories, dendrite.feature_history, dendrite.feature_baselines,
                dendrite.retrainings, dendrite.tuning_trials TO dendrite_trainer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dendrite.outcomes TO dendrite_trainer;
