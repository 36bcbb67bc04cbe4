-- dendrite 0.2.0 -> 0.3.0: privileges. A fresh CREATE EXTENSION runs 0.1.0, 0.1.0--0.2.0 and then this
-- script, so there is one definition of every object.
--   * Roles dendrite_scorer, dendrite_trainer (a scorer) and dendrite_admin (a trainer), created when
--     missing (roles belong to the cluster: a second database reuses them, DROP EXTENSION leaves them).
--   * Models and featurizers belong to the role that created them (owner); only a member of that role or
--     of dendrite_admin retrains, refits, deploys, rolls back or drops them.
--   * The catalog tables stay the extension owner's. dendrite's own catalog statements run as that owner
--     with search_path pinned; users' queries run with the caller's rights. PUBLIC may use the schema and
--     call nothing but generate_transactions and may_manage; parameters, trees, fitted statistics and
--     logged predictions are readable only by trainers, row by row for what they manage (row security).
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
                          dendrite.internal_compare_row(text, int) TO dendrite_trainer;

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
