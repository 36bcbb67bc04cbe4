-- Security (issue #8): names are data, never SQL; nothing runs with rights the caller lacks; parameters are
-- not readable by PUBLIC. A role granted none of dendrite's roles gets a clear 42501 and reads nothing; the
-- privilege matrix of the roles themselves is in the privileges suite.
SET client_min_messages = warning;

-- No function of the extension runs with its owner's rights (SECURITY DEFINER), and the SQL-language and
-- PL/pgSQL ones that run catalog statements pin search_path, so a caller's objects cannot stand in for
-- pg_catalog's. compare, retrain and tune run the caller's queries with the caller's path, and the procedure
-- wait_for_shards commits (which a pinned path forbids); their bodies use no operator (the privileges suite
-- calls the first three under a hostile path).
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer_functions,
       array_agg(p.proname::text ORDER BY p.proname) FILTER (
           WHERE l.lanname IN ('sql', 'plpgsql') AND p.proname NOT IN ('compare', 'retrain', 'tune', 'wait_for_shards')
             AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)) AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'dendrite'::regnamespace;

-- Names with quotes, spaces and SQL in them are names: the model is stored under exactly that name and the
-- table the name mentions is untouched.
SELECT version FROM dendrite.train($$x'); DROP TABLE points; --$$, 'SELECT x, y, label FROM points', 'label',
                                   epochs => 1, hidden => '{4}');
SELECT name, (SELECT count(*) FROM points) AS points_rows FROM dendrite.models WHERE name LIKE 'x''%';
SELECT dendrite.drop_model($$x'); DROP TABLE points; --$$);
-- A column name with a quote in it is looked up, not spliced.
SELECT dendrite.train('quoted', 'SELECT x, y, label FROM points', 'label', split_column => $$x" FROM points; --$$);

-- A role that was granted nothing can neither train nor score nor read parameters; a trainer cannot read
-- another role's table through train either: the training query runs with the caller's rights.
CREATE ROLE regress_dendrite_outsider;
SELECT has_table_privilege('regress_dendrite_outsider', 'dendrite.parameters', 'SELECT') AS outsider_reads_parameters,
       has_table_privilege('regress_dendrite_outsider', 'dendrite.trees', 'SELECT') AS outsider_reads_trees,
       has_function_privilege('regress_dendrite_outsider', 'dendrite.score(text, anyelement)', 'EXECUTE') AS outsider_scores,
       (SELECT count(*) FROM information_schema.role_table_grants
         WHERE table_schema = 'dendrite' AND grantee = 'PUBLIC') AS grants_to_public;
SET ROLE regress_dendrite_outsider;
SELECT dendrite.train('outsider', 'SELECT x, y, label FROM points', 'label');
SELECT dendrite.predict('quoted', '{1,2}');
SELECT value FROM dendrite.parameters LIMIT 1;
RESET ROLE;
GRANT dendrite_trainer TO regress_dendrite_outsider;
SET ROLE regress_dendrite_outsider;
SELECT dendrite.train('outsider', 'SELECT x, y, label FROM points', 'label');
RESET ROLE;
REVOKE dendrite_trainer FROM regress_dendrite_outsider;
DROP ROLE regress_dendrite_outsider;
SELECT count(*) AS outsider_models FROM dendrite.models WHERE name = 'outsider';
