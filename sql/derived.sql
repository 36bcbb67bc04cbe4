-- Derived columns: SQL expressions over the row that a featurizer declares (create_featurizer's derived),
-- compiled by PostgreSQL's parser and computed identically offline (featurize, train) and inline (features,
-- score, the guards); only immutable functions that come with PostgreSQL or dendrite; errors that name
-- the featurizer and the column.
SET client_min_messages = warning;

-- Raw card data as a bank holds it: dates of birth, home and merchant coordinates, card and merchant ids.
CREATE TABLE card_tx (
    id        int PRIMARY KEY,
    tx_time   timestamptz,
    card      int,
    merchant  text,
    dob       date,
    home_lat  float8,
    home_lon  float8,
    merch_lat float8,
    merch_lon float8,
    amount    numeric(10, 2),
    fraud     boolean
);
INSERT INTO card_tx
SELECT i, timestamptz '2026-01-01 00:00+00' + i * interval '37 minutes', i % 40, 'm' || (i % 9),
       date '1950-01-01' + (i % 40) * 401, 45 + (i % 40) * 0.05, 5 + (i % 40) * 0.03,
       45 + (i % 9) * 0.4, 5 - (i % 9) * 0.2, ((i * 7919) % 500) / 2.0,
       (i % 40 < 4 AND i % 9 > 5) OR (i * 7919) % 500 > 480
  FROM generate_series(1, 3000) i;

-- The helpers: immutable, strict, no time zone.
SELECT round(dendrite.age_years(date '2000-01-01', timestamptz '2030-01-01 00:00+00')::numeric, 4) AS age_tz,
       round(dendrite.age_years(date '2000-01-01', timestamp '2030-01-01')::numeric, 4) AS age,
       dendrite.age_years('infinity', timestamp '2030-01-01') IS NULL AS infinite_is_null,
       round(dendrite.distance_km(48.8566, 2.3522, 51.5074, -0.1278)::numeric, 1) AS paris_london_km;

-- New payments arrive in card_tx_new, guarded; the inline history is built from what it holds.
CREATE TABLE card_tx_new (LIKE card_tx);
ALTER TABLE card_tx_new ADD COLUMN score float8;
SELECT dendrite.create_featurizer('card_f', 'SELECT * FROM card_tx', label => 'fraud',
    history_query => 'SELECT * FROM card_tx_new',
    columns => '{"id": "ignore", "dob": "ignore", "home_lat": "ignore", "home_lon": "ignore",
                 "merch_lat": "ignore", "merch_lon": "ignore", "card": "ignore"}',
    derived => '{"age_years": "dendrite.age_years(dob, tx_time)",
                 "home_km": "dendrite.distance_km(home_lat, home_lon, merch_lat, merch_lon)",
                 "card_merchant": "card::text || ''/'' || merchant",
                 "night": "extract(hour FROM tx_time AT TIME ZONE ''UTC'') < 6"}',
    history => '[{"entity": "card_merchant", "time": "tx_time", "value": "amount", "windows": ["1 day", "30 days"],
                  "aggregates": ["count", "mean", "since_last"]}]');
-- The declarations are kept in the stored spec; each derived column is an input with the type of its result.
SELECT jsonb_pretty(spec->'derived') AS derived, input_columns, input_types FROM dendrite.featurizers WHERE name = 'card_f';
SELECT dendrite.feature_names('card_f');

-- Without history, features(row) and featurize agree row for row.
SELECT dendrite.create_featurizer('card_plain', 'SELECT * FROM card_tx', label => 'fraud',
    columns => '{"id": "ignore", "dob": "ignore", "card": "ignore"}',
    derived => '{"age_years": "dendrite.age_years(dob, tx_time)", "home_km": "dendrite.distance_km(home_lat, home_lon, merch_lat, merch_lon)"}');
SELECT count(*) AS rows, count(*) FILTER (WHERE f.features = dendrite.features('card_plain', t)) AS equal_inline
  FROM dendrite.featurize('card_plain', 'SELECT * FROM card_tx', key => 'id') f JOIN card_tx t ON t.id = f.key::int;
-- A derived value is computed from the row: a NULL input gives a missing value, imputed as for any column.
SELECT f[array_position(dendrite.feature_names('card_plain'), 'age_years')] AS age_feature_of_null_dob
  FROM (SELECT dendrite.features('card_plain', t) AS f
          FROM (SELECT id, tx_time, card, merchant, NULL::date AS dob, home_lat, home_lon, merch_lat, merch_lon, amount, fraud
                  FROM card_tx WHERE id = 1) t) x;
-- distance_km places only real coordinates: a latitude beyond +-90 or a longitude beyond +-180 is 22003
-- (often the arguments in the wrong order), and a NaN gives NaN (never half the Earth round), which the
-- featurizer refuses as any NaN, although card_f reads the coordinates only through home_km.
SELECT dendrite.distance_km(37.77, -122.42, -122.42, 37.77);
SELECT dendrite.distance_km(0, 181, 0, 0);
SELECT dendrite.distance_km(0, 0, '-Infinity', 0);
SELECT dendrite.distance_km('NaN', 0, 0, 0) AS nan_gives_nan,
       round(dendrite.distance_km(90, 180, -90, -180)::numeric) AS pole_to_pole_km;
SELECT dendrite.features('card_f', t)
  FROM (SELECT id, tx_time, card, merchant, dob, 'NaN'::float8 AS home_lat, home_lon, merch_lat, merch_lon, amount, fraud
          FROM card_tx WHERE id = 1) t;

-- A composite entity, "entity": ["card", "merchant"], is the same history as a derived pair column.
SELECT dendrite.create_featurizer('pair_declared', 'SELECT card, merchant, tx_time, amount FROM card_tx',
    derived => '{"card_merchant": "card::text || ''/'' || merchant"}',
    columns => '{"card": "ignore", "merchant": "ignore", "tx_time": "ignore", "amount": "ignore"}',
    history => '[{"entity": "card_merchant", "time": "tx_time", "value": "amount", "windows": ["1 day", "30 days"],
                  "aggregates": ["count", "mean", "min", "max"]}]') AS version;
SELECT dendrite.create_featurizer('pair_composite', 'SELECT card, merchant, tx_time, amount FROM card_tx',
    columns => '{"card": "ignore", "merchant": "ignore", "tx_time": "ignore", "amount": "ignore"}',
    history => '[{"entity": ["card", "merchant"], "time": "tx_time", "value": "amount", "windows": ["1 day", "30 days"],
                  "aggregates": ["count", "mean", "min", "max"]}]') AS version;
SELECT dendrite.feature_names('pair_composite') = dendrite.feature_names('pair_declared') AS same_names,
       dendrite.feature_names('pair_composite') AS names;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.features = b.features) AS same_features,
       count(DISTINCT a.features[5]) > 1 AS counts_30d_vary
  FROM dendrite.featurize('pair_composite', 'SELECT * FROM card_tx', key => 'id') a
  JOIN dendrite.featurize('pair_declared', 'SELECT * FROM card_tx', key => 'id') b USING (key);
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx',
    history => '[{"entity": ["card", "amount"], "time": "tx_time", "windows": ["1 day"]}]');

-- A model over the featurizer, and a guard on the table of new payments: the trigger's scores are
-- score_query's over the stored rows, derived columns and their history included.
SELECT version FROM dendrite.train('card_m', 'SELECT * FROM card_tx WHERE id <= 2500', 'fraud',
                                   featurizer => 'card_f', hidden => '{8}', epochs => 3, seed => 7);
CREATE TRIGGER guard_cards BEFORE INSERT ON card_tx_new FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('card_m', 'flag', '0', 'score');
INSERT INTO card_tx_new SELECT * FROM card_tx WHERE id > 2700 ORDER BY tx_time;
SELECT count(*) AS rows, count(*) FILTER (WHERE score IS NOT NULL) AS scored, count(DISTINCT score) > 100 AS varied
  FROM card_tx_new;
SELECT count(*) FILTER (WHERE n.score::real = s.score::real) AS equal_to_score_query
  FROM card_tx_new n JOIN dendrite.score_query('card_m', 'SELECT * FROM card_tx_new', key => 'id') s ON s.key::int = n.id;
-- A flag column that the model reads through a derived column (home_km reads home_lat) is refused at the
-- first row: the score would overwrite a value it was computed from.
CREATE TRIGGER guard_overwrite BEFORE INSERT ON card_tx_new FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('card_m', 'flag', '0', 'home_lat');
INSERT INTO card_tx_new SELECT * FROM card_tx WHERE id = 2700;
DROP TRIGGER guard_overwrite ON card_tx_new;

-- A row that lacks a column a derived column reads: the error names it.
CREATE TABLE card_tx_short AS SELECT id, tx_time, card, merchant, amount, fraud FROM card_tx WHERE id = 1;
SELECT dendrite.features('card_f', s) FROM card_tx_short s;

-- Errors, each with the featurizer and the derived column in the context.
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "nosuch + 1"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "amount +"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "1 FROM pg_authid"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "1; DROP TABLE card_tx"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "(SELECT count(*) FROM card_tx)"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "max(amount)"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "random() * amount"}');
-- Casting a date to timestamptz depends on the time zone: STABLE, refused; dendrite.age_years is the way.
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx',
                                  derived => '{"x": "extract(epoch FROM tx_time - dob::timestamptz)"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "tx_time - dob"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "tx_time - tx_time"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"amount": "amount * 2"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": ""}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '["amount * 2"]');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "amount / 0"}');
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"t": "tx_time"}',
                                  history => '[{"entity": "card", "time": "t", "windows": ["1 day"]}]');
-- No user's code: a derived column runs inside other roles' inserts. An immutable function of one's own, a
-- domain (its CHECK constraints are code) and a user-defined operator are refused.
CREATE FUNCTION double_it(numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "double_it(amount)"}');
CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "amount::positive_amount"}');
CREATE OPERATOR %%% (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = numeric_add);
CREATE FUNCTION my_add(numeric, numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS 'SELECT $1 + $2';
CREATE OPERATOR ### (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = my_add);
SELECT dendrite.create_featurizer('ok_op', 'SELECT * FROM card_tx', derived => '{"x": "amount %%% amount"}') AS builtin_function_behind_an_operator;
SELECT dendrite.create_featurizer('bad', 'SELECT * FROM card_tx', derived => '{"x": "amount ### amount"}');
SELECT count(*) AS nothing_stored FROM dendrite.featurizers WHERE name = 'bad';

-- With no spec, the automatic choice looks at a sample of the rows (its first 50,000) as well as the types:
-- row identifiers and long free text are left out, identifiers (many distinct values, 10+ digit numbers)
-- are frequency-encoded, and a date that is not the event time becomes an age at it (a derived column).
-- One NOTICE lists every such choice; the stored spec keeps them.
CREATE TABLE raw_cards AS
SELECT i AS row_index, md5(i::text) AS trans_num, timestamptz '2026-01-01 00:00+00' + i * interval '7 minutes' AS tx_time,
       4000000000000000 + (i % 300) * 7919 AS cc_num, 'merchant_' || (i % 120) AS merchant,
       (ARRAY['grocery', 'gas', 'travel'])[1 + i % 3] AS category, (i % 97) * 1.5 AS amount,
       (ARRAY['Jennifer', 'John', 'Mary', 'Robert'])[1 + i % 4] || (i % 300) AS first_name,
       (i % 300) || ' ' || (ARRAY['Main', 'Oak', 'Pine'])[1 + i % 3] || ' Street, Apt ' || (i % 300) AS street,
       date '1950-01-01' + (i % 300) * 50 AS dob, (i % 300 < 10 AND i % 3 = 2) OR i % 97 = 96 AS is_fraud
  FROM generate_series(1, 5000) i;
SET client_min_messages = notice;
SELECT dendrite.create_featurizer('raw_auto', 'SELECT * FROM raw_cards', label => 'is_fraud');
SET client_min_messages = warning;
SELECT a->>'column' AS "column", a->>'choice' AS choice
  FROM dendrite.featurizers, jsonb_array_elements(spec->'automatic') a WHERE name = 'raw_auto';
SELECT dendrite.feature_names('raw_auto');
-- train's own featurizer makes the same choices. Its history is computed on the rows the fit pass kept, in
-- time order; trained again from the offline pass with that featurizer (same seed), the model is the same.
SELECT version FROM dendrite.train('raw_m', 'SELECT * FROM raw_cards', 'is_fraud', hidden => '{4}', epochs => 2, seed => 1);
SELECT cardinality(dendrite.feature_names('raw_m')) AS features;
SELECT version FROM dendrite.train('raw_m_offline', 'SELECT * FROM raw_cards', 'is_fraud', featurizer => 'raw_m',
                                   hidden => '{4}', epochs => 2, seed => 1);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.score = b.score) AS same_score
  FROM dendrite.score_query('raw_m', 'SELECT * FROM raw_cards', key => 'row_index') a
  JOIN dendrite.score_query('raw_m_offline', 'SELECT * FROM raw_cards', key => 'row_index') b USING (key);
-- An override wins over the data: street as a category, trans_num kept (frequency).
SELECT dendrite.create_featurizer('raw_auto', 'SELECT * FROM raw_cards', label => 'is_fraud',
                                  columns => '{"street": "frequency", "trans_num": "frequency"}') AS version;
SELECT string_agg(a->>'column', ', ') AS still_automatic
  FROM dendrite.featurizers, jsonb_array_elements(spec->'automatic') a WHERE name = 'raw_auto' AND version = 2;

-- A stored featurizer's derived columns resolve names in the search_path stored with it, whoever scores:
-- a scorer whose path puts a schema of look-alike functions first changes nothing (were the expression
-- compiled in the scorer's path, evil.distance_km would be called, or refused as a user's function).
CREATE SCHEMA evil;
CREATE FUNCTION evil.distance_km(float8, float8, float8, float8) RETURNS float8 IMMUTABLE LANGUAGE sql AS 'SELECT 0::float8';
SET search_path = dendrite, public;
SELECT create_featurizer('path_f', 'SELECT home_lat, home_lon, merch_lat, merch_lon FROM card_tx',
    columns => '{"home_lat": "ignore", "home_lon": "ignore", "merch_lat": "ignore", "merch_lon": "ignore"}',
    derived => '{"km": "distance_km(home_lat, home_lon, merch_lat, merch_lon)"}') AS version;
RESET search_path;
\c
SET client_min_messages = warning;
SET search_path = evil, dendrite, public;
SELECT count(DISTINCT features('path_f', t)) > 1 AS real_distances,
       count(*) FILTER (WHERE features('path_f', t) = f.features) AS inline_equals_offline
  FROM card_tx t JOIN featurize('path_f', 'SELECT * FROM card_tx', key => 'id') f ON f.key::int = t.id;
RESET search_path;

-- A stored derived column edited to call a user's function is refused when the featurizer is loaded,
-- before anything runs.
UPDATE dendrite.featurizers
   SET spec = jsonb_set(spec, '{derived,0,expression}', '"double_it(card::numeric)"')
 WHERE name = 'card_f';
\c
SET client_min_messages = warning;
SELECT dendrite.features('card_f', t) FROM card_tx t WHERE id = 1;
