-- dendrite 0.1.0: train neural networks over queries, store their parameters as rows, score rows.
\echo Use "CREATE EXTENSION dendrite" to load this file. \quit

--------------------------------------------------------------------------------------------------------
-- Catalog. Every table is registered with pg_extension_config_dump, so pg_dump keeps models.
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
    input_types   text[] NOT NULL, -- type class of each input when fitted: number, integer, boolean, text, timestamp, inet
    output_names  text[] NOT NULL,
    rows          bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
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
    label_column    text NOT NULL,
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
    UNIQUE (model_id, version)
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
COMMENT ON TABLE dendrite.parameters IS 'one row per named tensor of a model version (model as code, parameters as data); rows of a version are immutable';

CREATE TABLE dendrite.epochs (
    version_id      bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    epoch           int NOT NULL,
    loss            float8 NOT NULL,
    validation_loss float8 NOT NULL,
    precision       float8 NOT NULL,
    recall          float8 NOT NULL,
    f1              float8 NOT NULL,
    pr_auc          float8 NOT NULL,
    roc_auc         float8 NOT NULL,
    tp              bigint NOT NULL,
    fp              bigint NOT NULL,
    tn              bigint NOT NULL,
    fn              bigint NOT NULL,
    threshold       float8 NOT NULL,
    seconds         float8 NOT NULL,
    PRIMARY KEY (version_id, epoch)
);
COMMENT ON TABLE dendrite.epochs IS 'per training run and epoch: losses and validation metrics at that epoch''s max-F1 threshold';

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

--------------------------------------------------------------------------------------------------------
-- Training
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
    device          text
);

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
    since               timestamp DEFAULT NULL
) RETURNS dendrite.training_result
AS 'MODULE_PATHNAME', 'dendrite_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.train IS 'trains a new version of a model on the rows of a query, featurized by the named featurizer (or one fitted on the query), and stores its parameters as rows';

--------------------------------------------------------------------------------------------------------
-- Scoring
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.predict(model text, features real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_predict'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.predict IS 'scores a feature vector (the output of dendrite.features for the model''s featurizer) with the latest version of a model';

CREATE FUNCTION dendrite.score(model text, "row" anyelement) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.score IS 'scores a row with the latest version of a model and the featurizer version it was trained with; columns are matched by name';

CREATE FUNCTION dendrite.score_query(model text, query text, key text DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (key text, score float8)
AS 'MODULE_PATHNAME', 'dendrite_score_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.score_query IS 'scores every row of a query in one ordered pass (history features computed offline); rows before since only build history';

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
    history_query text      DEFAULT NULL
) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_create_featurizer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.create_featurizer IS 'fits a new version of a featurizer on the rows of a query and stores what it learned as rows; returns the version';

CREATE FUNCTION dendrite.features(featurizer text, "row" anyelement) RETURNS real[]
AS 'MODULE_PATHNAME', 'dendrite_features'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.features IS 'the feature vector of a row under the latest version of a featurizer (history features from this backend''s inline state)';

CREATE FUNCTION dendrite.observe(featurizer text, "row" anyelement) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_observe'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.observe IS 'adds a row to this backend''s inline history state of a featurizer';

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
          WHERE m.name = $1 ORDER BY v.version DESC LIMIT 1),
        (SELECT output_names FROM dendrite.featurizers WHERE name = $1 ORDER BY version DESC LIMIT 1))
$$;
COMMENT ON FUNCTION dendrite.feature_names IS 'the names of the features of a model''s latest version (or of a featurizer''s latest version), in the order dendrite.predict expects';

CREATE FUNCTION dendrite.drop_featurizer(name text) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM dendrite.model_versions v JOIN dendrite.featurizers f USING (featurizer_id) WHERE f.name = drop_featurizer.name) THEN
        RAISE EXCEPTION 'featurizer "%" is used by trained models', drop_featurizer.name
            USING ERRCODE = 'dependent_objects_still_exist', HINT = 'Drop those models first.';
    END IF;
    DELETE FROM dendrite.featurizers f WHERE f.name = drop_featurizer.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'featurizer "%" does not exist', drop_featurizer.name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION dendrite.drop_featurizer IS 'drops every version of a featurizer that no trained model uses';

CREATE FUNCTION dendrite.drop_model(model text) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped_featurizers bigint[];
BEGIN
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
COMMENT ON FUNCTION dendrite.drop_model IS 'drops a model with all its versions, parameters and epochs, and the featurizers fitted for it';

--------------------------------------------------------------------------------------------------------
-- Demo data
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.generate_transactions(
    customers  int       DEFAULT 2000,
    terminals  int       DEFAULT 4000,
    days       int       DEFAULT 50,
    seed       bigint    DEFAULT 42,
    start_time timestamp DEFAULT '2026-01-05 00:00:00'
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
COMMENT ON FUNCTION dendrite.generate_transactions IS 'simulated card transactions with ~1% fraud (large amounts, compromised terminals, leaked cards), deterministic for a seed';
