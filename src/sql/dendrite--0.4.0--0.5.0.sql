-- dendrite 0.4.0 -> 0.5.0: security and integrity (issue #22). A fresh CREATE EXTENSION runs 0.1.0 and every
-- update script in turn, so there is one definition of every object.
--   * Stored queries (a featurizer's history query, a version's training query that retrain reuses) run as
--     the owner of the object that stores them, with the search_path stored beside them (new columns), as a
--     view's query runs as its owner. retrain passes no query to train, which reuses the stored one so.
--   * Outcomes: a role records (or changes) the outcome of a guarded row only where it may update the table.
--   * import_model validates the version it adds, as the cache loader does, before it commits.
\echo Use "ALTER EXTENSION dendrite UPDATE TO '0.5.0'" to load this file. \quit

--------------------------------------------------------------------------------------------------------
-- The search_path a stored query resolves names in: the schemas of its author's path when it was stored
-- (quoted, comma-separated, without the temporary schema). NULL (rows stored before 0.5.0, imported
-- versions): "$user", public. pg_temp is always searched last.
--------------------------------------------------------------------------------------------------------

ALTER TABLE dendrite.featurizers ADD COLUMN search_path text;
COMMENT ON COLUMN dendrite.featurizers.search_path IS 'the search_path its query and history_query run with, as its owner (NULL: "$user", public)';
ALTER TABLE dendrite.model_versions ADD COLUMN search_path text;
COMMENT ON COLUMN dendrite.model_versions.search_path IS 'the search_path its training_query runs with when retrain reuses it, as the model''s owner (NULL: "$user", public)';

--------------------------------------------------------------------------------------------------------
-- Outcomes: anyone who may read them reads them all (model_health joins them to its decisions), but a role
-- writes only those of tables it may update: another team's labels, and so its model_health, are not
-- its to change.
--------------------------------------------------------------------------------------------------------

CREATE FUNCTION dendrite.internal_may_label(table_name text) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(has_table_privilege(to_regclass($1), 'UPDATE'), false) $$;
COMMENT ON FUNCTION dendrite.internal_may_label IS 'internal: whether the current user may record outcomes of a guarded table (it may update it)';

ALTER TABLE dendrite.outcomes ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON dendrite.outcomes FOR SELECT USING (true);
CREATE POLICY labelled_by_table_writers_insert ON dendrite.outcomes FOR INSERT
    WITH CHECK (dendrite.internal_may_label(table_name));
CREATE POLICY labelled_by_table_writers_update ON dendrite.outcomes FOR UPDATE
    USING (dendrite.internal_may_label(table_name)) WITH CHECK (dendrite.internal_may_label(table_name));
CREATE POLICY labelled_by_table_writers_delete ON dendrite.outcomes FOR DELETE
    USING (dendrite.internal_may_label(table_name));

CREATE OR REPLACE FUNCTION dendrite.record_outcome(guarded_table regclass, row_key text, is_fraud boolean) RETURNS void
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
    INSERT INTO dendrite.outcomes AS o (table_name, row_key, is_fraud)
    SELECT format('%I.%I', n.nspname, c.relname), record_outcome.row_key, record_outcome.is_fraud
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = guarded_table
    ON CONFLICT ON CONSTRAINT outcomes_pkey DO UPDATE
       SET is_fraud = EXCLUDED.is_fraud, recorded_at = EXCLUDED.recorded_at, recorded_by = EXCLUDED.recorded_by;
END
$$;

--------------------------------------------------------------------------------------------------------
-- retrain: without a query, train reuses the serving version's stored query itself, run as the model's
-- owner (a caller with more rights, an admin or a superuser, never runs it with theirs).
--------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dendrite.retrain(model text, query text DEFAULT NULL, evaluation_query text DEFAULT NULL,
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
COMMENT ON FUNCTION dendrite.train(text, text, text, text, int[], text, int, int, float8, text, text, float8, bigint,
                                   text, text, timestamp, float8, boolean, text, text, text, int, jsonb)
    IS 'trains a new version of a model on the rows of a query (NULL: the serving version''s stored query, run as the model''s owner), featurized by the named featurizer (or one fitted on the query), and stores its parameters as rows';

--------------------------------------------------------------------------------------------------------
-- import_model: the version it adds is loaded and validated (shapes, counts, finiteness, tree indices,
-- featurizer statistics) before the function returns; a bad document is XX001 and nothing is kept.
--------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dendrite.import_model(document jsonb, model text DEFAULT NULL) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_import_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

--------------------------------------------------------------------------------------------------------
-- Grants: nothing new to PUBLIC. internal_may_label is called by the outcomes policies as the caller.
--------------------------------------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION dendrite.internal_may_label(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.internal_may_label(text) TO dendrite_scorer;
