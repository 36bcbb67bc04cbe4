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

-- drop_model refuses a model whose score another featurizer reads as an anomaly feature (issue #30).
CREATE OR REPLACE FUNCTION dendrite.internal_drop_model(model text, caller name) RETURNS void
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
    derived       jsonb     DEFAULT NULL,
    anomaly       jsonb     DEFAULT NULL
) RETURNS int
AS 'MODULE_PATHNAME', 'dendrite_create_featurizer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.create_featurizer IS 'fits a new version of a featurizer on the rows of a query and stores what it learned as rows; returns the version';
REVOKE EXECUTE ON FUNCTION dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.create_featurizer(text, text, jsonb, jsonb, text, text, timestamp, text, jsonb, jsonb) TO dendrite_trainer;

-- Reason codes (issue #25): the trees keep their covers, and dendrite.explain says why a row scored as it did.
ALTER TABLE dendrite.trees ADD COLUMN cover real[];

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
REVOKE EXECUTE ON FUNCTION dendrite.explain(text, anyelement, int, int), dendrite.feature_importance(text, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.explain(text, anyelement, int, int), dendrite.feature_importance(text, text, int) TO dendrite_scorer;
CREATE FUNCTION dendrite.explain_query(model text, query text, key text DEFAULT NULL, top int DEFAULT 3,
                                       min_score float8 DEFAULT NULL, since timestamp DEFAULT NULL,
                                       version int DEFAULT NULL)
RETURNS TABLE (key text, score float8, rank int, feature text, input text, value text, contribution float8)
AS 'MODULE_PATHNAME', 'dendrite_explain_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.explain_query IS 'dendrite.explain for every row of a query (scoring at least min_score) in one ordered pass, history features computed offline as score_query computes them: one row per reason, rank 1 the largest';
REVOKE EXECUTE ON FUNCTION dendrite.explain_query(text, text, text, int, float8, timestamp, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.explain_query(text, text, text, int, float8, timestamp, int) TO dendrite_scorer;
-- Challengers scored without deploying them (issue #28): score and score_query take a version.
COMMENT ON FUNCTION dendrite.score(text, anyelement) IS 'scores a row with the serving version of a model (dendrite.serving_version) and the featurizer version it was trained with; columns are matched by name';
CREATE FUNCTION dendrite.score(model text, "row" anyelement, version int) RETURNS float8
AS 'MODULE_PATHNAME', 'dendrite_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dendrite.score(text, anyelement, int) IS 'scores a row with a given version of a model (a challenger, without deploying it) and the featurizer version it was trained with';
DROP FUNCTION dendrite.score_query(text, text, text, timestamp);
CREATE FUNCTION dendrite.score_query(model text, query text, key text DEFAULT NULL, since timestamp DEFAULT NULL,
                                     version int DEFAULT NULL)
RETURNS TABLE (key text, score float8)
AS 'MODULE_PATHNAME', 'dendrite_score_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.score_query IS 'scores every row of a query in one ordered pass (history features computed offline) with a version of a model (NULL: the serving one); rows before since only build history';
REVOKE EXECUTE ON FUNCTION dendrite.score(text, anyelement, int), dendrite.score_query(text, text, text, timestamp, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.score(text, anyelement, int), dendrite.score_query(text, text, text, timestamp, int) TO dendrite_scorer;
-- 'log,reasons': a guard keeps the top reasons of the rows it flags beside its decision.
ALTER TABLE dendrite.predictions ADD COLUMN reasons jsonb;
-- Each input's importance on the evaluation rows, measured at training (the report's chart).
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
GRANT SELECT ON dendrite.validation_importance TO dendrite_scorer;

-- The report (issue #25): what the model looks at (importance measured at training), the scores of each class,
-- the alerts a day at the stored threshold, how the evaluation rows were chosen, whole-number epoch ticks,
-- the settings as a table.
CREATE OR REPLACE FUNCTION dendrite.internal_svg_chart(title text, x_label text, y_label text, x float8[], y1 float8[],
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

CREATE OR REPLACE FUNCTION dendrite.report(model text, version int DEFAULT NULL) RETURNS text
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

-- The generator can add a fraud pattern the others never show, from a given time (card testing): the demo's
-- next day shows a model meeting it (#27).
DROP FUNCTION dendrite.generate_transactions(int, int, int, bigint, timestamp);
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
REVOKE EXECUTE ON FUNCTION dendrite.generate_transactions(int, int, int, bigint, timestamp, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.generate_transactions(int, int, int, bigint, timestamp, timestamp) TO PUBLIC;

COMMENT ON TABLE dendrite.trees IS 'the trees of a gbdt version (score = sigmoid(base_margin + the leaves reached), base_margin in model_versions.configuration) or of a blend (beside its network''s dendrite.parameters rows)';
-- A blend (an mlp and gbdt on the same rows, mixed in logit space) is an algorithm compare knows.
CREATE OR REPLACE FUNCTION dendrite.internal_compare_check(algorithms text[]) RETURNS void
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

-- compare() marks its winner, ranks on the featurizer's time column when it has one, and says what it ranked
-- on (#28): a new result column, so the function is dropped and created again.
DROP FUNCTION dendrite.compare(text, text, text, text[], int, int, text, float8, text, text, int, bigint, text, timestamp, jsonb);
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
REVOKE EXECUTE ON FUNCTION dendrite.compare(text, text, text, text[], int, int, text, float8, text, text, int, bigint,
                                         text, timestamp, jsonb),
                           dendrite.internal_compare_time_column(text),
                           dendrite.internal_compare_leaderboard(text, int[], text, boolean, float8, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.compare(text, text, text, text[], int, int, text, float8, text, text, int, bigint,
                                       text, timestamp, jsonb),
                          dendrite.internal_compare_time_column(text),
                          dendrite.internal_compare_leaderboard(text, int[], text, boolean, float8, bigint) TO dendrite_trainer;

-- Shadow scoring (issue #28): a guard's 'shadow:N' logs a challenger's decisions beside the serving
-- version's (predictions.shadow); model_health and model_health_daily count the serving decisions only, and
-- shadow_health compares the two.
ALTER TABLE dendrite.predictions ADD COLUMN shadow boolean NOT NULL DEFAULT false;
DROP FUNCTION dendrite.internal_labelled_predictions(text, timestamptz);
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

CREATE OR REPLACE FUNCTION dendrite.model_health(model text, since interval DEFAULT '7 days')
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

CREATE OR REPLACE FUNCTION dendrite.model_health_daily(model text, since interval DEFAULT '30 days')
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
REVOKE EXECUTE ON FUNCTION dendrite.internal_labelled_predictions(text, timestamptz),
                           dendrite.shadow_health(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.internal_labelled_predictions(text, timestamptz),
                          dendrite.shadow_health(text, interval) TO dendrite_trainer;

-- Tuning (issue #28): dendrite.tune searches hyperparameters on prequential time folds.
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

ALTER TABLE dendrite.tuning_trials ENABLE ROW LEVEL SECURITY;

CREATE POLICY managed_models ON dendrite.tuning_trials FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.models m WHERE m.model_id = tuning_trials.model_id AND dendrite.may_manage(m.owner)));


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

REVOKE EXECUTE ON FUNCTION dendrite.tune(text, text, text, text, jsonb, int, int, text, timestamp, text, interval, interval, bigint),
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
                           dendrite.internal_record_tuning(text, int, text, jsonb[], jsonb, int, timestamp, interval, interval, text, int, name),
                           dendrite.internal_tuning_trials(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.tune(text, text, text, text, jsonb, int, int, text, timestamp, text, interval, interval, bigint),
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
                          dendrite.internal_tuning_trials(bigint) TO dendrite_trainer;
GRANT SELECT ON dendrite.tuning_trials TO dendrite_trainer;

-- Calibrated scores by default (issue #28): train's class_weight defaults to 'none' (balanced weights shift
-- every logit by log(negatives / positives): scores far above the fraud rate, saturating at 1.0).
CREATE OR REPLACE FUNCTION dendrite.train(
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

-- Anomaly detection (issue #30): an autoencoder trains without labels, so a version may have no label
-- column and its epochs no classification metrics.
ALTER TABLE dendrite.model_versions ALTER COLUMN label_column DROP NOT NULL;
ALTER TABLE dendrite.epochs ALTER COLUMN precision DROP NOT NULL, ALTER COLUMN recall DROP NOT NULL,
    ALTER COLUMN f1 DROP NOT NULL, ALTER COLUMN pr_auc DROP NOT NULL, ALTER COLUMN roc_auc DROP NOT NULL,
    ALTER COLUMN tp DROP NOT NULL, ALTER COLUMN fp DROP NOT NULL, ALTER COLUMN tn DROP NOT NULL,
    ALTER COLUMN fn DROP NOT NULL;

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

REVOKE EXECUTE ON FUNCTION dendrite.replicated_tables(), dendrite.create_catalog_publication(name),
                           dendrite.refuse_replica_catalog_write(), dendrite.cluster_status(text),
                           dendrite.internal_shards_behind(text), dendrite.internal_forget_replicated_predictions() FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE dendrite.wait_for_shards(text, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.replicated_tables() TO dendrite_scorer;
REVOKE EXECUTE ON FUNCTION dendrite.shard_of(anyelement, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dendrite.shard_of(anyelement, int) TO PUBLIC;
GRANT SELECT ON dendrite.serving_versions TO dendrite_scorer;
GRANT EXECUTE ON FUNCTION dendrite.cluster_status(text), dendrite.internal_shards_behind(text) TO dendrite_trainer;
GRANT EXECUTE ON PROCEDURE dendrite.wait_for_shards(text, interval, boolean) TO dendrite_trainer;

-- 0.6.0: a backend notices edits of the version and featurizer rows it keeps (model_cache.hpp).
COMMENT ON FUNCTION dendrite.catalog_changed IS 'internal: invalidates every backend''s cache of serving versions, and has it check the rows it keeps of versions and featurizers';

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

-- deploy(strategy => 'best') ranks the versions whose metrics come from validation rows only (a NOTICE names
-- those measured on their training rows), and is 55000 when none has the metric.
CREATE OR REPLACE FUNCTION dendrite.internal_deploy(model text, version int, strategy text, metric text, caller name)
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

-- A guard cloned onto partitions logs under the partitioned table (the root of the tree), and record_outcome
-- records an outcome named by a partition under that root too: both sides of model_health's join agree.
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

-- The inline history is shared between sessions (the rows guards observed, at commit).
COMMENT ON FUNCTION dendrite.features IS 'the feature vector of a row under the latest version of a featurizer (history features from the inline state: this backend''s, with the rows other sessions'' guards committed)';
COMMENT ON FUNCTION dendrite.observe IS 'adds a row to this backend''s inline history state of a featurizer (not shared with other sessions)';

-- dendrite.guard(model) alone, fired by UPDATE, DELETE or TRUNCATE, keeps the inline history in step with the table.
COMMENT ON FUNCTION dendrite.guard IS 'row trigger: guard(model, action [, threshold [, columns [, key]]]) fired BEFORE INSERT OR UPDATE scores NEW with the serving version and rejects, flags and/or logs it; guard(model) fired by UPDATE ... FOR EACH ROW, DELETE or TRUNCATE keeps the inline history in step with the table (labels set later, corrected and deleted rows)';
