-- dendrite 0.5.0 -> 0.6.0: one description of a model version's rows (issue #23). export_model writes, and
-- import_model reads, every table of rows that belong to a version or a featurizer version generically
-- (format_version 2: "version_rows" and "featurizer_rows", table name -> rows); import_model still reads
-- format 1. Derived columns (issue #24): create_featurizer's derived (SQL expressions over the row), and the
-- immutable helpers dendrite.distance_km and dendrite.age_years; the guards compute stored generated columns as
-- PostgreSQL will store them. src/sql/dendrite.sql is the whole of 0.6.0.
\echo Use "ALTER EXTENSION dendrite UPDATE TO '0.6.0'" to load this file. \quit

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

CREATE OR REPLACE FUNCTION dendrite.export_model(model text, version int DEFAULT NULL) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION dendrite.internal_import_model(document jsonb, model text, caller name) RETURNS int
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

REVOKE EXECUTE ON FUNCTION dendrite.internal_owned_tables(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.internal_owned_tables(regclass) TO dendrite_trainer;

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
REVOKE EXECUTE ON FUNCTION dendrite.distance_km(float8, float8, float8, float8),
                           dendrite.age_years(date, timestamptz),
                           dendrite.age_years(date, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.distance_km(float8, float8, float8, float8),
                          dendrite.age_years(date, timestamptz),
                          dendrite.age_years(date, timestamp) TO PUBLIC;

-- create_featurizer's derived columns: SQL expressions over the row, compiled with PostgreSQL's own parser
-- and evaluated the same way offline and inline.
DROP FUNCTION dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text);
CREATE FUNCTION dendrite.create_featurizer(
    name          text,
    query         text,
    columns       jsonb     DEFAULT NULL,
    history       jsonb     DEFAULT NULL,
    label         text      DEFAULT NULL,
    nonfinite     text      DEFAULT 'error',
    since         timestamp DEFAULT NULL,
    history_query text      DEFAULT NULL,
    derived       jsonb     DEFAULT NULL
) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_create_featurizer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.create_featurizer IS 'fits a new version of a featurizer on the rows of a query and stores what it learned as rows; returns the version';
REVOKE EXECUTE ON FUNCTION dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text, jsonb) TO dendrite_trainer;

-- Reason codes (issue #25): the trees keep their covers, and dendrite.explain says why a row scored as it did.
ALTER TABLE dendrite.trees ADD COLUMN cover real[];

CREATE FUNCTION dendrite.explain(model text, "row" anyelement, top int DEFAULT 5)
RETURNS TABLE (feature text, input text, value text, contribution float8)
AS 'MODULE_PATHNAME', 'dendrite_explain'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION dendrite.explain IS 'why the serving version of a model scored a row: the inputs (a column, or a history declaration) whose contributions to the score''s logit are largest, largest first (gbdt: exact TreeSHAP)';
CREATE FUNCTION dendrite.feature_importance(model text, query text)
RETURNS TABLE (feature text, input text, mean_abs_contribution float8, rows bigint)
AS 'MODULE_PATHNAME', 'dendrite_feature_importance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.feature_importance IS 'the mean absolute contribution of each input (a column, or a history declaration) to the serving version''s logit over the rows of a query, largest first (gbdt: TreeSHAP)';
REVOKE EXECUTE ON FUNCTION dendrite.explain(text, anyelement, int), dendrite.feature_importance(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.explain(text, anyelement, int), dendrite.feature_importance(text, text) TO dendrite_scorer;
CREATE FUNCTION dendrite.explain_query(model text, query text, key text DEFAULT NULL, top int DEFAULT 3,
                                       min_score float8 DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (key text, score float8, rank int, feature text, input text, value text, contribution float8)
AS 'MODULE_PATHNAME', 'dendrite_explain_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.explain_query IS 'dendrite.explain for every row of a query (scoring at least min_score) in one ordered pass, history features computed offline as score_query computes them: one row per reason, rank 1 the largest';
REVOKE EXECUTE ON FUNCTION dendrite.explain_query(text, text, text, int, float8, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.explain_query(text, text, text, int, float8, timestamp) TO dendrite_scorer;
-- 'log,reasons': a guard keeps the top reasons of the rows it flags beside its decision.
ALTER TABLE dendrite.predictions ADD COLUMN reasons jsonb;
