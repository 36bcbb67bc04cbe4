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
CREATE INDEX ON dendrite.deployments (model_id, deployment_id);
COMMENT ON TABLE dendrite.deployments IS 'every deploy and rollback of a model; the newest row of a model names the version that scores';

-- Decisions of the guard triggers that log ('log' action): the feedback loop joins outcomes to these.
CREATE TABLE dendrite.predictions (
    version_id   bigint NOT NULL REFERENCES dendrite.model_versions ON DELETE CASCADE,
    table_name   text NOT NULL,   -- the guarded table, schema-qualified
    row_key      text,            -- the guarded row's key column, as text (NULL when the table has none)
    score        float8 NOT NULL,
    threshold    float8 NOT NULL,
    decision     text NOT NULL CHECK (decision IN ('pass', 'flag')),
    predicted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON dendrite.predictions (table_name, row_key);
COMMENT ON TABLE dendrite.predictions IS 'decisions logged by dendrite.guard and dendrite.guard_batch (rejected rows are not: their transaction is rolled back)';

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

-- Backends cache which version serves each model; a change to these tables (by any session, by hand or
-- by pg_restore) tells every backend to forget that cache at its next statement.
CREATE FUNCTION dendrite.catalog_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_catalog_changed'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.catalog_changed IS 'internal: invalidates every backend''s cache of serving versions';
CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.models
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();
CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();
CREATE TRIGGER serving_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dendrite.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION dendrite.catalog_changed();

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
COMMENT ON FUNCTION dendrite.predict IS 'scores a feature vector (the output of dendrite.features for the model''s featurizer) with the serving version of a model (dendrite.serving_version)';

CREATE FUNCTION dendrite.score(model text, "row" anyelement) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.score IS 'scores a row with the serving version of a model (dendrite.serving_version) and the featurizer version it was trained with; columns are matched by name';

CREATE FUNCTION dendrite.score_query(model text, query text, key text DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (key text, score float8)
AS 'MODULE_PATHNAME', 'dendrite_score_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.score_query IS 'scores every row of a query in one ordered pass (history features computed offline); rows before since only build history';

--------------------------------------------------------------------------------------------------------
-- Deployment and inline scoring
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.deploy(model text, version int DEFAULT NULL, strategy text DEFAULT NULL, metric text DEFAULT 'pr_auc')
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
BEGIN
    IF model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The model row's lock serialises deploys, rollbacks and trainings of one model.
    SELECT m.model_id INTO target_model_id FROM dendrite.models m WHERE m.name = deploy.model FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', deploy.model USING ERRCODE = 'undefined_object',
            HINT = 'Train it first with dendrite.train.';
    END IF;
    IF version IS NOT NULL AND strategy IS NOT NULL THEN
        RAISE EXCEPTION 'give either a version or a strategy, not both' USING ERRCODE = 'invalid_parameter_value';
    ELSIF version IS NOT NULL THEN
        how := 'version';
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v WHERE v.model_id = target_model_id AND v.version = deploy.version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'model "%" has no version %', deploy.model, deploy.version USING ERRCODE = 'undefined_object';
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
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v WHERE v.model_id = target_model_id
         ORDER BY (v.metrics->>metric)::float8 DESC NULLS LAST, v.version DESC LIMIT 1;
    ELSE
        RAISE EXCEPTION 'unknown deployment strategy "%"', strategy USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''latest'' or ''best'', or name a version.';
    END IF;
    IF target_version_id IS NULL THEN
        RAISE EXCEPTION 'model "%" has no trained version', deploy.model USING ERRCODE = 'undefined_object';
    END IF;

    SELECT d.deployment_id INTO current_deployment FROM dendrite.deployments d
     WHERE d.model_id = target_model_id ORDER BY d.deployment_id DESC LIMIT 1;
    INSERT INTO dendrite.deployments (model_id, version_id, action, strategy, replaces)
    VALUES (target_model_id, target_version_id, 'deploy', how, current_deployment);
    UPDATE dendrite.model_versions v SET status = CASE WHEN v.version_id = target_version_id THEN 'deployed' ELSE 'trained' END
     WHERE v.model_id = target_model_id AND (v.status = 'deployed' OR v.version_id = target_version_id);
    RETURN target_version;
END
$$;
COMMENT ON FUNCTION dendrite.deploy IS 'makes a version of a model the one that scores (NULL: the latest; strategy => ''best'' picks the best by a stored validation metric); every session uses it from its next statement';

CREATE FUNCTION dendrite.rollback(model text) RETURNS int
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_model_id bigint;
    current_row dendrite.deployments;
    earlier dendrite.deployments;
    earlier_version int;
BEGIN
    SELECT m.model_id INTO target_model_id FROM dendrite.models m WHERE m.name = rollback.model FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', rollback.model USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO current_row FROM dendrite.deployments d WHERE d.model_id = target_model_id ORDER BY d.deployment_id DESC LIMIT 1;
    IF current_row.replaces IS NULL THEN
        RAISE EXCEPTION 'model "%" has no earlier deployment to roll back to', rollback.model
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN current_row.deployment_id IS NULL THEN 'It was never deployed.'
                                ELSE 'Its first deployment is the one serving.' END;
    END IF;
    SELECT * INTO earlier FROM dendrite.deployments d WHERE d.deployment_id = current_row.replaces;
    -- The rollback takes the place of the deployment it returns to: a second rollback goes one further back.
    INSERT INTO dendrite.deployments (model_id, version_id, action, strategy, replaces)
    VALUES (target_model_id, earlier.version_id, 'rollback', NULL, earlier.replaces);
    UPDATE dendrite.model_versions v SET status = CASE WHEN v.version_id = earlier.version_id THEN 'deployed' ELSE 'trained' END
     WHERE v.model_id = target_model_id AND (v.status = 'deployed' OR v.version_id = earlier.version_id);
    SELECT v.version INTO earlier_version FROM dendrite.model_versions v WHERE v.version_id = earlier.version_id;
    RETURN earlier_version;
END
$$;
COMMENT ON FUNCTION dendrite.rollback IS 'returns a model to the version deployed before the current deployment; returns that version';

CREATE VIEW dendrite.deployment_history AS
SELECT m.name AS model, v.version, d.action, d.strategy, d.deployed_at, d.deployed_by,
       d.deployment_id = max(d.deployment_id) OVER (PARTITION BY d.model_id) AS serving
  FROM dendrite.deployments d
  JOIN dendrite.models m USING (model_id)
  JOIN dendrite.model_versions v USING (version_id);
COMMENT ON VIEW dendrite.deployment_history IS 'every deploy and rollback, with the one serving each model marked';

CREATE FUNCTION dendrite.guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_guard'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.guard IS 'BEFORE INSERT OR UPDATE row trigger: guard(model, action [, threshold [, columns [, key]]]) scores NEW with the serving version and rejects, flags and/or logs it';

CREATE FUNCTION dendrite.guard_batch() RETURNS trigger
AS 'MODULE_PATHNAME', 'dendrite_guard_batch'
LANGUAGE C;
COMMENT ON FUNCTION dendrite.guard_batch IS 'AFTER INSERT ... REFERENCING NEW TABLE statement trigger: scores every new row of a statement in one batched pass; same arguments as dendrite.guard';

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
          WHERE v.version_id = (SELECT version_id FROM dendrite.serving_version($1))),
        (SELECT output_names FROM dendrite.featurizers WHERE name = $1 ORDER BY version DESC LIMIT 1))
$$;
COMMENT ON FUNCTION dendrite.feature_names IS 'the names of the features of a model''s serving version (or of a featurizer''s latest version), in the order dendrite.predict expects';

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
