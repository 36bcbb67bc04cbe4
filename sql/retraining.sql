-- Retraining and monitoring against the training data (issue #7): a version evaluated on any labelled
-- query, per-feature drift against the training rows' deciles, retrain with each promotion policy and
-- the comparison it stores, the HTML report, and scheduling without pg_cron.
SET client_min_messages = warning;

-- points has x, y and label (setup.sql); rt_shifted moves x by 3 of its units, y stays.
CREATE TABLE rt_shifted AS SELECT id, x + 3 AS x, y, label FROM points;
-- (Balanced class weights: three epochs of them learn the points' boundary, which the policies below compare.)
SELECT version FROM dendrite.train('rt', 'SELECT x, y, label FROM points WHERE id % 5 <> 0', 'label',
                                   hidden => '{8}', epochs => 3, class_weight => 'balanced');

-- What train stores now: the kept epoch's curves (thresholds descending, rates within [0, 1]) and one
-- baseline per feature.
SELECT cardinality(c.thresholds) = cardinality(c.precision) AND cardinality(c.thresholds) = cardinality(c.recall)
           AND cardinality(c.thresholds) = cardinality(c.false_positive_rate) AS same_lengths,
       cardinality(c.thresholds) BETWEEN 2 AND 1000 AS thinned,
       c.thresholds[1] >= c.thresholds[cardinality(c.thresholds)] AS descending,
       c.recall[cardinality(c.recall)] = 1 AND c.false_positive_rate[cardinality(c.false_positive_rate)] = 1 AS ends_at_all_flagged,
       (SELECT bool_and(r BETWEEN 0 AND 1) FROM unnest(c.recall || c.precision || c.false_positive_rate) r) AS rates
  FROM dendrite.validation_curves c JOIN dendrite.serving_version('rt') s USING (version_id);
SELECT b.feature_index, b.feature, cardinality(b.edges) AS edges, cardinality(b.fractions) AS bins,
       round((SELECT sum(f) FROM unnest(b.fractions) f)::numeric, 6) AS total, round(b.mean::numeric, 2) AS mean,
       round(b.stddev::numeric, 2) AS stddev
  FROM dendrite.feature_baselines b JOIN dendrite.serving_version('rt') s USING (version_id)
 ORDER BY b.feature_index;

-- evaluate: the held-out fifth, with the version's own threshold; counts add up to the rows.
SELECT version, rows, positives, tp + fp + tn + fn = rows AS counted, tp + fn = positives AS positives_counted,
       pr_auc > positives::float8 / rows AS better_than_chance, roc_auc > 0.5 AS ranks,
       threshold = (SELECT v.threshold FROM dendrite.model_versions v JOIN dendrite.serving_version('rt') s USING (version_id)) AS own_threshold
  FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points WHERE id % 5 = 0');
-- A label given by name, a version by number; one class leaves the ranking metrics undefined, and with no
-- fraud among the rows recall too (nothing to find: not 0, every fraud missed). Precision is NULL where the
-- threshold flags no row (here the rows scoring below it, frauds among them: recall 0, each one missed).
SELECT version, rows, positives, pr_auc, roc_auc, recall_at_precision_90, recall, tp, tp + fp + tn + fn = rows AS counted
  FROM dendrite.evaluate('rt', 'SELECT x, y, false AS fraud FROM points', version => 1, label => 'fraud');
SELECT rows, positives > 0 AS has_fraud, tp + fp AS flagged, "precision", recall
  FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points p WHERE dendrite.score(''rt'', p) < (SELECT v.threshold
                                  FROM dendrite.model_versions v JOIN dendrite.serving_version(''rt'') s USING (version_id))');

-- feature_drift: the held-out fifth looks like the training rows; the shifted table drifts in x only.
SELECT feature_number, feature, psi < 0.1 AS stable, rows FROM dendrite.feature_drift('rt', 'SELECT x, y FROM points WHERE id % 5 = 0');
SELECT feature_number, feature, psi > 0.25 AS drifted, round((current_mean - training_mean)::numeric, 1) AS mean_shift
  FROM dendrite.feature_drift('rt', 'SELECT x, y FROM rt_shifted');
-- Too few rows for the index (most bins empty): psi is NULL below 100 rows, with a NOTICE, as model_health's
-- score_psi; the means are still there.
SELECT feature_number, psi, rows, current_mean IS NOT NULL AS mean_given
  FROM dendrite.feature_drift('rt', 'SELECT x, y FROM rt_shifted LIMIT 99');
SELECT count(psi) AS psi_given FROM dendrite.feature_drift('rt', 'SELECT x, y FROM rt_shifted LIMIT 100');

-- retrain, 'manual': a new version with version 1's settings, not deployed; the model, never deployed
-- before, keeps serving version 1 rather than its latest.
SELECT champion_version, challenger_version, promoted, decision, serving_version
  FROM dendrite.retrain('rt', promote => 'manual');
SELECT v.version, v.hyperparameters - '{threads,device}'::text[] = first.hyperparameters - '{threads,device}'::text[] AS same_settings,
       v.training_query = first.training_query AS same_query, v.label_column
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id),
       LATERAL (SELECT f.hyperparameters, f.training_query FROM dendrite.model_versions f
                 WHERE f.model_id = m.model_id AND f.version = 1) first
 WHERE m.name = 'rt' ORDER BY v.version;
-- 'if_better' on the held-out fifth: the same settings on the same rows give the same PR-AUC, which is
-- not better, so version 1 keeps serving.
SELECT champion_version, challenger_version, champion_pr_auc = challenger_pr_auc AS equal, evaluation_rows,
       promoted, serving_version
  FROM dendrite.retrain('rt', evaluation_query => 'SELECT x, y, label FROM points WHERE id % 5 = 0');
-- 'if_better' with a training query whose label is inverted: the challenger is worse.
SELECT champion_version, challenger_version, challenger_pr_auc < champion_pr_auc AS worse, promoted, serving_version
  FROM dendrite.retrain('rt', 'SELECT x, y, NOT label AS label FROM points WHERE id % 5 <> 0',
                        evaluation_query => 'SELECT x, y, label FROM points WHERE id % 5 = 0');
-- 'always' deploys whatever it trained.
SELECT champion_version, challenger_version, promoted, decision, serving_version
  FROM dendrite.retrain('rt', promote => 'always');
SELECT row_number() OVER (ORDER BY r.retraining_id) AS run, c.version AS champion, n.version AS challenger, r.promote, r.evaluation_rows,
       r.evaluation_positives, r.promoted, r.run_by = current_user AS by_me, r.finished_at >= r.started_at AS timed
  FROM dendrite.retrainings r
  JOIN dendrite.model_versions c ON c.version_id = r.champion_version_id
  JOIN dendrite.model_versions n ON n.version_id = r.challenger_version_id
  JOIN dendrite.models m ON m.model_id = c.model_id
 WHERE m.name = 'rt'
 ORDER BY r.retraining_id;
SELECT version, action, strategy FROM dendrite.deployment_history WHERE model = 'rt' ORDER BY deployed_at, version;

-- The report: one HTML document with four SVG charts, the confusion counts and every feature; names are
-- escaped.
SELECT dendrite.report('rt') AS html \gset
SELECT left(:'html', 15) AS doctype, right(:'html', 14) AS ending,
       (SELECT count(*) FROM regexp_matches(:'html', '<svg ', 'g')) AS charts,
       (SELECT count(*) FROM regexp_matches(:'html', '<polyline ', 'g')) AS lines,
       :'html' LIKE '%(serving)%' AS serving, :'html' LIKE '%<li>x</li><li>y</li>%' AS features,
       :'html' NOT LIKE '%<script%' AS no_script;
SELECT dendrite.train('rt <b>&', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 1) IS NOT NULL AS trained;
SELECT dendrite.report('rt <b>&') LIKE '%rt &lt;b&gt;&amp;%' AS escaped, dendrite.report('rt <b>&') NOT LIKE '%rt <b>%' AS no_markup;

-- export_model / import_model carry the curves and the baselines: the copy drifts and reports like the
-- original.
SELECT dendrite.import_model(dendrite.export_model('rt', 1), model => 'rt_copy') AS imported_version;
SELECT a.thresholds = b.thresholds AND a.precision = b.precision AND a.recall = b.recall
       AND a.false_positive_rate = b.false_positive_rate AS same_curves
  FROM dendrite.validation_curves a, dendrite.validation_curves b
 WHERE a.version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                        WHERE m.name = 'rt' AND v.version = 1)
   AND b.version_id = (SELECT version_id FROM dendrite.serving_version('rt_copy'));
SELECT a.feature, a.psi = b.psi AS same_psi
  FROM dendrite.feature_drift('rt', 'SELECT x, y FROM rt_shifted', version => 1) a
  JOIN dendrite.feature_drift('rt_copy', 'SELECT x, y FROM rt_shifted') b USING (feature_number);
-- An export without curves and baselines (from 0.3.0) still imports; the report says the curves are missing.
SELECT dendrite.import_model(dendrite.export_model('rt', 1) #- '{version_rows,validation_curves}' #- '{version_rows,feature_baselines}',
                             model => 'rt_old') AS imported_version;
SELECT dendrite.report('rt_old') LIKE '%No curves%' AS says_no_curves;
SELECT * FROM dendrite.feature_drift('rt_old', 'SELECT x, y FROM points');

-- The guard writes its log straight into dendrite.predictions (no INSERT statement, no foreign key since
-- 0.4.0): the rows are there, with their indexes, roll back with a savepoint, and go with their model.
CREATE TABLE rt_live (id int PRIMARY KEY, x numeric, y float8);
CREATE TRIGGER rt_log BEFORE INSERT ON rt_live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('rt_copy', 'log', '0.5');
INSERT INTO rt_live SELECT id, x, y FROM points WHERE id <= 100;
BEGIN;
INSERT INTO rt_live SELECT id, x, y FROM points WHERE id BETWEEN 101 AND 150;
SAVEPOINT before_more;
INSERT INTO rt_live SELECT id, x, y FROM points WHERE id BETWEEN 151 AND 200;
ROLLBACK TO before_more;
COMMIT;
SET enable_seqscan = off;  -- read through the indexes the direct insert maintained
SELECT count(*) AS logged, count(DISTINCT row_key) AS keys,
       count(*) FILTER (WHERE decision = CASE WHEN score >= threshold THEN 'flag' ELSE 'pass' END) AS consistent,
       bool_and(predicted_at <= now()) AS timed
  FROM dendrite.predictions WHERE table_name = 'public.rt_live';
SELECT count(*) AS by_key FROM dendrite.predictions WHERE table_name = 'public.rt_live' AND row_key = '150';
SELECT count(*) AS by_version FROM dendrite.predictions p JOIN dendrite.serving_version('rt_copy') s USING (version_id)
 WHERE p.predicted_at > now() - interval '1 hour';
RESET enable_seqscan;
-- amcheck: every index of the table is consistent and holds every heap tuple (it raises otherwise).
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT i.indexrelid::regclass AS verified_index
  FROM pg_index i, LATERAL bt_index_check(i.indexrelid, true) c
 WHERE i.indrelid = 'dendrite.predictions'::regclass ORDER BY 1;
DROP EXTENSION amcheck;
SELECT count(*) FILTER (WHERE dendrite.score('rt_copy', l) = p.score) AS same_scores
  FROM rt_live l JOIN dendrite.predictions p ON p.row_key = l.id::text AND p.table_name = 'public.rt_live';
DROP TABLE rt_live;
SELECT dendrite.drop_model('rt_copy');
SELECT count(*) AS left_behind FROM dendrite.predictions WHERE table_name = 'public.rt_live';

-- Errors.
SELECT * FROM dendrite.evaluate('no_such_model', 'SELECT x, y, label FROM points');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points', version => 99);
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points', version => 0);
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y FROM points');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, CASE WHEN id = 7 THEN NULL ELSE label END AS label FROM points');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, 2 AS fraud FROM points', label => 'fraud');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, note AS fraud FROM points', label => 'fraud');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points WHERE false');
SELECT * FROM dendrite.evaluate('rt', 'SELECT x, y, label FROM points', since => '2026-01-01');
SELECT * FROM dendrite.feature_drift('rt', 'SELECT x FROM points');
SELECT * FROM dendrite.feature_drift('rt', 'SELECT x, y FROM points WHERE false');
SELECT * FROM dendrite.retrain('no_such_model');
SELECT * FROM dendrite.retrain('rt', promote => 'sometimes');
SELECT * FROM dendrite.retrain('rt');
SELECT dendrite.report('rt', 99);
SELECT dendrite.report('no_such_model');
-- Without pg_cron in the database, scheduling says what is missing; retrain itself works without it.
SELECT dendrite.schedule_retraining('rt', '0 3 * * *', evaluation_query => 'SELECT x, y, label FROM points');
SELECT dendrite.schedule_retraining('rt', NULL);
SELECT dendrite.unschedule_retraining('rt');
