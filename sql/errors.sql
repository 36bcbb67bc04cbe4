-- Every argument check and error path of dendrite.train reaches psql as a clean ERROR with its SQLSTATE,
-- and the session keeps working after each.
SET client_min_messages = warning;
-- A plugin that is not there: device => 'cuda' fails the same way on machines with and without a GPU
-- (sql/device.sql covers the choice of device).
SET dendrite.cuda_library = '/nonexistent/dendrite_cuda.so';

CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION
    WHEN query_canceled THEN RETURN SQLSTATE || ': ' || SQLERRM;
    WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE TEMP TABLE cases (id serial, arguments text);
INSERT INTO cases (arguments) VALUES
    -- engine errors (22023), raised by the engine in C++ and mapped at the boundary
    ($$'e', 'SELECT x, y, label FROM points', 'label', learning_rate => -1$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', epochs => 0$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', batch_size => 0$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', algorithm => 'svm'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', optimizer => 'lbfgs'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', activation => 'swish'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', class_weight => 'heavy'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', class_weight => '-3'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', validation_fraction => 1$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', hidden => '{}'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', hidden => '{0}'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', hidden => '{100000}'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', hidden => '{{1,2},{3,4}}'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', hidden => '{8,NULL}'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', learning_rate => 'NaN'$$),
    -- devices
    ($$'e', 'SELECT x, y, label FROM points', 'label', device => 'cuda'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', device => 'tpu'$$),
    -- NULL arguments
    ($$NULL, 'SELECT x, y, label FROM points', 'label'$$),
    ($$'e', NULL, 'label'$$),
    ($$'e', 'SELECT x, y, label FROM points', NULL$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', epochs => NULL$$),
    ($$'', 'SELECT x, y, label FROM points', 'label'$$),
    -- the query
    ($$'e', 'SELEC x FROM points', 'label'$$),
    ($$'e', 'SELECT x FROM no_such_table', 'label'$$),
    ($$'e', 'DELETE FROM points', 'label'$$),
    ($$'e', 'SELECT 1; SELECT 2', 'label'$$),
    ($$'e', 'CREATE TABLE t2 AS SELECT 1', 'label'$$),
    -- the data
    ($$'e', 'SELECT x, y, label FROM points WHERE false', 'label'$$),
    ($$'e', 'SELECT x, y, false AS label FROM points', 'label'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'no_such_column'$$),
    ($$'e', 'SELECT x, y, note AS label FROM points', 'label'$$),
    ($$'e', 'SELECT ''{}''::json AS doc, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, y, CASE WHEN id = 5 THEN NULL ELSE label END AS label FROM points', 'label'$$),
    ($$'e', 'SELECT x, y, (id % 3) AS label FROM points', 'label'$$),
    ($$'e', 'SELECT x, CASE WHEN id = 9 THEN ''NaN''::float8 ELSE y END AS y, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, CASE WHEN id = 9 THEN ''-Infinity''::float8 ELSE y END AS y, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, CASE WHEN id = 9 THEN ''NaN''::numeric ELSE x END AS z, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, x, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, label, label FROM points', 'label'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', learning_rate => 1e30, optimizer => 'sgd'$$),
    -- the featurizer arguments
    ($$'e', 'SELECT x, y, label FROM points', 'label', featurizer => 'no_such_featurizer'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', since => '2026-01-01'$$),
    ($$'e', 'SELECT x, y, label FROM points', 'label', since => 'infinity'$$);

SELECT id, pg_temp.sqlstate_of('SELECT dendrite.train(' || arguments || ')') AS result FROM cases ORDER BY id;

-- Nothing was stored by any of them, and the session still works.
SELECT count(*) AS models_named_e FROM dendrite.models WHERE name IN ('e', '');
SELECT 1 AS still_working;

-- The error fields psql shows: message, detail and hint.
\set VERBOSITY default
SELECT dendrite.train('e', 'SELECT x, y, false AS label FROM points', 'label');
SELECT dendrite.train('e', 'SELECT x, y, label FROM points', 'label', device => 'cuda');
SELECT dendrite.train('e', 'SELECT x, y, label FROM points', 'label', class_weight => 'heavy');

-- statement_timeout stops a long training between batches with 57014, and nothing is half-written.
CREATE TABLE big AS SELECT x, y, label FROM points, generate_series(1, 20);
SELECT count(*) AS versions_before FROM dendrite.model_versions \gset
SET statement_timeout = '500ms';
SELECT pg_temp.sqlstate_of($$SELECT dendrite.train('slow', 'SELECT x, y, label FROM big', 'label', epochs => 100000, batch_size => 32)$$) AS result;
RESET statement_timeout;
SELECT count(*) - :versions_before AS new_versions, (SELECT count(*) FROM dendrite.models WHERE name = 'slow') AS slow_models
  FROM dendrite.model_versions;
SELECT 1 AS still_working;

-- A transaction that aborts after training (and after scoring with the new model in this backend) leaves
-- nothing behind: no model, version, featurizer or parameter rows, and this backend's caches do not serve
-- the rolled-back version afterwards.
SELECT (SELECT count(*) FROM dendrite.model_versions) AS versions_before,
       (SELECT count(*) FROM dendrite.featurizers) AS featurizers_before,
       (SELECT count(*) FROM dendrite.parameters) AS parameters_before \gset
BEGIN;
SELECT version FROM dendrite.train('ghost', 'SELECT x, y, label FROM points', 'label', epochs => 1, hidden => '{4}');
SELECT dendrite.deploy('ghost') IS NOT NULL AS deployed;
SELECT count(dendrite.score('ghost', p)) AS scored_inside FROM points p;
ROLLBACK;
SELECT (SELECT count(*) FROM dendrite.model_versions) - :versions_before AS new_versions,
       (SELECT count(*) FROM dendrite.featurizers) - :featurizers_before AS new_featurizers,
       (SELECT count(*) FROM dendrite.parameters) - :parameters_before AS new_parameters,
       (SELECT count(*) FROM dendrite.models WHERE name = 'ghost') AS ghost_models,
       (SELECT count(*) FROM dendrite.training_progress) AS in_progress;
SELECT dendrite.score('ghost', p) FROM points p LIMIT 1;
