-- dendrite 0.3.0 -> 0.4.0: the rest of the lifecycle. A fresh CREATE EXTENSION runs 0.1.0 and every update
-- script in turn, so there is one definition of every object.
--   * dendrite.evaluate: a version's fraud metrics on any labelled query (champion vs challenger).
--   * dendrite.retrain: a new version with the serving version's stored settings, promoted by a policy
--     ('manual' | 'always' | 'if_better' on a labelled window), the comparison kept in dendrite.retrainings.
--   * dendrite.schedule_retraining / unschedule_retraining: retrain as a pg_cron job.
--   * dendrite.feature_drift: per-feature PSI of a query's rows against the training rows' deciles, which
--     train now stores (dendrite.feature_baselines), with the kept epoch's PR and ROC curves
--     (dendrite.validation_curves).
--   * dendrite.report: a self-contained HTML page (inline SVG) for humans.
\echo Use "ALTER EXTENSION dendrite UPDATE TO '0.4.0'" to load this file. \quit

--------------------------------------------------------------------------------------------------------
-- What train stores for the report and for drift (versions trained before 0.4.0 have neither).
--------------------------------------------------------------------------------------------------------

CREATE TABLE dendrite.validation_curves (
    version_id          bigint PRIMARY KEY REFERENCES dendrite.model_versions ON DELETE CASCADE,
    thresholds          real[] NOT NULL,  -- descending; a score >= threshold is flagged
    precision           real[] NOT NULL,
    recall              real[] NOT NULL,  -- also the ROC curve's true-positive rate
    false_positive_rate real[] NOT NULL
);
COMMENT ON TABLE dendrite.validation_curves IS 'per version: the PR and ROC curves of the kept epoch on the validation rows, thinned to steps of 0.005';
SELECT pg_catalog.pg_extension_config_dump('dendrite.validation_curves', '');

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

CREATE FUNCTION dendrite.evaluate(model text, query text, version int DEFAULT NULL, label text DEFAULT NULL,
    since timestamp DEFAULT NULL,
    OUT version int, OUT rows bigint, OUT positives bigint, OUT pr_auc float8, OUT roc_auc float8,
    OUT recall_at_precision_90 float8, OUT "precision" float8, OUT recall float8,
    OUT tp bigint, OUT fp bigint, OUT tn bigint, OUT fn bigint, OUT threshold float8)
AS 'MODULE_PATHNAME', 'dendrite_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.evaluate IS 'scores the rows of a labelled query with a version of a model (NULL: the serving one) and returns its fraud metrics at the version''s threshold; label defaults to the column the version was trained on; rows before since only feed history features';

CREATE FUNCTION dendrite.feature_drift(model text, query text, version int DEFAULT NULL, since timestamp DEFAULT NULL)
RETURNS TABLE (feature_number int, feature text, training_mean float8, current_mean float8, training_stddev float8,
               psi float8, rows bigint)
AS 'MODULE_PATHNAME', 'dendrite_feature_drift'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dendrite.feature_drift IS 'per feature of a model version (NULL: the serving one): the population stability index of the query''s rows (at or after since; earlier ones only feed history features) against the training rows (< 0.1 stable, 0.1-0.25 moderate, > 0.25 drifted)';

--------------------------------------------------------------------------------------------------------
-- Retraining: champion (the serving version) against challenger (a new version trained with the
-- champion's stored settings), on a labelled window.
--------------------------------------------------------------------------------------------------------

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
CREATE INDEX ON dendrite.retrainings (model_id, retraining_id);
COMMENT ON TABLE dendrite.retrainings IS 'every dendrite.retrain run: the champion and the challenger, their PR-AUC on the evaluation rows, and whether the challenger was deployed';
SELECT pg_catalog.pg_extension_config_dump('dendrite.retrainings', '');
SELECT pg_catalog.pg_extension_config_dump('dendrite.retrainings_retraining_id_seq', '');

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
-- No pinned search_path: the queries are the caller's and run with the caller's path and rights, as in
-- train. So the body uses no operator a caller's schema could stand in for; the logic is in helpers.
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
    trained := dendrite.train(retrain.model, plan.training_query, plan.label,
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
-- The report: one self-contained HTML document, charts as inline SVG, no script.
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
    svg text;
    series text;
    tick int;
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
    FOR tick IN 0..4 LOOP
        svg := svg || format('<text x="%s" y="%s" text-anchor="middle" class="tick">%s</text>',
                             left_edge + width * tick / 4, top_edge + height + 14,
                             round((lo_x + (hi_x - lo_x) * tick / 4)::numeric, 3))
                   || format('<text x="%s" y="%s" text-anchor="end" class="tick">%s</text>',
                             left_edge - 4, top_edge + height - height * tick / 4 + 4,
                             round((lo_y + (hi_y - lo_y) * tick / 4)::numeric, 3));
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
    epochs record;
    feature_list text;
    deployed int;
    html text;
    metrics jsonb;  -- the version's validation metrics
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
    SELECT array_agg(e.epoch::float8 ORDER BY e.epoch) AS epoch, array_agg(e.loss ORDER BY e.epoch) AS loss,
           array_agg(e.validation_loss ORDER BY e.epoch) AS validation_loss, array_agg(e.pr_auc ORDER BY e.epoch) AS pr_auc,
           array_agg(e.roc_auc ORDER BY e.epoch) AS roc_auc
      INTO epochs FROM dendrite.epochs e WHERE e.version_id = v.version_id;
    SELECT string_agg(format('<li>%s</li>', dendrite.internal_html(n)), '' ORDER BY i) INTO feature_list
      FROM unnest(v.output_names) WITH ORDINALITY o(n, i);

    html := '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         || format('<title>dendrite: %s version %s</title>', dendrite.internal_html(v.model_name), v.version)
         || '<style>body{font-family:sans-serif;margin:2em;color:#222}h1{font-size:1.5em}'
            'table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}'
            'th{background:#eee}.charts{display:flex;flex-wrap:wrap;gap:1em}svg{background:#fff;border:1px solid #ddd}'
            'svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:bold}svg .tick{font-size:9px}'
            '.frame{fill:none;stroke:#999}.series1{fill:none;stroke:#1f77b4;stroke-width:2}'
            '.series2{fill:none;stroke:#d62728;stroke-width:2}text.series1,text.series2{stroke:none}'
            'text.series1{fill:#1f77b4}text.series2{fill:#d62728}.chance{stroke:#aaa;stroke-dasharray:4 4}'
            'ol{columns:3}</style></head><body>'
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
         || format('<h2>Confusion matrix</h2><p>At threshold %s, on the %s rows.</p>', round(v.threshold::numeric, 4),
                   dendrite.internal_html(metrics->>'evaluated_on'))
         || '<table class="confusion"><tr><th></th><th>flagged</th><th>passed</th></tr>'
         || format('<tr><th>fraud</th><td>%s (TP)</td><td>%s (FN)</td></tr><tr><th>legitimate</th><td>%s (FP)</td><td>%s (TN)</td></tr></table>',
                   metrics->>'tp', metrics->>'fn', metrics->>'fp', metrics->>'tn')
         || '<h2>Curves</h2><div class="charts">'
         || CASE WHEN curve IS NULL THEN '<p class="empty">No curves: this version was trained before dendrite 0.4.0 (or imported from such a version).</p>'
            ELSE dendrite.internal_svg_chart('Precision-recall', 'recall', 'precision', curve.recall::float8[],
                                             curve.precision::float8[], format('PR-AUC %s', round((metrics->>'pr_auc')::numeric, 4)),
                                             x_min => 0, x_max => 1, y_min => 0, y_max => 1)
              || dendrite.internal_svg_chart('ROC', 'false positive rate', 'true positive rate',
                                             curve.false_positive_rate::float8[], curve.recall::float8[],
                                             format('ROC-AUC %s', round((metrics->>'roc_auc')::numeric, 4)),
                                             x_min => 0, x_max => 1, y_min => 0, y_max => 1, diagonal => true)
            END
         || dendrite.internal_svg_chart('Loss per epoch', 'epoch', 'loss', epochs.epoch, epochs.loss, 'training',
                                        epochs.validation_loss, 'validation', y_min => 0)
         || dendrite.internal_svg_chart('PR-AUC and ROC-AUC per epoch', 'epoch', 'validation', epochs.epoch,
                                        epochs.pr_auc, 'PR-AUC', epochs.roc_auc, 'ROC-AUC', y_min => 0, y_max => 1)
         || '</div>'
         || format('<h2>Features (%s)</h2><ol>%s</ol>', coalesce(cardinality(v.output_names), 0), coalesce(feature_list, ''))
         || format('<h2>Training</h2><p>Query: <code>%s</code></p><p>Label: <code>%s</code></p><p>Settings: <code>%s</code></p>',
                   dendrite.internal_html(v.training_query), dendrite.internal_html(v.label_column),
                   dendrite.internal_html(v.hyperparameters::text))
         || '</body></html>';
    RETURN html;
END
$$;
COMMENT ON FUNCTION dendrite.report IS 'a self-contained HTML report of a model version (NULL: the serving one): metrics, confusion matrix, PR and ROC curves, loss and PR-AUC per epoch, features; save it with psql \o or dendritectl report';

--------------------------------------------------------------------------------------------------------
-- export_model / import_model carry the curves and baselines too: their 0.3.0 bodies (frozen in that
-- script) with two more keys. An export from 0.3.0 has neither key and imports as before.
--------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dendrite.export_model(model text, version int DEFAULT NULL) RETURNS jsonb
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
                     FROM dendrite.epochs e WHERE e.version_id = v.version_id),
        'validation_curves', (SELECT to_jsonb(c) - 'version_id' FROM dendrite.validation_curves c
                               WHERE c.version_id = v.version_id),
        'feature_baselines', (SELECT coalesce(jsonb_agg(to_jsonb(b) - 'version_id' ORDER BY b.feature_index), '[]')
                                FROM dendrite.feature_baselines b WHERE b.version_id = v.version_id));
END
$$;
COMMENT ON FUNCTION dendrite.export_model IS 'a version of a model (NULL: the serving one) as one jsonb document: architecture, parameters or trees, epochs, curves, training baselines and its featurizer version; dendrite.import_model reads it back';

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
    -- Since 0.4.0; an export from 0.3.0 has neither key.
    IF jsonb_typeof(document->'validation_curves') = 'object' THEN
        INSERT INTO dendrite.validation_curves (version_id, thresholds, precision, recall, false_positive_rate)
        SELECT new_version_id, c.thresholds, c.precision, c.recall, c.false_positive_rate
          FROM jsonb_populate_record(NULL::dendrite.validation_curves, document->'validation_curves') c;
    END IF;
    IF jsonb_typeof(document->'feature_baselines') = 'array' THEN
        INSERT INTO dendrite.feature_baselines (version_id, feature_index, feature, mean, stddev, edges, fractions)
        SELECT new_version_id, b.feature_index, b.feature, b.mean, b.stddev, b.edges, b.fractions
          FROM jsonb_populate_recordset(NULL::dendrite.feature_baselines, document->'feature_baselines') b;
    END IF;
    IF NOT EXISTS (SELECT FROM dendrite.parameters p WHERE p.version_id = new_version_id)
       AND NOT EXISTS (SELECT FROM dendrite.trees t WHERE t.version_id = new_version_id) THEN
        RAISE EXCEPTION 'the document has no parameters and no trees' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN new_version;
END
$$;

--------------------------------------------------------------------------------------------------------
-- The guard triggers write dendrite.predictions directly (a heap insert and its index entries per row,
-- src/pg/guard.cpp), not through an INSERT statement, which cost about 20 us a row. Such writes do not
-- check foreign keys, so the table has none: the rows of deleted versions are deleted by this trigger,
-- as ON DELETE CASCADE did. (A decision logged by a session that still scored with a version while
-- another dropped it may outlive the version; dendrite.model_health joins versions and ignores it.)
--------------------------------------------------------------------------------------------------------

ALTER TABLE dendrite.predictions DROP CONSTRAINT IF EXISTS predictions_version_id_fkey;

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
CREATE TRIGGER forget_predictions AFTER DELETE ON dendrite.model_versions
    REFERENCING OLD TABLE AS deleted_versions FOR EACH STATEMENT EXECUTE FUNCTION dendrite.internal_forget_predictions();

--------------------------------------------------------------------------------------------------------
-- Grants (see 0.3.0): nothing new to PUBLIC.
--------------------------------------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION dendrite.evaluate(text, text, int, text, timestamp),
                           dendrite.feature_drift(text, text, int, timestamp),
                           dendrite.internal_retraining_plan(text, text, text, text),
                           dendrite.internal_record_retraining(text, int, int, text, text, bigint, bigint, float8, float8,
                                                               timestamptz, name),
                           dendrite.record_retraining(text, int, int, text, text, bigint, bigint, float8, float8, timestamptz),
                           dendrite.retrain(text, text, text, text),
                           dendrite.internal_cron_job_name(text),
                           dendrite.internal_require_cron(),
                           dendrite.schedule_retraining(text, text, text, text, text),
                           dendrite.unschedule_retraining(text),
                           dendrite.internal_html(text),
                           dendrite.internal_svg_chart(text, text, text, float8[], float8[], text, float8[], text, float8,
                                                       float8, float8, float8, boolean),
                           dendrite.report(text, int),
                           dendrite.internal_forget_predictions() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION dendrite.report(text, int),
                          dendrite.internal_html(text),
                          dendrite.internal_svg_chart(text, text, text, float8[], float8[], text, float8[], text, float8,
                                                      float8, float8, float8, boolean) TO dendrite_scorer;
GRANT SELECT ON dendrite.validation_curves TO dendrite_scorer;

GRANT EXECUTE ON FUNCTION dendrite.evaluate(text, text, int, text, timestamp),
                          dendrite.feature_drift(text, text, int, timestamp),
                          dendrite.internal_retraining_plan(text, text, text, text),
                          dendrite.record_retraining(text, int, int, text, text, bigint, bigint, float8, float8, timestamptz),
                          dendrite.retrain(text, text, text, text),
                          dendrite.internal_cron_job_name(text),
                          dendrite.internal_require_cron(),
                          dendrite.schedule_retraining(text, text, text, text, text),
                          dendrite.unschedule_retraining(text) TO dendrite_trainer;
GRANT SELECT ON dendrite.retrainings TO dendrite_trainer;
GRANT SELECT ON dendrite.feature_baselines TO dendrite_trainer;
ALTER TABLE dendrite.feature_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE dendrite.retrainings ENABLE ROW LEVEL SECURITY;
CREATE POLICY managed_models ON dendrite.feature_baselines FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
     WHERE v.version_id = feature_baselines.version_id AND dendrite.may_manage(m.owner)));
CREATE POLICY managed_models ON dendrite.retrainings FOR SELECT USING (EXISTS (
    SELECT FROM dendrite.models m WHERE m.model_id = retrainings.model_id AND dendrite.may_manage(m.owner)));
