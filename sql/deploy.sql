-- Deployment: which version serves a model (serving_version), deploy by version, latest or best metric,
-- rollback through earlier deployments, the history, the errors, and scoring that follows a deploy in this
-- session and in another one from its next statement.
SET client_min_messages = warning;

SELECT version FROM dendrite.train('dm', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2, seed => 1);
SELECT version FROM dendrite.train('dm', 'SELECT x, y, label FROM points', 'label', hidden => '{8}', epochs => 2, seed => 2);

-- Never deployed: the latest version serves.
SELECT version, deployed FROM dendrite.serving_version('dm');
SELECT version, deployed FROM dendrite.serving_version('no_such_model');

-- Deploy by version, latest, best; rollback walks back through earlier deployments.
SELECT dendrite.deploy('dm', 1) AS deployed;
SELECT version, deployed FROM dendrite.serving_version('dm');
SELECT dendrite.deploy('dm') AS deployed;
SELECT dendrite.deploy('dm', strategy => 'best', metric => 'roc_auc') IN (1, 2) AS deployed_best;
SELECT dendrite.rollback('dm') AS rolled_back_to;
SELECT dendrite.rollback('dm') AS rolled_back_to;
SELECT dendrite.rollback('dm');
SELECT model, version, action, strategy, serving FROM dendrite.deployment_history WHERE model = 'dm' ORDER BY deployed_at;
SELECT v.version, v.status FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'dm' ORDER BY 1;

-- 'best' ranks validation metrics only: version 3, a gbdt measured on its own training rows (validation_fraction
-- 0, PR-AUC near 1), is left out with a NOTICE; a model whose every version is measured so has nothing to rank.
SELECT version FROM dendrite.train('dm', 'SELECT x, y, label FROM points', 'label', algorithm => 'gbdt', validation_fraction => 0);
SELECT v.version, v.metrics->>'evaluated_on' AS evaluated_on,
       (v.metrics->>'pr_auc')::float8 = max((v.metrics->>'pr_auc')::float8) OVER () AS highest_pr_auc
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'dm' ORDER BY 1;
SET client_min_messages = notice;
SELECT dendrite.deploy('dm', strategy => 'best') IN (1, 2) AS deployed_best_validated;
RESET client_min_messages;
SET client_min_messages = warning;
SELECT version FROM dendrite.train('dm_unvalidated', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2,
                                   validation_fraction => 0);
SELECT dendrite.deploy('dm_unvalidated', strategy => 'best');
SELECT dendrite.drop_model('dm_unvalidated');
-- Deployment errors.
SELECT dendrite.deploy('no_such_model');
SELECT dendrite.deploy('dm', 9);
SELECT dendrite.deploy('dm', 1, strategy => 'latest');
SELECT dendrite.deploy('dm', strategy => 'newest');
SELECT dendrite.deploy('dm', strategy => 'best', metric => 'accuracy');
SELECT dendrite.deploy(NULL);
SELECT dendrite.rollback('no_such_model');

-- score, predict and score_query use the serving version: deploying version 2 changes the scores.
SELECT dendrite.deploy('dm', 1) AS deployed;
CREATE TEMP TABLE probe AS SELECT * FROM points ORDER BY id LIMIT 5;
CREATE TEMP TABLE scores_v1 AS SELECT id, dendrite.score('dm', p) AS score FROM probe p;
SELECT dendrite.deploy('dm', 2) AS deployed;
SELECT count(*) AS changed FROM probe p JOIN scores_v1 s USING (id) WHERE dendrite.score('dm', p) <> s.score;
SELECT dendrite.rollback('dm') AS rolled_back_to;
SELECT count(*) AS changed FROM probe p JOIN scores_v1 s USING (id) WHERE dendrite.score('dm', p) <> s.score;

-- Two sessions: another session deploys version 2; this one scores with it from its next statement.
SELECT dendrite.score('dm', p) = s.score AS version_1_here FROM probe p JOIN scores_v1 s USING (id) LIMIT 1;
\! psql -X -q -At -d contrib_regression -c "SELECT 'other session deployed version ' || dendrite.deploy('dm', 2)"
SELECT dendrite.score('dm', p) = s.score AS still_version_1 FROM probe p JOIN scores_v1 s USING (id) LIMIT 1;
\! psql -X -q -At -d contrib_regression -c "SELECT 'other session rolled back to ' || dendrite.rollback('dm')"
SELECT dendrite.score('dm', p) = s.score AS version_1_again FROM probe p JOIN scores_v1 s USING (id) LIMIT 1;

-- A challenger scored without deploying it: score, score_query, explain, explain_query and
-- feature_importance take a version (as evaluate does); NULL is the serving version.
SELECT version FROM dendrite.serving_version('dm');
-- Version 1 serves; version 2 scores as score_query's version 2 does, version 1 as the serving version did.
SELECT count(*) AS rows, count(*) FILTER (WHERE dendrite.score('dm', p, 2) = v2.score) AS version_2_as_score_query,
       count(*) FILTER (WHERE dendrite.score('dm', p, 1) = s.score) AS version_1_as_served,
       count(*) FILTER (WHERE dendrite.score('dm', p, 2) <> s.score) AS version_2_differs
  FROM probe p JOIN scores_v1 s USING (id),
       LATERAL (SELECT score FROM dendrite.score_query('dm', 'SELECT * FROM probe', key => 'id', version => 2) q
                 WHERE q.key = p.id::text) v2;
SELECT count(*) AS score_query_default_is_serving
  FROM dendrite.score_query('dm', 'SELECT * FROM probe', key => 'id') q JOIN scores_v1 s ON s.id::text = q.key
 WHERE q.score = s.score;
-- explain: each version's reasons for the same row (both inputs), and they differ.
SELECT v AS version, (SELECT count(*) FROM dendrite.explain('dm', p, 10, v)) AS inputs
  FROM (SELECT * FROM probe ORDER BY id LIMIT 1) p, (VALUES (1), (2)) AS versions(v);
SELECT count(*) FILTER (WHERE a.contribution <> b.contribution) > 0 AS versions_explain_differently
  FROM (SELECT * FROM probe ORDER BY id LIMIT 1) p,
       LATERAL dendrite.explain('dm', p, 10, 1) a JOIN LATERAL dendrite.explain('dm', p, 10, 2) b USING (feature);
SELECT count(DISTINCT key) AS explained_rows, bool_and(q.score = dendrite.score('dm', p, 2)) AS scores_of_version_2
  FROM dendrite.explain_query('dm', 'SELECT * FROM probe', key => 'id', version => 2) q JOIN probe p ON p.id::text = q.key;
SELECT count(*) AS inputs, bool_and(rows = 5) AS every_row
  FROM dendrite.feature_importance('dm', 'SELECT * FROM probe', version => 2);
-- A NULL model or row explains nothing (as before version was an argument); bad versions are errors.
SELECT count(*) AS nothing FROM dendrite.explain(NULL, NULL::probe);
SELECT dendrite.score('dm', p, 0) FROM probe p LIMIT 1;
SELECT dendrite.score('dm', p, 9) FROM probe p LIMIT 1;
SELECT * FROM dendrite.score_query('dm', 'SELECT * FROM probe', version => 9);
SELECT * FROM dendrite.explain_query('dm', 'SELECT * FROM probe', version => -1);
