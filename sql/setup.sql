-- Installation: the catalog, the functions and their properties.
CREATE EXTENSION dendrite;

-- The suites train on the CPU whatever the machine has, so that their output is the same with and without
-- a GPU; the device suite tests how 'auto' and 'cuda' choose.
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET dendrite.device = cpu', current_database()); END $$;

-- Every function is documented and carries the right volatility, strictness and parallel safety.
SELECT p.proname, p.provolatile AS volatility, p.proparallel AS parallel, p.proisstrict AS strict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS documented
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'dendrite'
 ORDER BY p.proname;

-- Every catalog table and sequence is kept by pg_dump.
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'dendrite' ORDER BY 1;

-- Catalog tables are documented.
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS documented
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'dendrite' AND c.relkind = 'r'
 ORDER BY 1;

-- The data the other suites use: a deterministic, clean two-feature problem with ~12 % positives and an
-- id and a text column that are not features.
CREATE TABLE points AS
SELECT g AS id,
       ((g * 7919) % 1000) / 100.0 - 5 AS x,
       (((g * 104729) % 997) / 99.7 - 5)::float8 AS y,
       'note ' || g AS note,
       (((g * 7919) % 1000) / 100.0 - 5) + 0.5 * ((((g * 104729) % 997) / 99.7 - 5)) > 3.2 AS label
  FROM generate_series(1, 3000) AS g;
SELECT count(*), sum(label::int) AS positives FROM points;
