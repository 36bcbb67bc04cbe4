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
