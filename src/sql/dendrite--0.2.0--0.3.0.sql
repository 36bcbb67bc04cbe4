-- dendrite 0.2.0 -> 0.3.0: privileges and the first of the lifecycle. A fresh CREATE EXTENSION runs 0.1.0, 0.1.0--0.2.0 and then this
-- script, so there is one definition of every object.
--   * Roles dendrite_scorer, dendrite_trainer (a scorer) and dendrite_admin (a trainer), created when
--     missing (roles belong to the cluster: a second database reuses them, DROP EXTENSION leaves them).
--   * Models and featurizers belong to the role that created them (owner); only a member of that role or
--     of dendrite_admin retrains, refits, deploys, rolls back or drops them.
--   * The catalog tables stay the extension owner's. dendrite's own catalog statements run as that owner
--     with search_path pinned; users' queries run with the caller's rights. PUBLIC may use the schema and
--     call nothing but generate_transactions and may_manage; parameters, trees, fitted statistics and
--     logged predictions are readable only by trainers, row by row for what they manage (row security).
--   * Lifecycle: dendrite.outcomes + record_outcome, model_health and model_health_daily over logged
--     decisions, export_model / import_model (one version as a jsonb document).
\echo Use "ALTER EXTENSION dendrite UPDATE TO '0.3.0'" to load this file. \quit

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

ALTER TABLE dendrite.featurizers ADD COLUMN owner name NOT NULL DEFAULT current_user;
COMMENT ON COLUMN dendrite.featurizers.owner IS 'the role that created the featurizer''s first version; only its members (and dendrite_admin) may refit or drop it';
COMMENT ON COLUMN dendrite.models.owner IS 'the role that first trained the model; only its members (and dendrite_admin) may retrain, deploy, roll back or drop it';

CREATE FUNCTION dendrite.may_manage(owner name) RETURNS boolean
AS 'MODULE_PATHNAME', 'dendrite_may_manage'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.may_manage IS 'whether the current user may manage (retrain, deploy, drop) what the role owner owns: a member of it, of dendrite_admin, or a superuser';

--------------------------------------------------------------------------------------------------------
-- deploy, rollback, drop_model and drop_featurizer: a C entry point checks that the caller may manage the
-- object, then runs dendrite.internal_<name>(..., caller) as the extension owner. The internal functions
-- are not executable by PUBLIC; caller fills the audit columns.
--------------------------------------------------------------------------------------------------------

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
        SELECT v.version_id, v.version INTO target_version_id, target_version
          FROM dendrite.model_versions v WHERE v.model_id = target_model_id
         ORDER BY (v.metrics->>metric)::float8 DESC NULLS LAST, v.version DESC LIMIT 1;
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

CREATE FUNCTION dendrite.internal_drop_model(model text, caller name) RETURNS void
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
COMMENT ON FUNCTION dendrite.internal_drop_model IS 'internal: the body of dendrite.drop_model, run as the extension owner once the caller is known to manage the model';

DROP FUNCTION dendrite.deploy(text, int, text, text);
CREATE FUNCTION dendrite.deploy(model text, version int DEFAULT NULL, strategy text DEFAULT NULL, metric text DEFAULT 'pr_auc')
RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.deploy IS 'makes a version of a model the one that scores (NULL: the latest; strategy => ''best'' picks the best by a stored validation metric); every session uses it from its next statement';

DROP FUNCTION dendrite.rollback(text);
CREATE FUNCTION dendrite.rollback(model text) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.rollback IS 'returns a model to the version deployed before the current deployment; returns that version';

DROP FUNCTION dendrite.drop_model(text);
CREATE FUNCTION dendrite.drop_model(model text) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_manage_model'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.drop_model IS 'drops a model with all its versions, parameters and epochs, and the featurizers fitted for it';

DROP FUNCTION dendrite.drop_featurizer(text);
CREATE FUNCTION dendrite.drop_featurizer(name text) RETURNS void
AS 'MODULE_PATHNAME', 'dendrite_manage_featurizer'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.drop_featurizer IS 'drops every version of a featurizer that no trained model uses';

--------------------------------------------------------------------------------------------------------
-- compare runs with the caller's search_path (train runs the caller's query with it), so its body uses no
-- operator, function or type that a caller's schema could stand in for: the checks and the leaderboard row
-- are in helpers that pin search_path.
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.internal_compare_check(algorithms text[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    candidate text;
BEGIN
    IF algorithms IS NULL OR cardinality(algorithms) = 0 THEN
        RAISE EXCEPTION 'algorithms must name at least one algorithm' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use a subset of {logistic_regression,mlp,gbdt}.';
    END IF;
    FOREACH candidate IN ARRAY algorithms LOOP
        IF candidate IS NULL OR candidate NOT IN ('logistic_regression', 'mlp', 'gbdt') THEN
            RAISE EXCEPTION 'unknown algorithm "%"', candidate USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Use a subset of {logistic_regression,mlp,gbdt}.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dendrite.internal_compare_check IS 'internal: compare''s check of its algorithms';

CREATE FUNCTION dendrite.internal_compare_learning_rate(algorithm text) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE algorithm WHEN 'logistic_regression' THEN 0.01 ELSE 0.001 END::float8 $$;
COMMENT ON FUNCTION dendrite.internal_compare_learning_rate IS 'internal: the learning rate compare trains each algorithm with';

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

CREATE OR REPLACE FUNCTION dendrite.compare(
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
    candidate pg_catalog.text;
    trained   dendrite.training_result;
    features  pg_catalog.text := compare.featurizer;
BEGIN
    PERFORM dendrite.internal_compare_check(compare.algorithms);
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
                                  split_column => compare.split_column,
                                  patience => compare.patience,
                                  options => compare.options);
        features := coalesce(features, compare.name);
        RETURN QUERY SELECT * FROM dendrite.internal_compare_row(compare.name, trained.version);
    END LOOP;
END
$$;

--------------------------------------------------------------------------------------------------------
-- Lifecycle (issue #7): outcomes fed back as labels, live health of a model, moving a version between
-- databases as one jsonb document.
--------------------------------------------------------------------------------------------------------

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

CREATE FUNCTION dendrite.record_outcome(guarded_table regclass, row_key text, is_fraud boolean) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO dendrite.outcomes AS o (table_name, row_key, is_fraud)
    SELECT format('%I.%I', n.nspname, c.relname), record_outcome.row_key, record_outcome.is_fraud
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = guarded_table
    ON CONFLICT ON CONSTRAINT outcomes_pkey DO UPDATE
       SET is_fraud = EXCLUDED.is_fraud, recorded_at = EXCLUDED.recorded_at, recorded_by = EXCLUDED.recorded_by;
END
$$;
-- model_health reads a model's decisions of a recent window: without this index it scans the whole log.
CREATE INDEX predictions_version_time ON dendrite.predictions (version_id, predicted_at);

COMMENT ON FUNCTION dendrite.record_outcome IS 'records that a guarded row (its table and key, as the guard logs them) was fraud or legitimate; a second call for a row replaces the first';

-- Shared by model_health and model_health_daily: the model's logged decisions since a time, with their
-- outcomes. Raises when the model does not exist or the caller may not manage it.
CREATE FUNCTION dendrite.internal_labelled_predictions(model text, since timestamptz)
RETURNS TABLE (version int, predicted_at timestamptz, score float8, flagged boolean, is_fraud boolean)
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
    RETURN QUERY
        SELECT v.version, p.predicted_at, p.score, p.decision = 'flag', o.is_fraud
          FROM dendrite.predictions p
          JOIN dendrite.model_versions v ON v.version_id = p.version_id
          JOIN dendrite.models m ON m.model_id = v.model_id
          LEFT JOIN dendrite.outcomes o ON o.table_name = p.table_name AND o.row_key = p.row_key
         WHERE m.name = internal_labelled_predictions.model AND p.predicted_at >= internal_labelled_predictions.since;
END
$$;
COMMENT ON FUNCTION dendrite.internal_labelled_predictions IS 'internal: a model''s logged decisions since a time, joined to their outcomes';

CREATE FUNCTION dendrite.model_health(model text, since interval DEFAULT '7 days')
RETURNS TABLE (serving_version int, window_start timestamptz, predictions bigint, flagged bigint, labelled bigint,
               tp bigint, fp bigint, tn bigint, fn bigint, "precision" float8, recall float8,
               labelled_fraud_rate float8, mean_score float8, score_psi float8)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    WITH window_start AS (SELECT now() - $2 AS t),
    recent AS (SELECT p.* FROM dendrite.internal_labelled_predictions($1, now() - 2 * $2) p),
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
     GROUP BY 1 ORDER BY 1
$$;
COMMENT ON FUNCTION dendrite.model_health_daily IS 'a model''s logged decisions per day: volumes, flags, recorded outcomes, true and false positives, mean score';

CREATE FUNCTION dendrite.export_model(model text, version int DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3  -- every real and float8 written so that it reads back bit for bit
AS $$
DECLARE
    m dendrite.models;
    v dendrite.model_versions;
    f dendrite.featurizers;
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
    RETURN jsonb_build_object(
        'format', 'dendrite-model',
        'format_version', 1,
        'extension_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'dendrite'),
        'exported_at', now(),
        'model', jsonb_build_object('name', m.name, 'task', m.task, 'configuration', m.configuration),
        'version', to_jsonb(v) - '{version_id,model_id,featurizer_id,status}'::text[],
        'featurizer', (to_jsonb(f) - '{featurizer_id,owner}'::text[]) || jsonb_build_object(
            'columns', (SELECT coalesce(jsonb_agg(to_jsonb(c) - 'featurizer_id' ORDER BY c.ordinal), '[]')
                          FROM dendrite.feature_columns c WHERE c.featurizer_id = f.featurizer_id),
            'categories', (SELECT coalesce(jsonb_agg(to_jsonb(c) - 'featurizer_id' ORDER BY c.ordinal, c.rank), '[]')
                             FROM dendrite.feature_categories c WHERE c.featurizer_id = f.featurizer_id),
            'history', (SELECT coalesce(jsonb_agg(to_jsonb(h) - 'featurizer_id' ORDER BY h.ordinal), '[]')
                          FROM dendrite.feature_history h WHERE h.featurizer_id = f.featurizer_id)),
        'parameters', (SELECT coalesce(jsonb_agg(to_jsonb(p) - 'version_id' ORDER BY p.layer_index, p.name), '[]')
                         FROM dendrite.parameters p WHERE p.version_id = v.version_id),
        'trees', (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'version_id' ORDER BY t.tree_index), '[]')
                    FROM dendrite.trees t WHERE t.version_id = v.version_id),
        'epochs', (SELECT coalesce(jsonb_agg(to_jsonb(e) - 'version_id' ORDER BY e.epoch), '[]')
                     FROM dendrite.epochs e WHERE e.version_id = v.version_id));
END
$$;
COMMENT ON FUNCTION dendrite.export_model IS 'a version of a model (NULL: the serving one) as one jsonb document: architecture, parameters or trees, epochs and its featurizer version; dendrite.import_model reads it back';

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
BEGIN
    IF document IS NULL OR jsonb_typeof(document) IS DISTINCT FROM 'object' OR document->>'format' IS DISTINCT FROM 'dendrite-model' THEN
        RAISE EXCEPTION 'the document is not a dendrite model export' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Export a model with dendrite.export_model.';
    END IF;
    IF jsonb_typeof(document->'format_version') IS DISTINCT FROM 'number' OR (document->>'format_version')::numeric <> 1 THEN
        RAISE EXCEPTION 'unsupported export format version %', coalesce(document->>'format_version', 'NULL')
            USING ERRCODE = 'feature_not_supported', HINT = 'This dendrite reads format version 1.';
    END IF;
    IF target IS NULL OR target = '' THEN
        RAISE EXCEPTION 'the document names no model' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass model => ''name''.';
    END IF;
    IF jsonb_typeof(document->'version') IS DISTINCT FROM 'object' OR jsonb_typeof(document->'featurizer') IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the document has no version or featurizer' USING ERRCODE = 'invalid_parameter_value';
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
    INSERT INTO dendrite.feature_columns
    SELECT new_featurizer_id, c.ordinal, c.column_name, c.kind, c.missing_indicator, c.center, c.scale, c.impute,
           c.unseen_value, c.outputs
      FROM jsonb_populate_recordset(NULL::dendrite.feature_columns, coalesce(document->'featurizer'->'columns', '[]')) c;
    INSERT INTO dendrite.feature_categories
    SELECT new_featurizer_id, c.ordinal, c.rank, c.category, c.value
      FROM jsonb_populate_recordset(NULL::dendrite.feature_categories, coalesce(document->'featurizer'->'categories', '[]')) c;
    INSERT INTO dendrite.feature_history
    SELECT new_featurizer_id, h.ordinal, h.output_name, h.center, h.scale
      FROM jsonb_populate_recordset(NULL::dendrite.feature_history, coalesce(document->'featurizer'->'history', '[]')) h;

    SELECT coalesce(max(v.version), 0) + 1 INTO new_version FROM dendrite.model_versions v WHERE v.model_id = target_model_id;
    INSERT INTO dendrite.model_versions (model_id, version, featurizer_id, trained_at, trained_by, training_query,
                                         label_column, algorithm, configuration, hyperparameters, metrics, threshold,
                                         device, training_rows, validation_rows, seconds, status)
    SELECT target_model_id, new_version, new_featurizer_id, coalesce(v.trained_at, now()), coalesce(v.trained_by, caller),
           v.training_query, v.label_column, v.algorithm, v.configuration, v.hyperparameters, v.metrics, v.threshold,
           v.device, v.training_rows, v.validation_rows, v.seconds, 'trained'
      FROM jsonb_populate_record(NULL::dendrite.model_versions, document->'version') v
    RETURNING version_id INTO new_version_id;
    INSERT INTO dendrite.parameters
    SELECT new_version_id, p.layer_index, p.layer, p.name, p.shape, p.value
      FROM jsonb_populate_recordset(NULL::dendrite.parameters, coalesce(document->'parameters', '[]')) p;
    INSERT INTO dendrite.trees
    SELECT new_version_id, t.tree_index, t.left_child, t.right_child, t.feature, t.threshold, t.value, t.default_left
      FROM jsonb_populate_recordset(NULL::dendrite.trees, coalesce(document->'trees', '[]')) t;
    INSERT INTO dendrite.epochs
    SELECT new_version_id, e.epoch, e.loss, e.validation_loss, e.precision, e.recall, e.f1, e.pr_auc, e.roc_auc,
           e.tp, e.fp, e.tn, e.fn, e.threshold, e.seconds
      FROM jsonb_populate_recordset(NULL::dendrite.epochs, coalesce(document->'epochs', '[]')) e;
    IF NOT EXISTS (SELECT FROM dendrite.parameters p WHERE p.version_id = new_version_id)
       AND NOT EXISTS (SELECT FROM dendrite.trees t WHERE t.version_id = new_version_id) THEN
        RAISE EXCEPTION 'the document has no parameters and no trees' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN new_version;
END
$$;
COMMENT ON FUNCTION dendrite.internal_import_model IS 'internal: the body of dendrite.import_model, run as the extension owner; checks the caller itself';

CREATE FUNCTION dendrite.import_model(document jsonb, model text DEFAULT NULL) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_as_extension_owner'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.import_model IS 'adds a model version (and its featurizer version) from a dendrite.export_model document, as a new version of the named model (default: the exported name); returns the version; deploy it to serve';

CREATE FUNCTION dendrite.internal_may_manage(caller name, owner name) RETURNS boolean
AS 'MODULE_PATHNAME', 'dendrite_internal_may_manage'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.internal_may_manage IS 'internal: whether a caller given to an internal_ function may manage what owner owns';

--------------------------------------------------------------------------------------------------------
-- Grants. Functions: nothing to PUBLIC but the schema, the demo generator and may_manage. A later script
-- that adds a function must revoke PUBLIC's EXECUTE on it and grant it to the right role.
--------------------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA dendrite TO PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA dendrite FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.generate_transactions(int, int, int, bigint, timestamp),
                          dendrite.may_manage(name) TO PUBLIC;

GRANT EXECUTE ON FUNCTION dendrite.predict(text, real[]),
                          dendrite.score(text, anyelement),
                          dendrite.score_query(text, text, text, timestamp),
                          dendrite.features(text, anyelement),
                          dendrite.observe(text, anyelement),
                          dendrite.featurize(text, text, text, timestamp),
                          dendrite.feature_names(text),
                          dendrite.serving_version(text),
                          dendrite.guard(),
                          dendrite.guard_batch(),
                          dendrite.training_progress() TO dendrite_scorer;
GRANT SELECT ON dendrite.models, dendrite.model_versions, dendrite.epochs, dendrite.deployments, dendrite.featurizers,
                dendrite.deployment_history, dendrite.training_progress TO dendrite_scorer;

GRANT EXECUTE ON FUNCTION dendrite.train(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint,
                                         text, text, timestamp, float8, boolean, text, text, text, int, jsonb),
                          dendrite.compare(text, text, text, text[], int, int, text, float8, text, text, int, bigint,
                                           text, timestamp, jsonb),
                          dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text),
                          dendrite.deploy(text, int, text, text),
                          dendrite.rollback(text),
                          dendrite.drop_model(text),
                          dendrite.drop_featurizer(text),
                          dendrite.internal_compare_check(text[]),
                          dendrite.internal_compare_learning_rate(text),
                          dendrite.internal_compare_row(text, int),
                          dendrite.record_outcome(regclass, text, boolean),
                          dendrite.model_health(text, interval),
                          dendrite.model_health_daily(text, interval),
                          dendrite.internal_labelled_predictions(text, timestamptz),
                          dendrite.export_model(text, int),
                          dendrite.import_model(jsonb, text) TO dendrite_trainer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dendrite.outcomes TO dendrite_trainer;

-- What a model is made of, what its featurizer learned from the data and what it decided: readable by
-- trainers for the models and featurizers they manage, row by row. The extension owner (the tables'
-- owner) is not subject to these policies.
GRANT SELECT ON dendrite.parameters, dendrite.trees, dendrite.predictions, dendrite.feature_columns,
                dendrite.feature_categories, dendrite.feature_history TO dendrite_trainer;
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
