-- Privileges (issues #7 and #8): roles for scoring and training, models and featurizers owned by the role
-- that created them, catalog statements that run as the extension owner with a pinned search_path, and a
-- guarded table that scores the inserts of a role that can read nothing of dendrite.
SET client_min_messages = warning;

-- The roles the extension creates, and what PUBLIC gets: the schema, the demo generator, may_manage.
SELECT r.rolname, r.rolcanlogin, array(SELECT g.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid
                                        WHERE a.member = r.oid ORDER BY 1) AS member_of
  FROM pg_roles r WHERE r.rolname LIKE 'dendrite\_%' ORDER BY 1;
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'dendrite'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1;
SELECT c.relname, has_table_privilege('dendrite_scorer', c.oid, 'SELECT') AS scorer_reads,
       has_table_privilege('dendrite_trainer', c.oid, 'SELECT') AS trainer_reads,
       c.relrowsecurity AS row_security
  FROM pg_class c WHERE c.relnamespace = 'dendrite'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;

CREATE ROLE regress_dendrite_alice;   -- a trainer
CREATE ROLE regress_dendrite_bob;     -- another trainer
CREATE ROLE regress_dendrite_viewer;  -- a scorer
CREATE ROLE regress_dendrite_clerk;   -- inserts into a guarded table; nothing else
CREATE ROLE regress_dendrite_boss;    -- an admin
GRANT dendrite_trainer TO regress_dendrite_alice, regress_dendrite_bob;
GRANT dendrite_scorer TO regress_dendrite_viewer;
GRANT dendrite_admin TO regress_dendrite_boss;
GRANT SELECT ON points TO regress_dendrite_alice, regress_dendrite_bob, regress_dendrite_viewer, regress_dendrite_boss;
GRANT CREATE ON SCHEMA public TO regress_dendrite_alice;

-- A search_path that puts a hostile schema first: its "=" for bigint would break any catalog statement
-- that does not pin search_path. Every dendrite call below runs under it (the tests' own queries do not:
-- the hostile "=" would break them, as it would any caller's query).
CREATE SCHEMA regress_hostile;
CREATE FUNCTION regress_hostile.hijacked_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'a catalog statement used a caller''s operator'; END$$;
CREATE OPERATOR regress_hostile.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_hostile.hijacked_eq);
CREATE FUNCTION regress_hostile.hijacked_eq4(int, int) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'a catalog statement used a caller''s operator'; END$$;
CREATE OPERATOR regress_hostile.= (LEFTARG = int, RIGHTARG = int, FUNCTION = regress_hostile.hijacked_eq4);
GRANT USAGE ON SCHEMA regress_hostile TO PUBLIC;

-- Alice trains, refits and deploys her model; its owner is alice, and so is its featurizer's.
SET ROLE regress_dendrite_alice;
SET search_path = regress_hostile, pg_catalog, public;
SELECT version FROM dendrite.train('alice_model', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2);
SELECT version FROM dendrite.train('alice_model', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 2, seed => 7);
SELECT dendrite.deploy('alice_model', 1) AS deployed;
SELECT dendrite.deploy('alice_model', 2) AS deployed;
SELECT dendrite.rollback('alice_model') AS rolled_back_to;
SELECT dendrite.create_featurizer('alice_features', 'SELECT x, y FROM points') AS featurizer_version;
SELECT algorithm, version FROM dendrite.compare('alice_compare', 'SELECT x, y, label FROM points', 'label',
                                                algorithms => '{logistic_regression}', epochs => 1);
SELECT dendrite.drop_model('alice_compare');
-- The lifecycle functions under the same path: retrain (which runs with the caller's path, like compare),
-- evaluate, feature_drift, report.
SELECT version FROM dendrite.train('alice_retrained', 'SELECT x, y, label FROM points', 'label', hidden => '{4}', epochs => 1);
SELECT challenger_version, promoted, serving_version
  FROM dendrite.retrain('alice_retrained', evaluation_query => 'SELECT x, y, label FROM points');
SELECT rows, positives FROM dendrite.evaluate('alice_retrained', 'SELECT x, y, label FROM points');
SELECT feature, psi < 0.1 AS stable FROM dendrite.feature_drift('alice_retrained', 'SELECT x, y FROM points');
SELECT dendrite.report('alice_retrained') LIKE '<!DOCTYPE html>%' AS reported;
SELECT dendrite.drop_model('alice_retrained');
-- tune (which runs with the caller's path too): its trials, its version and its catalog rows are alice's.
SELECT count(*) AS trials, count(*) FILTER (WHERE best) AS best
  FROM dendrite.tune('alice_tuned', 'SELECT x, y, label, timestamp ''2026-01-01'' + id * interval ''1 hour'' AS at FROM points',
                     'label', algorithm => 'logistic_regression', search => '{"epochs": [1, 2]}', folds => 2, trials => 2,
                     time_column => 'at', fold_length => '10 days');
SELECT count(*) AS alice_reads_her_trials FROM dendrite.tuning_trials;
RESET search_path;
SELECT DISTINCT m.owner AS model_owner, f.owner AS featurizer_owner, v.trained_by, d.deployed_by
  FROM dendrite.models m JOIN dendrite.model_versions v USING (model_id) JOIN dendrite.featurizers f USING (featurizer_id)
  JOIN dendrite.deployments d USING (model_id)
 WHERE m.name = 'alice_model' AND v.version = 1;
-- She reads her model's parameters (and sees only hers).
SELECT count(*) > 0 AS reads_own_parameters,
       bool_and(m.owner = 'regress_dendrite_alice') AS only_own
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id);
SELECT count(*) > 0 AS reads_own_statistics FROM dendrite.feature_columns;
RESET ROLE;

-- Bob may score alice's model, read its metrics, but not retrain, refit, deploy, roll back or drop it, nor
-- read its parameters or its featurizer's statistics.
SET ROLE regress_dendrite_bob;
SET search_path = regress_hostile, pg_catalog, public;
SELECT round(dendrite.score('alice_model', p)::numeric, 6) = round(s.score::numeric, 6) AS scores_like_alice
  FROM points p, dendrite.score_query('alice_model', 'SELECT x, y FROM points WHERE id OPERATOR(pg_catalog.=) 17') s
 WHERE p.id OPERATOR(pg_catalog.=) 17;
SELECT dendrite.train('alice_model', 'SELECT x, y, label FROM points', 'label');
SELECT dendrite.deploy('alice_model', 2);
SELECT dendrite.rollback('alice_model');
SELECT dendrite.drop_model('alice_model');
SELECT dendrite.create_featurizer('alice_features', 'SELECT x, y FROM points');
SELECT dendrite.drop_featurizer('alice_features');
SELECT * FROM dendrite.retrain('alice_model', promote => 'manual');
SELECT * FROM dendrite.feature_drift('alice_model', 'SELECT x, y FROM points');
-- train with a model name whose automatic featurizer would be a new version of alice's featurizer
SELECT dendrite.train('alice_features', 'SELECT x, y, label FROM points', 'label');
\set VERBOSITY terse
SELECT * FROM dendrite.tune('alice_tuned', 'SELECT x, y, label, timestamp ''2026-01-01'' + id * interval ''1 hour'' AS at FROM points',
                            'label', algorithm => 'logistic_regression', folds => 1, trials => 1, time_column => 'at');
\set VERBOSITY default
RESET search_path;
SELECT count(*) AS alice_trials_bob_sees FROM dendrite.tuning_trials;
SELECT v.version, (v.metrics->>'pr_auc')::float8 > 0 AS has_metrics
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'alice_model' ORDER BY 1;
SELECT count(*) AS alice_parameters_bob_sees FROM dendrite.parameters;
SELECT count(*) AS alice_statistics_bob_sees FROM dendrite.feature_columns f
  JOIN dendrite.featurizers z USING (featurizer_id) WHERE z.name = 'alice_features';
SELECT dendrite.may_manage('regress_dendrite_alice') AS bob_manages_alice, dendrite.may_manage('regress_dendrite_bob') AS bob_manages_bob;
-- Nothing of alice's changed.
RESET ROLE;
SELECT count(*) AS alice_versions FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'alice_model';
SELECT count(*) AS alice_featurizer_versions FROM dendrite.featurizers WHERE name = 'alice_features';

-- A scorer scores but cannot train nor read parameters.
SET ROLE regress_dendrite_viewer;
SELECT dendrite.score('alice_model', p) BETWEEN 0 AND 1 AS scored FROM points p WHERE p.id = 1;
SELECT dendrite.features('alice_features', p) AS features FROM points p WHERE p.id = 1;
SELECT dendrite.train('viewer_model', 'SELECT x, y, label FROM points', 'label');
SELECT dendrite.report('alice_model') LIKE '%Model alice_model, version 1 (serving)%' AS viewer_reads_report;
SELECT * FROM dendrite.evaluate('alice_model', 'SELECT x, y, label FROM points');
SELECT count(*) FROM dendrite.parameters;
SELECT count(*) FROM dendrite.predictions;
RESET ROLE;

-- An admin manages anyone's model: deploys alice's version 2 and rolls it back.
SET ROLE regress_dendrite_boss;
SET search_path = regress_hostile, pg_catalog, public;
SELECT dendrite.deploy('alice_model', 2) AS boss_deployed;
SELECT dendrite.rollback('alice_model') AS boss_rolled_back_to;
RESET search_path;
SELECT count(*) > 0 AS boss_reads_parameters FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id)
  JOIN dendrite.models m USING (model_id) WHERE m.name = 'alice_model';
RESET ROLE;
SELECT action, deployed_by FROM dendrite.deployments d JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'alice_model' ORDER BY deployment_id;

-- A guarded table: alice owns it and its trigger; the clerk may only insert. Every insert is scored and
-- logged although the clerk can read neither the parameters nor the log.
SET ROLE regress_dendrite_alice;
CREATE TABLE public.guarded_points (id int PRIMARY KEY, x numeric, y float8, score float8);
CREATE TRIGGER guard BEFORE INSERT ON public.guarded_points
    FOR EACH ROW EXECUTE FUNCTION dendrite.guard('alice_model', 'flag,log', '0.5', 'score', 'id');
GRANT INSERT ON public.guarded_points TO regress_dendrite_clerk;
RESET ROLE;
SET ROLE regress_dendrite_clerk;
SET search_path = regress_hostile, pg_catalog, public;
INSERT INTO public.guarded_points (id, x, y) VALUES (1, 4.5, 3), (2, -4, -4);
SELECT count(*) FROM dendrite.predictions;
SELECT count(*) FROM public.guarded_points;
RESET ROLE;
RESET search_path;
SELECT g.id, g.score > 0.5 AS flagged, p.decision, p.row_key
  FROM guarded_points g JOIN dendrite.predictions p ON p.row_key = g.id::text AND p.table_name = 'public.guarded_points'
 ORDER BY 1;
SET ROLE regress_dendrite_alice;
SELECT count(*) AS alice_reads_her_log FROM dendrite.predictions WHERE table_name = 'public.guarded_points';
RESET ROLE;

-- Alice drops her model; her featurizer goes when nothing uses it.
SET ROLE regress_dendrite_alice;
SET search_path = regress_hostile, pg_catalog, public;
SELECT dendrite.drop_model('alice_model');
SELECT dendrite.drop_featurizer('alice_features');
SELECT dendrite.drop_model('alice_tuned');
RESET search_path;
DROP TABLE public.guarded_points;
RESET ROLE;
SELECT count(*) AS alice_models_left FROM dendrite.models WHERE name = 'alice_model';

DROP SCHEMA regress_hostile CASCADE;
REVOKE SELECT ON points FROM regress_dendrite_alice, regress_dendrite_bob, regress_dendrite_viewer, regress_dendrite_boss;
REVOKE CREATE ON SCHEMA public FROM regress_dendrite_alice;
DROP ROLE regress_dendrite_alice, regress_dendrite_bob, regress_dendrite_viewer, regress_dendrite_clerk, regress_dendrite_boss;
