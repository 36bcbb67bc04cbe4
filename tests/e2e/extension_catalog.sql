-- Everything the extension defines, one line per fact, in a stable order: upgrade.sh compares a database
-- updated from 0.1.0 with a fresh CREATE EXTENSION, which installs src/sql/dendrite.sql. Objects, columns
-- (in order, with types, defaults and NOT NULL), constraints, indexes, triggers, policies, row security,
-- function definitions (body, volatility, settings), privileges, comments and the tables pg_dump keeps.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'dendrite'),
members AS (SELECT classid, objid FROM pg_depend WHERE refobjid = (SELECT oid FROM ext) AND deptype = 'e'),
relations AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
              UNION
              SELECT c.oid, c.relname, c.relkind FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
                JOIN pg_class c ON c.oid = t.typrelid),
functions AS (SELECT p.oid FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
facts(fact) AS (
    SELECT 'object ' || pg_describe_object(classid, objid, 0) FROM members
    UNION ALL
    SELECT format('column %s.%s #%s %s%s%s', r.relname, a.attname,
                  row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum), format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''))
      FROM relations r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s.%s %s', r.relname, c.conname, pg_get_constraintdef(c.oid))
      FROM relations r JOIN pg_constraint c ON c.conrelid = r.oid
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM relations r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM relations r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s.%s %s %s to %s using (%s) check (%s)', p.tablename, p.policyname, p.permissive, p.cmd,
                  p.roles, p.qual, p.with_check)
      FROM pg_policies p WHERE p.schemaname = 'dendrite'
    UNION ALL
    SELECT format('relation %s kind %s rls %s forced %s acl %s', c.relname, c.relkind, c.relrowsecurity,
                  c.relforcerowsecurity, c.relacl)
      FROM relations r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT format('view %s %s', r.relname, pg_get_viewdef(r.oid)) FROM relations r WHERE r.relkind = 'v'
    UNION ALL
    SELECT format('function %s acl %s', f.oid::regprocedure, p.proacl) || E'\n' || pg_get_functiondef(f.oid)
      FROM functions f JOIN pg_proc p ON p.oid = f.oid
    UNION ALL
    SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
      FROM pg_description d JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid AND d.objsubid = 0
    UNION ALL
    SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
      FROM pg_description d JOIN relations r ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid AND d.objsubid > 0
    UNION ALL
    SELECT 'schema acl ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'dendrite'
    UNION ALL
    SELECT 'kept by pg_dump ' || c::regclass::text FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'dendrite'
)
SELECT fact FROM facts ORDER BY fact;
