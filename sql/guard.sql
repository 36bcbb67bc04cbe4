-- The guard triggers: each action, each argument error, rejected rows leave the table and the history
-- state unchanged, a deploy in another session is seen at the next statement.
SET client_min_messages = warning;

-- Training data: generated transactions; the model's featurizer keeps per-customer history, and its
-- inline history is built from the guarded table "live".
CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(customers => 200, terminals => 300, days => 15, seed => 7);
ALTER TABLE tx ADD PRIMARY KEY (transaction_id);
CREATE TABLE live (LIKE tx INCLUDING ALL);
ALTER TABLE live ADD COLUMN fraud_score float8, ADD COLUMN suspicious bool;
SELECT dendrite.create_featurizer('gfz', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', label => 'is_fraud',
    history_query => 'SELECT * FROM live',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "ip": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]}]') AS featurizer_version;
SELECT version FROM dendrite.train('gm', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'gfz',
                                   hidden => '{8}', epochs => 3, seed => 1);
SELECT version FROM dendrite.train('gm', 'SELECT * FROM tx ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'gfz',
                                   hidden => '{16}', epochs => 2, seed => 2);

-- Version 1 serves (deploy and rollback themselves: the deploy suite).
SELECT dendrite.deploy('gm', 1) AS deployed;


-- 'flag' writes the score and the decision into NEW, and 'log' records it. Scores equal dendrite.score
-- with the same history (the trigger observes each row after scoring it, as the offline pass does).
CREATE TRIGGER guard_flag BEFORE INSERT ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag,log', '0.5', 'fraud_score, suspicious');
INSERT INTO live SELECT *, NULL, NULL FROM tx WHERE tx_time < '2026-01-10' ORDER BY tx_time, transaction_id;
SELECT count(*) AS rows, count(fraud_score) AS scored, count(*) FILTER (WHERE suspicious = (fraud_score >= 0.5)) AS consistent FROM live;
SELECT count(*) AS logged, count(DISTINCT row_key) AS keys, min(table_name) AS table_name,
       count(*) FILTER (WHERE decision = CASE WHEN score >= 0.5 THEN 'flag' ELSE 'pass' END) AS consistent
  FROM dendrite.predictions;
SELECT count(*) AS differ_from_offline
  FROM live l JOIN dendrite.score_query('gm', 'SELECT * FROM live ORDER BY tx_time, transaction_id', key => 'transaction_id') o
    ON o.key = l.transaction_id::text
 WHERE abs(l.fraud_score - o.score) > 1e-6;

-- Fired by UPDATE too: a row whose model inputs did not change is left as it is. The decision taken at its insert
-- stands (nothing scored, flagged or logged again) and an analyst's edit of a flag column is kept (rows marked
-- suspicious by hand below the threshold): scored again, its history would count the row itself and the later
-- rows of its customer, which its insert's did not.
BEGIN;
DROP TRIGGER guard_flag ON live;
CREATE TRIGGER guard_flag BEFORE INSERT OR UPDATE ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag,log', '0.5', 'fraud_score, suspicious');
CREATE TEMP TABLE scored_at_insert AS SELECT transaction_id, fraud_score, (SELECT count(*) FROM dendrite.predictions) AS logged
  FROM live;
UPDATE live SET suspicious = true, fraud_scenario = fraud_scenario + 0 WHERE transaction_id % 10 = 0;
SELECT count(*) AS updated, count(*) FILTER (WHERE l.fraud_score = s.fraud_score) AS score_kept,
       count(*) FILTER (WHERE l.suspicious AND l.fraud_score < 0.5) AS analyst_edit_kept,
       (SELECT count(*) FROM dendrite.predictions) - min(s.logged) AS logged_again
  FROM live l JOIN scored_at_insert s USING (transaction_id) WHERE transaction_id % 10 = 0;
-- A row whose inputs changed is scored again, on its customer's history as it is now, which a NOTICE says once
-- per statement.
SET client_min_messages = notice;
UPDATE live SET amount = amount * 2 WHERE transaction_id % 10 = 0;
SET client_min_messages = warning;
SELECT count(*) AS updated, (SELECT count(*) FROM dendrite.predictions) - min(s.logged) AS logged_again,
       count(*) FILTER (WHERE l.suspicious = (l.fraud_score >= 0.5)) AS consistent
  FROM live l JOIN scored_at_insert s USING (transaction_id) WHERE transaction_id % 10 = 0;
ROLLBACK;

-- 'reject': the row is not written, the transaction's other rows neither, and the history state does
-- not count it. The history features of a probe row tell.
CREATE TEMP TABLE later AS SELECT * FROM tx WHERE tx_time >= '2026-01-10' ORDER BY tx_time, transaction_id LIMIT 3;
CREATE TEMP TABLE history_before AS SELECT dendrite.features('gfz', l) AS f FROM later l ORDER BY transaction_id;
DROP TRIGGER guard_flag ON live;
CREATE TRIGGER guard_reject BEFORE INSERT ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('gm', 'reject', '0');
INSERT INTO live SELECT *, NULL, NULL FROM later;
\set VERBOSITY sqlstate
INSERT INTO live SELECT *, NULL, NULL FROM later;
\set VERBOSITY default
SELECT count(*) AS rows FROM live;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('gfz', l) AS f FROM later l ORDER BY transaction_id) a ON a.f = h.f;
DROP TRIGGER guard_reject ON live;

-- A row that passes the guard but whose transaction fails later does not count in the history either.
CREATE TRIGGER guard_flag BEFORE INSERT ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', '0.5', 'fraud_score');
ALTER TABLE live ADD CONSTRAINT positive_amount CHECK (amount > 0);
INSERT INTO live SELECT transaction_id + 1000000, tx_time, customer_id, terminal_id, CASE WHEN n = 3 THEN -1 ELSE amount END,
                        online, ip, country, merchant_category, is_fraud, fraud_scenario, NULL, NULL
  FROM (SELECT *, row_number() OVER (ORDER BY tx_time) AS n FROM later) s ORDER BY n;
SELECT count(*) AS unchanged FROM history_before h
  JOIN (SELECT dendrite.features('gfz', l) AS f FROM later l ORDER BY transaction_id) a ON a.f = h.f;
-- Committed, the same rows do count.
INSERT INTO live SELECT transaction_id + 1000000, tx_time, customer_id, terminal_id, amount,
                        online, ip, country, merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM later;
SELECT count(*) AS unchanged FROM history_before h
  JOIN (SELECT dendrite.features('gfz', l) AS f FROM later l ORDER BY transaction_id) a ON a.f = h.f;
DROP TRIGGER guard_flag ON live;
ALTER TABLE live DROP CONSTRAINT positive_amount;

-- The statement-level variant: one batched pass per statement, same actions. A small work_mem makes the
-- transition table spill to disk, as a bulk load's does.
SET work_mem = '64kB';
TRUNCATE live;
TRUNCATE dendrite.predictions;
CREATE TRIGGER guard_batch AFTER INSERT ON live REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'flag,log', '0.5', 'suspicious');
INSERT INTO live SELECT *, NULL, NULL FROM tx WHERE tx_time < '2026-01-10' ORDER BY tx_time, transaction_id;
SELECT count(*) AS logged, count(*) FILTER (WHERE decision = 'flag') AS flagged FROM dendrite.predictions;
SELECT count(*) AS flagged_rows FROM live WHERE suspicious;
SELECT count(*) AS flags_match_log FROM live l JOIN dendrite.predictions p ON p.row_key = l.transaction_id::text
 WHERE coalesce(l.suspicious, false) = (p.decision = 'flag');
-- A second statement through the same trigger (the state kept from the first, new buffers) logs its rows.
INSERT INTO live SELECT *, NULL, NULL FROM later;
SELECT count(*) AS later_rows_logged FROM dendrite.predictions p JOIN later l ON p.row_key = l.transaction_id::text;
DELETE FROM live WHERE transaction_id IN (SELECT transaction_id FROM later);
DROP TRIGGER guard_batch ON live;
CREATE TRIGGER guard_batch AFTER INSERT ON live REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'reject', '0.0');
\set VERBOSITY sqlstate
INSERT INTO live SELECT *, NULL, NULL FROM later;
\set VERBOSITY default
SELECT count(*) AS rows_after_rejected_batch FROM live WHERE transaction_id IN (SELECT transaction_id FROM later);
DROP TRIGGER guard_batch ON live;
RESET work_mem;

-- A guard keeps what it resolved across statements; each statement looks up the serving version again.
-- A deploy in another session, a dropped or renamed column and a column added back at another position
-- are all seen at the next statement.
TRUNCATE live;
TRUNCATE dendrite.predictions;
SELECT dendrite.deploy('gm', 2) AS deployed;
CREATE TRIGGER guard_across BEFORE INSERT ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag,log', 'default', 'fraud_score');
CREATE TEMP TABLE next_rows AS
    SELECT *, row_number() OVER (ORDER BY tx_time, transaction_id) AS n FROM tx WHERE tx_time >= '2026-01-10' LIMIT 6;
INSERT INTO live SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM next_rows WHERE n = 1;
\! psql -X -q -At -d contrib_regression -c "SELECT 'other session deployed version ' || dendrite.deploy('gm', 1)"
INSERT INTO live SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM next_rows WHERE n = 2;
\! psql -X -q -At -d contrib_regression -c "SELECT 'other session rolled back to ' || dendrite.rollback('gm')"
INSERT INTO live SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM next_rows WHERE n = 3;
SELECT r.n, v.version AS logged_version, l.fraud_score = p.score::real::float8 OR abs(l.fraud_score - p.score) < 1e-6 AS flag_matches_log
  FROM next_rows r JOIN live l USING (transaction_id)
  JOIN dendrite.predictions p ON p.row_key = r.transaction_id::text JOIN dendrite.model_versions v USING (version_id)
 ORDER BY r.n;
-- The flag column dropped: a clear error; added back (now after "suspicious"): the score lands in it.
ALTER TABLE live DROP COLUMN fraud_score;
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario
      FROM next_rows WHERE n = 4;
ALTER TABLE live ADD COLUMN fraud_score float8;
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario
      FROM next_rows WHERE n = 4;
SELECT fraud_score IS NOT NULL AS scored, suspicious IS NULL AS suspicious_untouched
  FROM live WHERE transaction_id = (SELECT transaction_id FROM next_rows WHERE n = 4);
-- A column the model reads renamed: the featurizer's error; renamed back: scored again.
ALTER TABLE live RENAME COLUMN amount TO amount_eur;
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount_eur, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario
      FROM next_rows WHERE n = 5;
ALTER TABLE live RENAME COLUMN amount_eur TO amount;
-- A numeric(p, s) flag column gets the score rounded to its scale, as an INSERT of the score would store it:
-- PostgreSQL stores a BEFORE trigger's tuple as it is returned, without applying the column's typmod.
-- (The same trigger writes the score to a float8 column too: a second guard would score the row after the
-- first one's history counted it.)
ALTER TABLE live ADD COLUMN score_4_digits numeric(5, 4), ADD COLUMN score_all_digits float8;
CREATE TRIGGER guard_rounded BEFORE INSERT ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', 'default', 'score_4_digits, score_all_digits');
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario
      FROM next_rows WHERE n = 5;
SELECT scale(score_4_digits) AS stored_scale, score_4_digits = round(score_all_digits::numeric, 4) AS rounded_as_an_insert_would
  FROM live WHERE transaction_id = (SELECT transaction_id FROM next_rows WHERE n = 5);
DROP TRIGGER guard_rounded ON live;
ALTER TABLE live DROP COLUMN score_4_digits, DROP COLUMN score_all_digits;
-- One that cannot hold a score of 1 is refused at the first row (the rows scoring highest would fail to insert).
ALTER TABLE live ADD COLUMN score_no_room numeric(3, 3);
CREATE TRIGGER guard_no_room BEFORE INSERT ON live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', 'default', 'score_no_room');
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id + 9000000, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
           is_fraud, fraud_scenario
      FROM next_rows WHERE n = 5;
DROP TRIGGER guard_no_room ON live;
ALTER TABLE live DROP COLUMN score_no_room;
-- A trigger that inserts into the guarded table while the outer statement holds the guard's state: the
-- inner statement gets a state of its own, and both rows are scored.
CREATE FUNCTION pg_temp.copy_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.transaction_id < 5000000 THEN
        INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
        VALUES (NEW.transaction_id + 5000000, NEW.tx_time, NEW.customer_id, NEW.terminal_id, NEW.amount, NEW.online, NEW.ip,
                NEW.country, NEW.merchant_category, NEW.is_fraud, NEW.fraud_scenario);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER copy_row AFTER INSERT ON live FOR EACH ROW EXECUTE FUNCTION pg_temp.copy_row();
INSERT INTO live (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
    SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario
      FROM next_rows WHERE n = 6;
SELECT l.transaction_id - r.transaction_id AS offset_from_original, l.fraud_score IS NOT NULL AS scored
  FROM live l JOIN next_rows r ON l.transaction_id IN (r.transaction_id, r.transaction_id + 5000000)
 WHERE r.n = 6 ORDER BY 1;
DROP TRIGGER copy_row ON live;
DROP TRIGGER guard_across ON live;
SELECT dendrite.rollback('gm') AS rolled_back_to;
SELECT version, deployed FROM dendrite.serving_version('gm');

-- Argument and context errors, at the first row.
CREATE FUNCTION pg_temp.try_guard(arguments text, kind text DEFAULT 'BEFORE INSERT ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard') RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER try %s(%s)', kind, arguments);
    INSERT INTO live SELECT *, NULL, NULL FROM tx ORDER BY transaction_id DESC LIMIT 1;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try_guard('');
SELECT pg_temp.try_guard($$'gm'$$);
SELECT pg_temp.try_guard($$'gm', 'block'$$);
SELECT pg_temp.try_guard($$'gm', ''$$);
SELECT pg_temp.try_guard($$'gm', 'reject,flag', '0.5', 'fraud_score'$$);
SELECT pg_temp.try_guard($$'gm', 'reject', 'high'$$);
SELECT pg_temp.try_guard($$'gm', 'reject', '1.5'$$);
SELECT pg_temp.try_guard($$'gm', 'reject', 'NaN'$$);
SELECT pg_temp.try_guard($$'gm', 'flag', '0.5'$$);
SELECT pg_temp.try_guard($$'gm', 'reject', '0.5', 'fraud_score'$$);
SELECT pg_temp.try_guard($$'gm', 'flag', '0.5', 'no_such_column'$$);
SELECT pg_temp.try_guard($$'gm', 'flag', '0.5', 'country'$$);
SELECT pg_temp.try_guard($$'gm', 'flag', '0.5', 'fraud_score,suspicious,fraud_score'$$);
SELECT pg_temp.try_guard($$'gm', 'log', 'default', '', 'no_such_key'$$);
SELECT pg_temp.try_guard($$'no_such_model', 'log'$$);
SELECT pg_temp.try_guard($$'gm', 'log'$$, 'AFTER INSERT ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard');
SELECT pg_temp.try_guard($$'gm', 'log'$$, 'BEFORE INSERT ON live FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard');
SELECT pg_temp.try_guard($$'gm', 'log'$$, 'AFTER INSERT ON live FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch');
SELECT pg_temp.try_guard($$'gm', 'log'$$, 'BEFORE INSERT ON live FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch');
SELECT dendrite.guard();
-- Fired on DELETE or TRUNCATE the guard scores nothing (the inline history forgets the rows that go) and needs
-- only the model's name, which must exist (the case that fires without error is rolled back by its RAISE).
CREATE FUNCTION pg_temp.try_forget(arguments text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER try_forget AFTER DELETE ON live FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard(%s)',
                   arguments);
    DELETE FROM live WHERE false;
    RAISE EXCEPTION 'fired without error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try_forget('');
SELECT pg_temp.try_forget($$'no_such_model'$$);
SELECT pg_temp.try_forget($$'gm'$$);

-- A table whose columns no longer match the model: a clear error at the first insert.
CREATE TABLE narrow (transaction_id bigint PRIMARY KEY, tx_time timestamp, amount numeric);
CREATE TRIGGER guard_narrow BEFORE INSERT ON narrow FOR EACH ROW EXECUTE FUNCTION dendrite.guard('gm', 'log');
INSERT INTO narrow VALUES (1, '2026-01-05', 10);
CREATE TABLE batch_no_key (LIKE tx);
CREATE TRIGGER guard_no_key AFTER INSERT ON batch_no_key REFERENCING NEW TABLE AS n FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'flag', '0.5', 'is_fraud');
INSERT INTO batch_no_key SELECT * FROM tx LIMIT 1;

-- Scoring under parallel query gives the same scores.
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT transaction_id, dendrite.score('gm', t) AS s FROM tx t;
CREATE TEMP TABLE serial_scores AS SELECT transaction_id, dendrite.score('gm', t) AS s FROM tx t;
CREATE TABLE parallel_scores AS SELECT transaction_id, dendrite.score('gm', t) AS s FROM tx t;
SELECT count(*) AS rows, count(*) FILTER (WHERE p.s = s.s) AS equal FROM parallel_scores p JOIN serial_scores s USING (transaction_id);
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather;

-- A stored generated column the model reads: PostgreSQL computes it after BEFORE triggers, so NEW holds NULL
-- (on UPDATE, the old value). The row guard and guard_batch's row capture compute it as PostgreSQL will
-- store it: the scores they write equal dendrite.score over the stored rows, never the mean of a NULL.
CREATE TABLE gen_train (id int PRIMARY KEY, x float8, y float8, label boolean,
                        z float8 GENERATED ALWAYS AS (2 * x + y) STORED);
INSERT INTO gen_train (id, x, y, label) SELECT id, x, y, label FROM points;
SELECT version FROM dendrite.train('gen_m', 'SELECT z, label FROM gen_train', 'label', hidden => '{4}', epochs => 2, seed => 1);
CREATE TABLE gen_rows (LIKE gen_train INCLUDING GENERATED);
ALTER TABLE gen_rows ADD PRIMARY KEY (id), ADD COLUMN fraud_score float8;
CREATE TRIGGER guard_gen BEFORE INSERT OR UPDATE ON gen_rows FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gen_m', 'flag', 'default', 'fraud_score');
INSERT INTO gen_rows (id, x, y, label) SELECT id, x, y, label FROM points WHERE id <= 200;
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score = dendrite.score('gen_m', g)) AS equal_to_score,
       count(DISTINCT round(fraud_score::numeric, 6)) > 10 AS scores_vary
  FROM gen_rows g;
UPDATE gen_rows SET x = -x WHERE id <= 50;
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score = dendrite.score('gen_m', g)) AS equal_after_update
  FROM gen_rows g;
-- A flag column must be the score's own, checked at the first row: not a stored generated column (PostgreSQL
-- computes it after the trigger: the score would be lost), not a column the model reads (x feeds z: the score
-- would overwrite it), not the key, not named twice.
CREATE TABLE gen_flagged (id numeric PRIMARY KEY, x float8, y float8, label boolean,
                          z float8 GENERATED ALWAYS AS (2 * x + y) STORED, fraud_score float8);
CREATE FUNCTION pg_temp.try_flag(columns text, function text DEFAULT 'guard') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    IF function = 'guard' THEN
        EXECUTE format('CREATE TRIGGER try BEFORE INSERT ON gen_flagged FOR EACH ROW EXECUTE FUNCTION dendrite.guard(%L, %L, %L, %L)',
                       'gen_m', 'flag', '0.5', columns);
    ELSE
        EXECUTE format('CREATE TRIGGER try AFTER INSERT ON gen_flagged REFERENCING NEW TABLE AS n FOR EACH STATEMENT '
                       'EXECUTE FUNCTION dendrite.guard_batch(%L, %L, %L, %L)', 'gen_m', 'flag', '0.5', columns);
    END IF;
    INSERT INTO gen_flagged (id, x, y, label) VALUES (1, 1, 2, false);
    DROP TRIGGER try ON gen_flagged;
    DELETE FROM gen_flagged;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || detail;
END $$;
SELECT pg_temp.try_flag('z');
SELECT pg_temp.try_flag('x');
SELECT pg_temp.try_flag('x', 'guard_batch');
SELECT pg_temp.try_flag('id');
SELECT pg_temp.try_flag('fraud_score, fraud_score');
SELECT pg_temp.try_flag('fraud_score');
DROP TABLE gen_flagged;
CREATE TABLE gen_bulk (LIKE gen_rows INCLUDING GENERATED INCLUDING INDEXES);
CREATE TRIGGER capture_gen BEFORE INSERT ON gen_bulk FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('gen_m', 'flag', '0', 'fraud_score');
CREATE TRIGGER score_gen AFTER INSERT ON gen_bulk FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gen_m', 'flag', '0', 'fraud_score');
INSERT INTO gen_bulk (id, x, y, label) SELECT id, x, y, label FROM points WHERE id <= 1500;
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score::real = dendrite.score('gen_m', g)::real) AS equal_to_score
  FROM gen_bulk g;

-- dendrite.distance_km: immutable, so a stored generated column can hold it, and the guard computes it as
-- PostgreSQL will store it (a card holder's home to the merchant).
SELECT round(dendrite.distance_km(48.8566, 2.3522, 51.5074, -0.1278)::numeric, 1) AS paris_london_km,
       dendrite.distance_km(10, 20, 10, 20) AS same_point, dendrite.distance_km(0, 0, 0, 180) > 20015 AS half_way_round,
       dendrite.distance_km(NULL, 0, 0, 0) IS NULL AS strict;
CREATE TABLE geo_train (id int PRIMARY KEY, lat float8, lon float8, merchant_lat float8, merchant_lon float8, label boolean,
                        home_km float8 GENERATED ALWAYS AS (dendrite.distance_km(lat, lon, merchant_lat, merchant_lon)) STORED);
INSERT INTO geo_train (id, lat, lon, merchant_lat, merchant_lon, label)
SELECT id, 45 + x / 10, 5 + y / 10, 45 + y / 5, 5 - x / 5, label FROM points;
SELECT version FROM dendrite.train('geo_m', 'SELECT home_km, label FROM geo_train', 'label', hidden => '{4}', epochs => 2, seed => 1);
CREATE TABLE geo_rows (LIKE geo_train INCLUDING GENERATED);
ALTER TABLE geo_rows ADD COLUMN fraud_score float8;
CREATE TRIGGER guard_geo BEFORE INSERT ON geo_rows FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('geo_m', 'flag', 'default', 'fraud_score');
INSERT INTO geo_rows (id, lat, lon, merchant_lat, merchant_lon, label)
SELECT id, lat, lon, merchant_lat, merchant_lon, label FROM geo_train WHERE id <= 300;
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score = dendrite.score('geo_m', g)) AS equal_to_score FROM geo_rows g;

-- INSERT ... ON CONFLICT: PostgreSQL fires BEFORE ROW triggers before it checks the conflict. The row guard
-- asks PostgreSQL's own check (as ExecInsert makes it next) before a row joins the history: a retried row
-- that ON CONFLICT skips, or turns into an update, does not count twice; a new one counts. (Rolled back.)
CREATE TABLE live_keyed (LIKE live INCLUDING ALL);  -- its primary key on transaction_id included
CREATE TRIGGER guard_flag BEFORE INSERT ON live_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', '0.5', 'fraud_score');
CREATE TEMP TABLE retried AS SELECT * FROM later ORDER BY transaction_id LIMIT 20;
CREATE FUNCTION pg_temp.later_features() RETURNS real[] LANGUAGE sql AS
  $$ SELECT array_agg(x ORDER BY transaction_id, n) FROM later l, unnest(dendrite.features('gfz', l)) WITH ORDINALITY AS u(x, n) $$;
BEGIN;
INSERT INTO live_keyed SELECT *, NULL, NULL FROM retried;
CREATE TEMP TABLE counted AS SELECT pg_temp.later_features() AS f;
INSERT INTO live_keyed SELECT *, NULL, NULL FROM retried ON CONFLICT DO NOTHING;
SELECT f = pg_temp.later_features() AS skipped_retry_not_counted FROM counted;
INSERT INTO live_keyed SELECT *, NULL, NULL FROM retried ON CONFLICT (transaction_id) DO UPDATE SET amount = excluded.amount;
SELECT f = pg_temp.later_features() AS updating_retry_not_counted FROM counted;
INSERT INTO live_keyed SELECT transaction_id + 5000000, tx_time, customer_id, terminal_id, amount, online, ip, country,
                              merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM retried ON CONFLICT DO NOTHING;
SELECT f <> pg_temp.later_features() AS new_rows_counted FROM counted;
ROLLBACK;
-- An INSERT in a WITH clause is checked the same way (its node is one of the statement's secondary ones).
BEGIN;
INSERT INTO live_keyed SELECT *, NULL, NULL FROM retried;
CREATE TEMP TABLE counted_before_with AS SELECT pg_temp.later_features() AS f;
WITH inserted AS (INSERT INTO live_keyed SELECT *, NULL, NULL FROM retried ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*) AS inserted FROM inserted;
SELECT f = pg_temp.later_features() AS skipped_retry_not_counted FROM counted_before_with;
WITH inserted AS (INSERT INTO live_keyed SELECT transaction_id + 5000000, tx_time, customer_id, terminal_id, amount,
                         online, ip, country, merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM retried
                  ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*) AS inserted FROM inserted;
SELECT f <> pg_temp.later_features() AS new_rows_counted FROM counted_before_with;
ROLLBACK;
DROP TABLE live_keyed;
-- A partitioned table (the guard cloned onto its partitions, one of them of another physical layout): each
-- routed row is checked against its partition's arbiter index, as ExecInsert checks it.
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY transaction_id) AS middle_id FROM retried \gset
CREATE TABLE live_parted (LIKE live INCLUDING DEFAULTS) PARTITION BY RANGE (transaction_id);
ALTER TABLE live_parted ADD PRIMARY KEY (transaction_id);
CREATE TABLE live_parted_low PARTITION OF live_parted FOR VALUES FROM (MINVALUE) TO (:middle_id);
CREATE TABLE live_parted_high (dropped int, LIKE live INCLUDING DEFAULTS);
ALTER TABLE live_parted_high DROP COLUMN dropped;
ALTER TABLE live_parted ATTACH PARTITION live_parted_high FOR VALUES FROM (:middle_id) TO (MAXVALUE);
CREATE TRIGGER guard_flag BEFORE INSERT ON live_parted FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', '0.5', 'fraud_score');
BEGIN;
INSERT INTO live_parted SELECT *, NULL, NULL FROM retried;
SELECT count(*) FILTER (WHERE tableoid = 'live_parted_low'::regclass) AS low,
       count(*) FILTER (WHERE tableoid = 'live_parted_high'::regclass) AS high FROM live_parted;
CREATE TEMP TABLE counted_in_partitions AS SELECT pg_temp.later_features() AS f;
INSERT INTO live_parted SELECT *, NULL, NULL FROM retried ON CONFLICT DO NOTHING;
SELECT f = pg_temp.later_features() AS skipped_retry_not_counted FROM counted_in_partitions;
INSERT INTO live_parted SELECT *, NULL, NULL FROM retried
    ON CONFLICT (transaction_id) DO UPDATE SET amount = excluded.amount;
SELECT f = pg_temp.later_features() AS updating_retry_not_counted FROM counted_in_partitions;
INSERT INTO live_parted SELECT transaction_id + 5000000, tx_time, customer_id, terminal_id, amount, online, ip,
                               country, merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM retried
    ON CONFLICT DO NOTHING;
SELECT f <> pg_temp.later_features() AS new_rows_counted FROM counted_in_partitions;
ROLLBACK;
DROP TABLE live_parted;
-- guard_batch's row capture captures at the same moment and asks the same check (its helper then scores
-- every row and observes only those that will be inserted): the same three cases.
CREATE TABLE live_captured (LIKE live INCLUDING ALL);
CREATE TRIGGER capture_rows BEFORE INSERT ON live_captured FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'log', '0.5');
CREATE TRIGGER capture_statement AFTER INSERT ON live_captured FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'log', '0.5');
BEGIN;
INSERT INTO live_captured SELECT *, NULL, NULL FROM retried;
CREATE TEMP TABLE counted_by_capture AS SELECT pg_temp.later_features() AS f;
INSERT INTO live_captured SELECT *, NULL, NULL FROM retried ON CONFLICT DO NOTHING;
SELECT f = pg_temp.later_features() AS skipped_retry_not_counted FROM counted_by_capture;
INSERT INTO live_captured SELECT *, NULL, NULL FROM retried
    ON CONFLICT (transaction_id) DO UPDATE SET amount = excluded.amount;
SELECT f = pg_temp.later_features() AS updating_retry_not_counted FROM counted_by_capture;
INSERT INTO live_captured SELECT transaction_id + 5000000, tx_time, customer_id, terminal_id, amount, online, ip,
                                 country, merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM retried
    ON CONFLICT DO NOTHING;
SELECT f <> pg_temp.later_features() AS new_rows_counted FROM counted_by_capture;
ROLLBACK;
DROP TABLE live_captured;

-- A category the featurizer never saw where every fitting row had one it knows (8 countries, fewer than top_k: its
-- "__other__" had no row) is scored through an input no training row had: the guard says so in a NOTICE, once a
-- statement, from the row trigger and from guard_batch's capture alike; a known country is quiet.
BEGIN;
CREATE TEMP TABLE new_country AS
    SELECT transaction_id + 7000000 AS transaction_id, tx_time, customer_id, terminal_id, amount, online, ip,
           'ZZ'::text AS country, merchant_category, is_fraud, fraud_scenario
      FROM tx ORDER BY tx_time DESC, transaction_id LIMIT 3;
CREATE TABLE live_row (LIKE live INCLUDING ALL);
CREATE TRIGGER guard_flag BEFORE INSERT ON live_row FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('gm', 'flag', '0.5', 'fraud_score, suspicious');
CREATE TABLE live_batch (LIKE live INCLUDING ALL);
CREATE TRIGGER capture BEFORE INSERT ON live_batch FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('gm', 'flag', '0.5', 'fraud_score, suspicious');
CREATE TRIGGER close_capture AFTER INSERT ON live_batch FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('gm', 'flag', '0.5', 'fraud_score, suspicious');
SET LOCAL client_min_messages = notice;
INSERT INTO live_row SELECT *, NULL, NULL FROM new_country;
INSERT INTO live_row SELECT transaction_id + 100000, tx_time, customer_id, terminal_id, amount, online, ip, country,
                            merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM new_country LIMIT 1;
INSERT INTO live_batch SELECT *, NULL, NULL FROM new_country;
INSERT INTO live_row SELECT transaction_id + 200000, tx_time, customer_id, terminal_id, amount, online, ip, 'FR',
                            merchant_category, is_fraud, fraud_scenario, NULL, NULL FROM new_country;
SELECT count(*) AS scored FROM live_row WHERE fraud_score IS NOT NULL;
ROLLBACK;

-- Labels set after their rows (a chargeback): a featurizer counting each terminal's frauds reads them from the table,
-- as training and score_query do, so the inline history must follow them. A guard scoring the inserts of a table
-- where no dendrite.guard fires on UPDATE says so when it starts. With the model's name alone, fired by UPDATE ...
-- FOR EACH ROW, the guard scores nothing and relabels the inline history (this session's here; every other
-- session's in the isolation suite history_labels). Labels are every fifth row's, for frauds to count.
CREATE TABLE lab AS SELECT transaction_id, tx_time, customer_id, terminal_id, amount, (transaction_id % 5 = 0) AS is_fraud FROM tx;
CREATE TABLE lab_live (LIKE lab);
ALTER TABLE lab_live ADD COLUMN score float8, ADD PRIMARY KEY (transaction_id);
INSERT INTO lab_live SELECT *, NULL FROM lab WHERE tx_time < '2026-01-12';
SELECT dendrite.create_featurizer('glf', 'SELECT * FROM lab ORDER BY tx_time, transaction_id', label => 'is_fraud',
    history_query => 'SELECT * FROM lab_live', columns => '{"transaction_id": "ignore", "customer_id": "ignore"}',
    history => '[{"entity": "terminal_id", "time": "tx_time", "label": "is_fraud", "delay": "1 day", "windows": ["7 days"],
                  "aggregates": ["count", "fraud_rate"]}]') AS featurizer_version;
SELECT version FROM dendrite.train('glm', 'SELECT * FROM lab ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'glf',
                                   hidden => '{4}', epochs => 1, seed => 1);
CREATE TRIGGER lab_guard BEFORE INSERT ON lab_live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm', 'flag', '1', 'score');
SET client_min_messages = notice;
INSERT INTO lab_live SELECT transaction_id, tx_time, customer_id, terminal_id, amount, NULL, NULL FROM lab
 WHERE tx_time >= '2026-01-12' AND tx_time < '2026-01-14' ORDER BY tx_time, transaction_id;
-- The labels of those two days arrive before the next days' rows, which then score as the offline pass over the
-- table does (and, the table's labels now followed, without the NOTICE).
CREATE TRIGGER lab_history AFTER UPDATE OR DELETE ON lab_live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm');
UPDATE lab_live l SET is_fraud = b.is_fraud FROM lab b WHERE b.transaction_id = l.transaction_id AND l.is_fraud IS NULL;
INSERT INTO lab_live SELECT transaction_id, tx_time, customer_id, terminal_id, amount, NULL, NULL FROM lab
 WHERE tx_time >= '2026-01-14' AND tx_time < '2026-01-16' ORDER BY tx_time, transaction_id;
SET client_min_messages = warning;
SELECT count(*) AS guarded, count(*) FILTER (WHERE abs(l.score - o.score) > 1e-6) AS differ_from_offline,
       (SELECT count(*) FROM lab_live WHERE is_fraud AND tx_time >= '2026-01-12' AND tx_time < '2026-01-14') AS frauds_labelled_late
  FROM lab_live l JOIN dendrite.score_query('glm', 'SELECT * FROM lab_live', key => 'transaction_id') o ON o.key = l.transaction_id::text
 WHERE l.tx_time >= '2026-01-14';
-- A scoring guard fired BEFORE INSERT OR UPDATE: a label is no model input (a row's own label never enters its
-- features), so a label-only update leaves the decision taken at insert, nothing logged again.
BEGIN;
DROP TRIGGER lab_guard ON lab_live;
CREATE TRIGGER lab_guard BEFORE INSERT OR UPDATE ON lab_live FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm', 'flag,log', '0', 'score');
CREATE TEMP TABLE lab_before AS SELECT transaction_id, score FROM lab_live;
SELECT count(*) AS logged_before FROM dendrite.predictions WHERE table_name = 'public.lab_live';
UPDATE lab_live SET is_fraud = NOT is_fraud WHERE transaction_id % 7 = 0 AND is_fraud IS NOT NULL;
SELECT count(*) AS logged_after FROM dendrite.predictions WHERE table_name = 'public.lab_live';
SELECT count(*) FILTER (WHERE l.score IS NOT DISTINCT FROM b.score) AS scores_kept, count(*) AS rows
  FROM lab_live l JOIN lab_before b USING (transaction_id);
ROLLBACK;
-- Fired by UPDATE the guard must see the rows (39P01 for a statement trigger); before or after, with the model's name
-- alone, it fires without error.
CREATE FUNCTION pg_temp.try_follow(kind text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER try_follow %s ON lab_live %s EXECUTE FUNCTION dendrite.guard(''glm'')',
                   split_part(kind, '|', 1), split_part(kind, '|', 2));
    UPDATE lab_live SET is_fraud = NOT is_fraud WHERE transaction_id = (SELECT min(transaction_id) FROM lab_live);
    RAISE EXCEPTION 'fired without error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try_follow('AFTER UPDATE|FOR EACH STATEMENT');
SELECT pg_temp.try_follow('BEFORE UPDATE|FOR EACH ROW');
SELECT pg_temp.try_follow('AFTER UPDATE OR DELETE|FOR EACH ROW');
-- A table without the label column: its rows join the history with unknown labels, which the guard says.
BEGIN;
CREATE TABLE lab_unlabelled (transaction_id bigint PRIMARY KEY, tx_time timestamp, terminal_id int, amount numeric, score float8);
CREATE TRIGGER lab_guard BEFORE INSERT ON lab_unlabelled FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm', 'flag', '1', 'score');
SET LOCAL client_min_messages = notice;
INSERT INTO lab_unlabelled SELECT transaction_id, tx_time, terminal_id, amount FROM lab ORDER BY transaction_id LIMIT 1;
ROLLBACK;
-- A trigger fired by UPDATE OF other columns does not follow the labels (the NOTICE stays); one fired by UPDATE OF
-- the label column does.
BEGIN;
CREATE TABLE lab_of (LIKE lab_live INCLUDING ALL);
CREATE TRIGGER lab_guard BEFORE INSERT ON lab_of FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm', 'flag', '1', 'score');
CREATE TRIGGER lab_amounts AFTER UPDATE OF amount ON lab_of FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm');
SET LOCAL client_min_messages = notice;
INSERT INTO lab_of SELECT * FROM lab_live ORDER BY transaction_id LIMIT 1;
CREATE TRIGGER lab_labels AFTER UPDATE OF is_fraud ON lab_of FOR EACH ROW EXECUTE FUNCTION dendrite.guard('glm');
INSERT INTO lab_of SELECT * FROM lab_live ORDER BY transaction_id OFFSET 1 LIMIT 1;
ROLLBACK;
