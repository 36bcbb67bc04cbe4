-- Featurizers: every column kind, NULL / unseen / NaN, versions pinned by models, dropped and retyped
-- columns, and entity history that is identical offline and inline.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.rounded(a real[]) RETURNS numeric[] LANGUAGE sql IMMUTABLE AS
  $$ SELECT array_agg(round(x::numeric, 3) ORDER BY i) FROM unnest(a) WITH ORDINALITY AS u(x, i) $$;

CREATE TABLE payments (
    id        int,
    amount    numeric,
    merchant  text,
    mcc       int,
    card_present boolean,
    at        timestamp,
    ip        inet,
    fraud     int
);
INSERT INTO payments
SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 50) * 3.5 END,
       (ARRAY['grocery', 'fuel', 'grocery', 'travel', 'grocery', 'fuel'])[1 + g % 6],
       5411 + g % 3, g % 4 <> 0,
       '2026-03-02 00:00'::timestamp + g * interval '37 minutes',
       CASE WHEN g % 5 = 0 THEN NULL ELSE ('10.0.' || (g % 3) || '.' || (g % 200))::inet END,
       (g % 7 = 0)::int
  FROM generate_series(1, 600) AS g;

SELECT dendrite.create_featurizer('pay', 'SELECT * FROM payments', label => 'fraud',
    columns => '{"id": "ignore", "amount": {"transform": "log1p", "clip": [0, 150]}, "merchant": {"top_k": 2},
                 "mcc": "target", "ip": {"buckets": 4}}') AS version;
SELECT dendrite.feature_names('pay');
SELECT ordinal, column_name, kind, missing_indicator, round(center::numeric, 3) AS center, round(scale::numeric, 3) AS scale,
       round(impute::numeric, 3) AS impute, round(unseen_value::numeric, 3) AS unseen_value, outputs
  FROM dendrite.feature_columns JOIN dendrite.featurizers USING (featurizer_id) WHERE name = 'pay' ORDER BY ordinal;
SELECT c.ordinal, rank, category, round(value::numeric, 4) AS value
  FROM dendrite.feature_categories c JOIN dendrite.featurizers USING (featurizer_id) WHERE name = 'pay' ORDER BY 1, 2;
SELECT spec->'columns'->0 AS amount_spec, input_columns, input_types FROM dendrite.featurizers WHERE name = 'pay';

-- A known row, a row with NULLs, and a row with categories never seen.
SELECT pg_temp.rounded(dendrite.features('pay', p)) FROM payments p WHERE id = 7;
SELECT pg_temp.rounded(dendrite.features('pay', t))
  FROM (SELECT NULL::numeric AS amount, NULL::text AS merchant, NULL::int AS mcc, NULL::boolean AS card_present,
               NULL::timestamp AS at, NULL::inet AS ip) t;
SELECT pg_temp.rounded(dendrite.features('pay', t))
  FROM (SELECT 1e6::numeric AS amount, 'casino' AS merchant, 9999 AS mcc, true AS card_present,
               '2026-03-07 23:30'::timestamp AS at, '2001:db8::1'::inet AS ip) t;

-- The time types share a class, not a meaning: a timestamptz (an instant, its hour UTC's) where a timestamp (a
-- wall-clock reading) was fitted would shift every hour by the zone's offset, a date would be midnight: 42804.
SELECT dendrite.features('pay', t) FROM (SELECT 1::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc,
       true AS card_present, '2026-03-07 23:30+00'::timestamptz AS at, NULL::inet AS ip) t;
SELECT dendrite.features('pay', t) FROM (SELECT 1::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc,
       true AS card_present, '2026-03-07'::date AS at, NULL::inet AS ip) t;
-- A featurizer stored by 0.5.0 or earlier recorded "timestamp" for all three: it binds any of them, as it did.
UPDATE dendrite.featurizers SET input_types[5] = 'timestamp' WHERE name = 'pay';
SELECT cardinality(dendrite.features('pay', t)) AS legacy_binds_timestamptz
  FROM (SELECT 1::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc, true AS card_present,
               '2026-03-07 23:30+00'::timestamptz AS at, NULL::inet AS ip) t;
UPDATE dendrite.featurizers SET input_types[5] = 'timestamp without time zone' WHERE name = 'pay';

-- NaN: an error naming the column, or missing when the featurizer was created with nonfinite => 'missing'.
SELECT dendrite.features('pay', t) FROM (SELECT 'NaN'::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc,
       true AS card_present, now()::timestamp AS at, NULL::inet AS ip) t;
SELECT dendrite.create_featurizer('pay_lenient', 'SELECT amount, merchant FROM payments', nonfinite => 'missing',
                                  columns => '{"amount": {"missing_indicator": true}}');
SELECT dendrite.features('pay_lenient', t) FROM (SELECT 'Infinity'::float8 AS amount, 'fuel' AS merchant) t;
-- An infinite time ('infinity', '-infinity', or a finite one beyond the year 294,000) is no point on the
-- clock: the same rule (it was read as a NULL, without a word). Scoring, fitting, and history alike.
SELECT dendrite.features('pay', t) FROM (SELECT 1::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc,
       true AS card_present, 'infinity'::timestamp AS at, NULL::inet AS ip) t;
SELECT dendrite.features('pay', t) FROM (SELECT 1::numeric AS amount, 'fuel' AS merchant, 5411 AS mcc,
       true AS card_present, '294270-01-01'::timestamp AS at, NULL::inet AS ip) t;
SELECT dendrite.create_featurizer('pay_infinite', 'SELECT amount, at FROM payments UNION ALL SELECT 1, ''-infinity''');
SELECT dendrite.create_featurizer('pay_lenient_time', 'SELECT amount, at FROM payments UNION ALL SELECT 1, ''-infinity''',
                                  nonfinite => 'missing') AS version;
SELECT dendrite.features('pay_lenient_time', i) = dendrite.features('pay_lenient_time', n) AS infinite_is_missing
  FROM (SELECT 5::numeric AS amount, 'infinity'::timestamp AS at) i, (SELECT 5::numeric AS amount, NULL::timestamp AS at) n;
SELECT dendrite.drop_featurizer('pay_lenient_time');

-- The label is no feature: a row whose label is boolean where the fitting query's was an integer gets the
-- same features, and a label of another type (text) is left unread.
SELECT dendrite.features('pay', p) = dendrite.features('pay', b) AS boolean_label,
       dendrite.features('pay', p) = dendrite.features('pay', t) AS text_label
  FROM payments p,
       LATERAL (SELECT p.amount, p.merchant, p.mcc, p.card_present, p.at, p.ip, p.fraud = 1 AS fraud) b,
       LATERAL (SELECT p.amount, p.merchant, p.mcc, p.card_present, p.at, p.ip, 'unknown'::text AS fraud) t
 WHERE p.id = 7;

-- Versions: a refit adds version 2; a model trained on version 1 keeps using it.
SELECT version FROM dendrite.train('pay_model', 'SELECT * FROM payments', 'fraud', featurizer => 'pay', epochs => 2, hidden => '{8}');
CREATE TEMP TABLE pinned AS SELECT id, dendrite.score('pay_model', p) AS score FROM payments p;
SELECT dendrite.create_featurizer('pay', 'SELECT amount, merchant, fraud FROM payments', label => 'fraud') AS version;
SELECT array_length(dendrite.features('pay', p), 1) AS latest_outputs FROM payments p LIMIT 1;
SELECT cardinality(dendrite.feature_names('pay_model')) AS model_features, bool_and(dendrite.score('pay_model', p) = pinned.score) AS unchanged
  FROM payments p JOIN pinned USING (id);
SELECT m.name, v.version, f.name AS featurizer, f.version AS featurizer_version
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) JOIN dendrite.featurizers f USING (featurizer_id)
 WHERE m.name = 'pay_model';

-- A column dropped or retyped since fitting: a clear error naming it.
CREATE TABLE payments_copy AS SELECT * FROM payments;
ALTER TABLE payments_copy DROP COLUMN merchant;
SELECT dendrite.score('pay_model', p) FROM payments_copy p LIMIT 1;
CREATE TABLE payments_retyped AS SELECT * FROM payments;
ALTER TABLE payments_retyped ALTER COLUMN at TYPE text;
SELECT dendrite.score('pay_model', p) FROM payments_retyped p LIMIT 1;

-- featurize: the vectors of a whole query in one pass, keyed.
SELECT count(*), bool_and(cardinality(features) = cardinality(dendrite.feature_names('pay'))) AS width FROM dendrite.featurize('pay', 'SELECT * FROM payments', key => 'id');

-- Errors in the spec.
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', columns => '{"nope": "numeric"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', columns => '{"amount": "cubic"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', columns => '{"merchant": "numeric"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', columns => '{"merchant": "target"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', columns => '[1, 2]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "at"}]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "amount", "windows": ["1 day"]}]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "at", "windows": ["a while"]}]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "at", "label": "fraud", "windows": ["1 day"]}]');
-- Every feature a name of its own: a window listed twice (or "1 day" beside "24 hours": the same features), a
-- query column named like another column's output (at_night beside at's), 22023 and 42701.
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "at", "windows": ["1 day", "7 days", "1 day"]}]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', history => '[{"entity": "mcc", "time": "at", "windows": ["1 day", "24 hours"]}]');
SELECT dendrite.create_featurizer('bad', 'SELECT *, amount AS at_night FROM payments');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', since => '2026-03-05');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments', nonfinite => 'ignore');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM payments WHERE false');
SELECT dendrite.create_featurizer('bad', 'SELECT ''{}''::json AS doc FROM payments');
SELECT dendrite.create_featurizer('', 'SELECT * FROM payments');
SELECT dendrite.create_featurizer('bad', 'DELETE FROM payments');
SELECT dendrite.features('no_such_featurizer', p) FROM payments p LIMIT 1;
SELECT dendrite.observe('pay', p) FROM payments p LIMIT 1;
SELECT count(*) FROM dendrite.featurize('pay', 'SELECT * FROM payments', since => '2026-03-05');
SELECT count(*) FROM dendrite.featurizers WHERE name = 'bad';

-- drop_featurizer: not while a model uses it.
SELECT dendrite.drop_featurizer('pay');
SELECT dendrite.drop_featurizer('pay_lenient');
SELECT dendrite.drop_featurizer('pay_lenient');

--------------------------------------------------------------------------------------------------------
-- Entity history: offline (one ordered pass) and inline (row by row) give exactly the same vectors.
--------------------------------------------------------------------------------------------------------
CREATE TABLE stream AS
SELECT transaction_id, tx_time + transaction_id * interval '1 microsecond' AS tx_time,  -- distinct times
       customer_id, terminal_id, amount, is_fraud::int AS is_fraud
  FROM dendrite.generate_transactions(customers => 200, terminals => 400, days => 40, seed => 3);
SELECT count(*) AS rows, count(DISTINCT tx_time) = count(*) AS distinct_times FROM stream;
CREATE TABLE arrived AS SELECT * FROM stream WHERE transaction_id < 10000;

SELECT dendrite.create_featurizer('velocity', 'SELECT * FROM arrived', label => 'is_fraud',
    history_query => 'SELECT * FROM arrived',
    columns => '{"transaction_id": "ignore"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 hour", "1 day", "7 days", "30 days"],
                  "distinct": "terminal_id",
                  "aggregates": ["count", "sum", "mean", "max", "min", "stddev", "ratio_to_mean", "distinct", "since_last"]},
                 {"entity": "terminal_id", "time": "tx_time", "label": "is_fraud", "delay": "7 days", "transform": "log1p",
                  "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_count", "fraud_rate"]}]') AS version;
SELECT cardinality(dendrite.feature_names('velocity')) AS outputs;
-- Ids beyond 2^53 (snowflake ids as bigint, card numbers as numeric(19)) keep their exact value as keys: two
-- customers 1 apart have histories and categories of their own (as doubles, 1,024 such ids were one).
CREATE TABLE big_ids AS
SELECT g AS id, 6011000000000000004 + g % 2 AS card, (6011000000000000004 + g % 2)::bigint AS customer,
       1 + 10 * (g % 2) AS amount, timestamp '2026-01-01' + g * interval '1 minute' AS at, g % 7 = 0 AS label
  FROM generate_series(1, 40) g;
SELECT dendrite.create_featurizer('big_ids', 'SELECT customer FROM big_ids', columns => '{"customer": "categorical"}') AS version;
SELECT category FROM dendrite.feature_categories c JOIN dendrite.featurizers f USING (featurizer_id)
 WHERE f.name = 'big_ids' ORDER BY 1;
SELECT dendrite.create_featurizer('big_id_history', 'SELECT * FROM big_ids ORDER BY at', label => 'label',
    columns => '{"id": "ignore", "card": "ignore", "customer": "ignore", "at": "ignore", "amount": "ignore"}',
    history => '[{"entity": "customer", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["max"]},
                 {"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["max"]}]') AS version;
-- Each id's running max is its own amount (1 or 11): two distinct vectors, where merged ids gave one.
SELECT count(DISTINCT features) AS distinct_vectors
  FROM dendrite.featurize('big_id_history', 'SELECT * FROM big_ids WHERE id > 2', key => 'id');
SELECT dendrite.drop_featurizer('big_ids');
SELECT dendrite.drop_featurizer('big_id_history');
DROP TABLE big_ids;
-- A history's time that is infinite (the column itself no feature here) is the nonfinite rule's too.
SELECT dendrite.create_featurizer('velocity_time', 'SELECT * FROM arrived', label => 'is_fraud', history_query => 'SELECT * FROM arrived',
    columns => '{"transaction_id": "ignore", "tx_time": "ignore"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "windows": ["1 day"], "aggregates": ["count"]}]') AS version;
SELECT dendrite.features('velocity_time', t)
  FROM (SELECT transaction_id, '-infinity'::timestamp AS tx_time, customer_id, terminal_id, amount, is_fraud FROM stream LIMIT 1) t;
SELECT dendrite.drop_featurizer('velocity_time');
SELECT name FROM unnest(dendrite.feature_names('velocity')) AS name
 WHERE name LIKE '%stddev%' OR name LIKE '%since_last%' OR name LIKE '%\_min\_%' OR name LIKE '%distinct%' ORDER BY 1;
-- Its history counts labels: a boolean label reads as the integer one did, a text one is an error (the history
-- would learn no fraud from it).
SELECT array_length(dendrite.features('velocity', t), 1) AS boolean_label_outputs
  FROM (SELECT transaction_id, tx_time, customer_id, terminal_id, amount, is_fraud = 1 AS is_fraud FROM stream LIMIT 1) t;
SELECT dendrite.features('velocity', t)
  FROM (SELECT transaction_id, tx_time, customer_id, terminal_id, amount, 'no'::text AS is_fraud FROM stream LIMIT 1) t;
-- stddev needs a value column; an unknown aggregate names the ones there are.
SELECT dendrite.create_featurizer('velocity_bad', 'SELECT * FROM arrived',
    history => '[{"entity": "customer_id", "time": "tx_time", "windows": ["1 day"], "aggregates": ["stddev"]}]');
SELECT dendrite.create_featurizer('velocity_bad', 'SELECT * FROM arrived',
    history => '[{"entity": "customer_id", "time": "tx_time", "windows": ["1 day"], "aggregates": ["median"]}]');
-- History outputs are standardized as they are, or log1p-transformed first when a declaration says
-- "transform": "log1p" (it compresses heavy tails); the stored spec says which.
SELECT h->>'name' AS declaration, h->>'transform' AS transform
  FROM dendrite.featurizers f, jsonb_array_elements(f.spec->'history') h WHERE f.name = 'velocity';
SELECT dendrite.create_featurizer('velocity_bad', 'SELECT * FROM arrived',
    history => '[{"entity": "customer_id", "time": "tx_time", "windows": ["1 day"], "transform": "quantile"}]');

-- Offline: one pass over every row.
CREATE TABLE offline AS
SELECT key::bigint AS transaction_id, features FROM dendrite.featurize('velocity', 'SELECT * FROM stream', key => 'transaction_id');

-- A query without the time column the pass orders by is named as such (not as an error from inside the
-- ordering wrapper); a query that writes or locks rows is refused before it runs.
SELECT count(*) FROM dendrite.featurize('velocity', 'SELECT transaction_id, customer_id FROM stream');
SELECT count(*) FROM dendrite.featurize('velocity', 'WITH gone AS (DELETE FROM stream RETURNING *) SELECT * FROM gone');
SELECT count(*) FROM dendrite.featurize('velocity', 'SELECT * FROM stream FOR UPDATE');
SELECT count(*) AS stream_rows_kept FROM stream;

-- Inline: the rows after the first 10000 arrive one by one; each is featurized, then observed.
CREATE TABLE inline (transaction_id bigint, features real[]);
DO $$
DECLARE
    r stream;
BEGIN
    FOR r IN SELECT * FROM stream WHERE transaction_id >= 10000 ORDER BY tx_time LOOP
        INSERT INTO inline VALUES (r.transaction_id, dendrite.features('velocity', r));
        PERFORM dendrite.observe('velocity', r);
    END LOOP;
END
$$;
SELECT count(*) AS compared, count(*) FILTER (WHERE o.features = i.features) AS identical,
       count(*) FILTER (WHERE o.features[1] <> 0) > 0 AS non_trivial
  FROM inline i JOIN offline o USING (transaction_id);

-- The inline state is built by replaying the history query in time order: as its rows come while they come
-- in time order (no sort), else sorted from the first that does not (the replay starts over). Both give the
-- same state: the same features for the rows that arrive next.
SELECT dendrite.create_featurizer(name, 'SELECT * FROM arrived', label => 'is_fraud', history_query => query,
    columns => '{"transaction_id": "ignore"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 hour", "7 days"],
                  "distinct": "terminal_id", "aggregates": ["count", "mean", "stddev", "distinct", "since_last"]},
                 {"entity": "terminal_id", "time": "tx_time", "label": "is_fraud", "delay": "7 days",
                  "windows": ["7 days"], "aggregates": ["fraud_rate"]}]') AS version
  FROM (VALUES ('replay_in_order', 'SELECT * FROM arrived ORDER BY tx_time'),
               ('replay_shuffled', 'SELECT * FROM arrived ORDER BY md5(transaction_id::text)')) AS v(name, query);
SELECT count(*) AS compared,
       count(*) FILTER (WHERE dendrite.features('replay_in_order', s) = dendrite.features('replay_shuffled', s)) AS identical
  FROM stream s WHERE transaction_id >= 10000;

-- numeric values are read from their stored digits where the exact double is cheap, through text
-- otherwise: every shape gives what numeric_float8 gives (raw features are float4 of that double).
CREATE TABLE numerics AS
SELECT round((random() - 0.5)::numeric * 10::numeric ^ (i % 40 - 20), (i % 30)) AS a
  FROM generate_series(1, 20000) i
UNION ALL
SELECT v::numeric FROM unnest(ARRAY['0', '-0.00', '12.5', '-42.10', '99999999999.99', '999999999999.99',
    '123456789012345678901234567890', '0.000000000000000000000000001', '1e22', '1e23', '-1e-22',
    '9007199254740993', '0.1', '1234567890123.4567']) v;
SELECT dendrite.create_featurizer('numerics', 'SELECT a FROM numerics', columns => '{"a": "raw"}') IS NOT NULL AS fitted;
SELECT count(*) AS values_compared,
       count(*) FILTER (WHERE (dendrite.features('numerics', n))[1] IS DISTINCT FROM a::float8::float4) AS different
  FROM numerics n;

-- The fit's statistics run on a helper thread while the query is read: statement_timeout mid-read stops
-- the fit with 57014 (the helper stopped, its chunks freed), nothing is stored, and a fit in the session
-- afterwards gives the featurizer that a fit of them on one thread gives (train's
-- "threads": 1 takes no helper).
SET statement_timeout = '300ms';
DO $$
BEGIN
  PERFORM dendrite.create_featurizer('timed_out',
    'SELECT (a * 4000 + b) % 1000 AS card, ((a + b) % 97)::float8 AS amount, (b % 7)::text AS channel,
            (b % 50 = 0) AS fraud
       FROM generate_series(0, 4999) a, generate_series(1, 4000) b',
    label => 'fraud', columns => '{"channel": {"encoding": "target"}}');
  RAISE WARNING 'the fit of 20,000,000 rows ended within 300 ms';
EXCEPTION WHEN query_canceled THEN
  RAISE WARNING 'canceled: %', SQLSTATE;  -- in a subtransaction: the helper is stopped as its memory goes
END
$$;
RESET statement_timeout;
SELECT count(*) AS stored FROM dendrite.featurizers WHERE name = 'timed_out';
SELECT dendrite.train('piped', 'SELECT customer_id, terminal_id, amount, tx_time, is_fraud FROM stream', 'is_fraud',
                      epochs => 1) IS NOT NULL AS trained;
SELECT dendrite.train('one_thread', 'SELECT customer_id, terminal_id, amount, tx_time, is_fraud FROM stream', 'is_fraud',
                      epochs => 1, options => '{"threads": 1}') IS NOT NULL AS trained;
-- Every fitted number of the two featurizers, compared as stored (float8 to the bit).
CREATE FUNCTION pg_temp.fitted(model text) RETURNS TABLE (what text, key text, fitted jsonb) LANGUAGE sql AS $$
  WITH f AS (SELECT featurizer_id AS id FROM dendrite.featurizers WHERE name = model)
  SELECT 'column', c.ordinal::text, to_jsonb(c) - 'featurizer_id' FROM dendrite.feature_columns c, f WHERE c.featurizer_id = f.id
  UNION ALL
  SELECT 'category', k.ordinal || '/' || k.rank, to_jsonb(k) - 'featurizer_id' FROM dendrite.feature_categories k, f WHERE k.featurizer_id = f.id
  UNION ALL
  SELECT 'history', h.ordinal::text, to_jsonb(h) - 'featurizer_id' FROM dendrite.feature_history h, f WHERE h.featurizer_id = f.id
$$;
SELECT (SELECT rows FROM dendrite.featurizers WHERE name = 'piped') AS rows,
       count(*) FILTER (WHERE p.what = 'column') AS columns, count(*) FILTER (WHERE p.what = 'history') AS history_outputs,
       count(*) FILTER (WHERE p.fitted IS DISTINCT FROM o.fitted) AS different
  FROM pg_temp.fitted('piped') p FULL JOIN pg_temp.fitted('one_thread') o USING (what, key);

-- char(n) values are read as PostgreSQL compares them, without their padding: a featurizer fitted on a char(3)
-- column knows 'FR', and a text or varchar row finds it (before, its categories were 'FR ' and a text 'FR'
-- was unseen: __other__, without a word).
CREATE TABLE padded AS
SELECT i AS id, (ARRAY['FR', 'DE', 'IT'])[1 + i % 3]::char(3) AS country, (i % 7)::float8 AS amount, i % 10 = 0 AS fraud
  FROM generate_series(1, 300) i;
SELECT dendrite.create_featurizer('padded_f', 'SELECT * FROM padded', label => 'fraud', columns => '{"id": "ignore"}') AS version;
SELECT dendrite.feature_names('padded_f');
SELECT v.type, dendrite.features('padded_f', v) AS features
  FROM (SELECT 'char(3)' AS type, 'FR'::char(3) AS country, 1.0::float8 AS amount
        UNION ALL SELECT 'text', 'FR'::text, 1.0 UNION ALL SELECT 'varchar', 'FR'::varchar(8), 1.0) v;
-- A featurizer fitted before 0.6.0 on a char(n) column stored its categories padded, 'FR ' (here: fitted on text
-- that carries the blanks): the unpadded value finds such a category, as the padded one does.
SELECT dendrite.create_featurizer('padded_old', 'SELECT id, rpad(country::text, 3) AS country, amount, fraud FROM padded',
                                  label => 'fraud', columns => '{"id": "ignore"}') AS version;
SELECT dendrite.feature_names('padded_old');
SELECT v.type, dendrite.features('padded_old', v) AS features
  FROM (SELECT 'text, padded' AS type, 'FR '::text AS country, 1.0::float8 AS amount UNION ALL SELECT 'text', 'FR', 1.0) v;
SELECT dendrite.features('padded_old', v) AS char_3_features FROM (SELECT 'FR'::char(3) AS country, 1.0::float8 AS amount) v;
-- A NULL where the fitting rows had none is imputed (a number as its fitted mean) as a value the model never saw:
-- a NOTICE says so, once a statement. A column that had NULLs when fitted (it has a missing indicator) does not.
SET client_min_messages = notice;
SELECT dendrite.features('padded_f', v) AS features
  FROM (SELECT 'FR'::text AS country, NULL::float8 AS amount FROM generate_series(1, 3)) v;
SELECT dendrite.features('padded_f', v) AS features FROM (SELECT NULL::text AS country, 1.0::float8 AS amount) v;
SELECT count(f) AS without_notice FROM (SELECT dendrite.features('pay', p) AS f FROM payments p WHERE amount IS NULL) x;
-- A category the fitting rows never had, in a column whose fitting rows all had one of its categories (3 countries,
-- fewer than top_k: "__other__" had no row), is scored through an input no training row had: a NOTICE says so,
-- once a statement, on every path (here features, and a pass). Where top_k cut the vocabulary (2 of the 3
-- countries), the rare ones taught "__other__" and a new one is quiet.
SELECT dendrite.features('padded_f', v) AS features
  FROM (SELECT c AS country, 1.0::float8 AS amount FROM unnest(ARRAY['ES', 'FR', 'PT']) c) v;
SELECT count(*) AS rows FROM dendrite.featurize('padded_f', $$SELECT 'ES'::text AS country, 1.0::float8 AS amount$$);
SELECT dendrite.create_featurizer('padded_top2', 'SELECT * FROM padded', label => 'fraud',
                                  columns => '{"id": "ignore", "country": {"top_k": 2}}') AS version;
SELECT dendrite.features('padded_top2', v) AS quiet_features FROM (SELECT 'ES'::text AS country, 1.0::float8 AS amount) v;
SET client_min_messages = warning;
DROP TABLE padded;
