-- Generates the fuzz cases of tests/e2e/fuzz.sh: calls of every dendrite function (read from pg_proc, so a
-- new function is fuzzed without editing this file) and of the guard triggers, with random and adversarial
-- arguments: NULLs, NaN, infinities, empty and huge arrays, malformed jsonb, odd and injection-shaped names,
-- negative, zero and huge sizes. psql variables: :seed (setseed, in [-1, 1]) and :cases.
-- Output: table fuzz_cases (n, statement), which fuzz.sh runs with \gexec in another session.
SET client_min_messages = warning;
SELECT setseed(:seed);
SET fuzz.cases = :cases;

-- Value pools. pool: what an argument is for (by its name) or its type; weight: how often it is drawn
-- (values that make a statement run until statement_timeout are rare, so that 10,000 cases stay quick).
CREATE TEMP TABLE fuzz_pool (pool text, value text, weight int DEFAULT 10);
INSERT INTO fuzz_pool (pool, value) VALUES
  -- names of models and featurizers (existing, missing, odd, injection-shaped, long)
  ('name', $$'fz'$$), ('name', $$'fz'$$), ('name', $$'fz_feat'$$), ('name', $$'nope'$$), ('name', 'NULL'),
  ('name', $$''$$), ('name', $$'a b'$$), ('name', $$'"fz"'$$), ('name', $$'x''; DROP TABLE fz; --'$$),
  ('name', $$'Fz'$$), ('name', $$repeat('n', 3000)$$), ('name', $$'fz_new'$$), ('name', $$E'tab\there'$$),
  -- queries (good, empty, not a SELECT, several statements, wrong columns, NULL/NaN/out-of-range labels)
  ('query', $$'SELECT * FROM fz'$$), ('query', $$'SELECT x, y, label FROM fz'$$), ('query', $$'SELECT x, y, at, card, label FROM fz ORDER BY at, id'$$),
  ('query', $$'SELECT * FROM fz WHERE false'$$), ('query', $$'SELECT 1'$$), ('query', 'NULL'), ('query', $$''$$),
  ('query', $$'DELETE FROM fz RETURNING *'$$), ('query', $$'SELECT * FROM fz; SELECT 1'$$), ('query', $$'nonsense'$$),
  ('query', $$'SELECT x, x, label FROM fz'$$), ('query', $$'SELECT NULL::float8 AS x, label FROM fz'$$),
  ('query', $$'SELECT ''NaN''::float8 AS x, y, label FROM fz'$$), ('query', $$'SELECT x, 2 AS label FROM fz'$$),
  ('query', $$'SELECT x, y, NULL::int AS label FROM fz'$$), ('query', $$'SELECT x, y, true AS label FROM fz'$$),
  ('query', $$'SELECT note, label FROM fz'$$), ('query', $$'SELECT label FROM fz'$$), ('query', $$'SELECT x, y, label FROM fz LIMIT 1'$$),
  ('query', $$'SELECT ''infinity''::float8 AS x, y, label FROM fz'$$), ('query', $$'SELECT x, y, label, ip FROM fz'$$),
  ('query', $$'SELECT * FROM fz_missing_table'$$), ('query', $$'SELECT x, y, label INTO fz_copy FROM fz'$$),
  ('query', $$'WITH d AS (DELETE FROM fz RETURNING *) SELECT * FROM d'$$), ('query', $$'SELECT x, y, label, 1/0 AS boom FROM fz'$$),
  -- column names
  ('column', $$'label'$$), ('column', $$'x'$$), ('column', $$'at'$$), ('column', $$'id'$$), ('column', $$'note'$$),
  ('column', $$'nope'$$), ('column', 'NULL'), ('column', $$''$$), ('column', $$'"label"'$$), ('column', $$'x''; --'$$),
  -- words an argument expects, and others
  ('word', $$'mlp'$$), ('word', $$'gbdt'$$), ('word', $$'logistic_regression'$$), ('word', $$'relu'$$), ('word', $$'gelu'$$),
  ('word', $$'adam'$$), ('word', $$'sgd'$$), ('word', $$'balanced'$$), ('word', $$'none'$$), ('word', $$'cpu'$$),
  ('word', $$'cuda'$$), ('word', $$'auto'$$), ('word', $$'focal'$$), ('word', $$'bce'$$), ('word', $$'f1'$$),
  ('word', $$'precision:0.9'$$), ('word', $$'recall:1.5'$$), ('word', $$'precision:NaN'$$), ('word', $$'best'$$),
  ('word', $$'pr_auc'$$), ('word', $$'error'$$), ('word', $$'missing'$$), ('word', 'NULL'), ('word', $$''$$),
  ('word', $$'svm'$$), ('word', $$'0.5'$$), ('word', $$'-1'$$), ('word', $$'1e400'$$),
  -- integers (huge epochs run until statement_timeout: rare)
  ('int', 'NULL'), ('int', '0'), ('int', '-1'), ('int', '1'), ('int', '2'), ('int', '3'), ('int', '64'),
  ('int', '2147483647'), ('int', '-2147483648'),
  ('float8', 'NULL'), ('float8', '0'), ('float8', '-1'), ('float8', '0.001'), ('float8', '0.5'), ('float8', '1'),
  ('float8', '1e308'), ('float8', $$'NaN'$$), ('float8', $$'Infinity'$$), ('float8', $$'-Infinity'$$), ('float8', '1e-300'),
  ('bool', 'NULL'), ('bool', 'true'), ('bool', 'false'),
  ('int[]', 'NULL'), ('int[]', $$'{}'$$), ('int[]', $$'{NULL}'$$), ('int[]', $$'{8}'$$), ('int[]', $$'{0}'$$),
  ('int[]', $$'{-5}'$$), ('int[]', $$'{8,4}'$$), ('int[]', $$array_fill(2, ARRAY[40])$$), ('int[]', $$'{{1,2},{3,4}}'$$),
  ('text[]', 'NULL'), ('text[]', $$'{}'$$), ('text[]', $$'{mlp}'$$), ('text[]', $$'{gbdt,mlp,gbdt}'$$), ('text[]', $$'{NULL}'$$),
  ('text[]', $$'{svm}'$$), ('text[]', $$'{logistic_regression,mlp,gbdt}'$$),
  ('real[]', 'NULL'), ('real[]', $$'{}'$$), ('real[]', $$'{NaN}'$$), ('real[]', $$'{1,2}'$$), ('real[]', $$'{Infinity,1}'$$),
  ('real[]', $$'{NULL,1}'$$), ('real[]', $$array_fill(0.5::real, ARRAY[10000])$$), ('real[]', $$'{{1,2},{3,4}}'$$),
  ('real[]', $$(SELECT dendrite.features('fz_feat', t) FROM fz t LIMIT 1)$$),
  ('jsonb', 'NULL'), ('jsonb', $$'{}'$$), ('jsonb', $$'[]'$$), ('jsonb', $$'"x"'$$), ('jsonb', $$'1'$$), ('jsonb', $$'null'$$),
  ('jsonb', $$'{"epochs": -1}'$$), ('jsonb', $$'{"zzz": 1}'$$), ('jsonb', $$'{"hidden": "x"}'$$), ('jsonb', $$'{"threads": 100000}'$$),
  ('jsonb', $$'{"x": {"kind": "categorical"}}'$$), ('jsonb', $$'{"x": "ignore", "y": "ignore", "label": "ignore"}'$$),
  ('jsonb', $$'{"x": {"transform": "log1p", "clip": [5, 1]}}'$$), ('jsonb', $$'{"x": {"kind": "nope"}}'$$),
  ('jsonb', $$(repeat('[', 200) || repeat(']', 200))::jsonb$$), ('jsonb', $$'[{"entity": "card", "time": "at", "windows": ["1 day"], "aggregates": ["count"]}]'$$),
  ('jsonb', $$'[{"entity": "nope", "time": "at", "windows": ["1 day"]}]'$$), ('jsonb', $$'[{"entity": "card", "time": "x", "windows": ["-1 day"]}]'$$),
  ('jsonb', $$'{"schedule": "cosine", "warmup_epochs": 100}'$$), ('jsonb', $$'{"learning_rate": "NaN"}'$$),
  ('jsonb', $$'{"max_depth": 0}'$$), ('jsonb', $$'{"subsample": 2}'$$), ('jsonb', $$'{"clip_norm": -1, "momentum": 1}'$$),
  ('jsonb', $$'{"negative_sampling": 0}'$$), ('jsonb', $$'{"epochs": 1e30}'$$), ('jsonb', $$'{"eta": 1e-320}'$$),
  ('timestamp', 'NULL'), ('timestamp', $$'infinity'$$), ('timestamp', $$'-infinity'$$), ('timestamp', $$'2026-01-01'$$),
  ('timestamp', $$'4713-01-01 BC'$$), ('timestamp', $$'294276-12-31'$$), ('timestamp', $$'2026-03-01'$$),
  ('interval', 'NULL'), ('interval', $$'0'$$), ('interval', $$'-1 day'$$), ('interval', $$'1 day'$$), ('interval', $$'1000000 years'$$),
  ('row', 't'), ('row', 't'), ('row', 'NULL::fz'), ('row', 'ROW(1)'), ('row', '1'), ('row', $$'x'::text$$),
  ('row', '(SELECT s FROM fz s LIMIT 0)'), ('row', 'ROW(t.x, t.y)'),
  -- trigger arguments (strings in CREATE TRIGGER)
  ('trigger_arg', $$'fz'$$), ('trigger_arg', $$'nope'$$), ('trigger_arg', $$'reject'$$), ('trigger_arg', $$'flag'$$),
  ('trigger_arg', $$'log'$$), ('trigger_arg', $$'0.5'$$), ('trigger_arg', $$'NaN'$$), ('trigger_arg', $$'-1'$$),
  ('trigger_arg', $$'2'$$), ('trigger_arg', $$'score'$$), ('trigger_arg', $$'flagged'$$), ('trigger_arg', $$'id'$$),
  ('trigger_arg', $$'x'$$), ('trigger_arg', $$''$$), ('trigger_arg', $$'a b'$$), ('trigger_arg', $$'flag,log'$$);
-- The objects that exist are drawn more often than any one odd name, so that calls get past the lookup.
INSERT INTO fuzz_pool VALUES ('name', $$'fz'$$, 60), ('name', $$'fz_feat'$$, 30), ('column', $$'label'$$, 30);
-- Values that run long: drawn once in about a thousand.
INSERT INTO fuzz_pool VALUES
  ('int', '1000000000', 1), ('float8', '1e-30', 2),
  ('query', $$'SELECT x, y, label FROM fz, generate_series(1, 2000)'$$, 1), ('query', $$'SELECT pg_sleep(0.05), x, y, label FROM fz'$$, 1);

-- Which pool an argument draws from: by its name first, then by its type.
CREATE TEMP TABLE fuzz_arguments AS
SELECT p.oid AS function, p.proname AS function_name, a.position, a.name, a.type,
       p.pronargs - p.pronargdefaults AS required,
       CASE WHEN a.name IN ('model', 'name', 'featurizer') THEN 'name'
            WHEN a.name IN ('query', 'history_query') THEN 'query'
            WHEN a.name IN ('label', 'key', 'split_column') THEN 'column'
            WHEN a.type IN ('text'::regtype) THEN 'word'
            WHEN a.type IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype) THEN 'int'
            WHEN a.type IN ('double precision'::regtype, 'real'::regtype, 'numeric'::regtype) THEN 'float8'
            WHEN a.type = 'boolean'::regtype THEN 'bool'
            WHEN a.type = 'integer[]'::regtype THEN 'int[]'
            WHEN a.type = 'text[]'::regtype THEN 'text[]'
            WHEN a.type = 'real[]'::regtype THEN 'real[]'
            WHEN a.type = 'jsonb'::regtype THEN 'jsonb'
            WHEN a.type IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN 'timestamp'
            WHEN a.type = 'interval'::regtype THEN 'interval'
            WHEN a.type = 'anyelement'::regtype THEN 'row'
            ELSE 'word' END AS pool
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'dendrite'
  CROSS JOIN LATERAL (
      SELECT i AS position, coalesce(p.proargnames[i], '') AS name, p.proargtypes[i - 1]::regtype AS type
        FROM generate_series(1, p.pronargs) AS i) a
 WHERE p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype) AND p.prokind = 'f';
-- Functions with no arguments take part too.
CREATE TEMP TABLE fuzz_functions AS
SELECT p.oid AS function, p.proname AS function_name, p.pronargs AS nargs, p.pronargs - p.pronargdefaults AS required,
       p.proretset AS returns_set
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'dendrite'
 WHERE p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype) AND p.prokind = 'f';

DROP TABLE IF EXISTS fuzz_cases;
CREATE TABLE fuzz_cases (n int PRIMARY KEY, statement text NOT NULL);

-- A weighted draw from a pool.
CREATE FUNCTION pg_temp.draw(wanted text) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT value FROM (SELECT value, sum(weight) OVER (ORDER BY value, weight ROWS UNBOUNDED PRECEDING) AS upto,
                            sum(weight) OVER () AS total
                       FROM fuzz_pool WHERE pool = wanted) w
   WHERE upto > (SELECT random()) * total ORDER BY upto LIMIT 1
$$;

DO $$
DECLARE
  cases int := current_setting('fuzz.cases')::int;
  f record;
  a record;
  arguments text[];
  call text;
  uses_row boolean;
  trigger_arguments text;
BEGIN
  FOR n IN 1 .. cases LOOP
    -- Every 100 cases, the objects the pools name are made again (a case may have dropped them).
    IF n % 100 = 1 THEN
      INSERT INTO fuzz_cases VALUES (n, $q$SELECT count(*) FROM (SELECT dendrite.drop_model(name) FROM dendrite.models WHERE name = 'fz') d;
        SELECT dendrite.train('fz', 'SELECT x, y, label FROM fz', 'label', epochs => 2, hidden => '{4}');
        SELECT dendrite.deploy('fz');
        SELECT count(*) FROM (SELECT dendrite.drop_featurizer(name) FROM dendrite.featurizers WHERE name = 'fz_feat') d;
        SELECT dendrite.create_featurizer('fz_feat', 'SELECT x, y, note, at, card, label FROM fz ORDER BY at, id', label => 'label',
          history => '[{"entity": "card", "time": "at", "value": "x", "windows": ["1 day"], "aggregates": ["count", "mean"]}]')$q$);
      CONTINUE;
    END IF;
    IF random() < 0.06 THEN
      -- A guard trigger with random arguments, an insert through it, and the trigger dropped again (one
      -- statement string: an error rolls all of it back).
      SELECT string_agg(pg_temp.draw('trigger_arg'), ', ') INTO trigger_arguments
        FROM generate_series(1, (random() * 5)::int);
      IF random() < 0.5 THEN
        INSERT INTO fuzz_cases VALUES (n, format(
          'CREATE TRIGGER fz_guard BEFORE INSERT OR UPDATE ON fz_guarded FOR EACH ROW EXECUTE FUNCTION dendrite.guard(%s); '
          'INSERT INTO fz_guarded SELECT * FROM fz ORDER BY id LIMIT %s; UPDATE fz_guarded SET x = x + 1 WHERE id < 3; '
          'DROP TRIGGER fz_guard ON fz_guarded', coalesce(trigger_arguments, ''), 1 + (random() * 20)::int));
      ELSE
        INSERT INTO fuzz_cases VALUES (n, format(
          'CREATE TRIGGER fz_guard AFTER INSERT ON fz_guarded REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
          'EXECUTE FUNCTION dendrite.guard_batch(%s); INSERT INTO fz_guarded SELECT * FROM fz ORDER BY id LIMIT %s; '
          'DROP TRIGGER fz_guard ON fz_guarded', coalesce(trigger_arguments, ''), 1 + (random() * 50)::int));
      END IF;
      CONTINUE;
    END IF;
    SELECT * INTO f FROM fuzz_functions ORDER BY random() LIMIT 1;
    arguments := '{}';
    uses_row := false;
    -- Required arguments by position; each optional one, named, half of the time (in any order).
    FOR a IN SELECT * FROM fuzz_arguments WHERE function = f.function ORDER BY position LOOP
      IF a.position <= f.required THEN
        arguments := arguments || pg_temp.draw(a.pool);
      END IF;
    END LOOP;
    FOR a IN SELECT * FROM fuzz_arguments WHERE function = f.function AND position > f.required ORDER BY random() LOOP
      IF random() < 0.5 THEN
        arguments := arguments || format('%I => %s', a.name, pg_temp.draw(a.pool));
      END IF;
    END LOOP;
    call := format('dendrite.%I(%s)', f.function_name, array_to_string(arguments, ', '));
    uses_row := call ~ '\mt\M';
    INSERT INTO fuzz_cases VALUES (n, format('SELECT count(*) FROM (SELECT %s%s) fuzz_call', call,
                                             CASE WHEN uses_row THEN ' FROM fz t ORDER BY t.id LIMIT 5' ELSE '' END));
  END LOOP;
END $$;
