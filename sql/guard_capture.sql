-- guard_batch's row capture: dendrite.guard_batch fired BEFORE INSERT ... FOR EACH ROW captures each row as
-- it is inserted (featurized and scored in chunks of 1,024 on a helper thread), and the same function
-- fired AFTER INSERT ... FOR EACH STATEMENT acts on the scores. Same scores, history and actions as the
-- transition-table form; errors, rollbacks and cancels lose nothing.
SET client_min_messages = warning;
CREATE TABLE capture_tx AS
    SELECT * FROM dendrite.generate_transactions(customers => 200, terminals => 300, days => 15, seed => 7);
ALTER TABLE capture_tx ADD PRIMARY KEY (transaction_id);
CREATE TABLE bulk (LIKE capture_tx INCLUDING ALL);
ALTER TABLE bulk ADD COLUMN fraud_score float8, ADD COLUMN suspicious bool;
-- The featurizer's inline history is built from "bulk": a featurizer and model of their own.
SELECT dendrite.create_featurizer('cfz', 'SELECT * FROM capture_tx ORDER BY tx_time, transaction_id', label => 'is_fraud',
    history_query => 'SELECT * FROM bulk',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "ip": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]}]') AS featurizer_version;
SELECT version FROM dendrite.train('cm', 'SELECT * FROM capture_tx ORDER BY tx_time, transaction_id', 'is_fraud', featurizer => 'cfz',
                                   hidden => '{8}', epochs => 3, seed => 1);
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag,log', '0.5', 'suspicious');
CREATE TRIGGER score_rows AFTER INSERT ON bulk FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag,log', '0.5', 'suspicious');

-- What a capture of rows into bulk leaves: every row logged once, flags as logged, the offline pass's scores.
CREATE FUNCTION capture_checks(OUT logged bigint, OUT keys bigint, OUT some_flagged bool, OUT flags_match_log bigint,
                               OUT differ_from_offline bigint) LANGUAGE sql AS $$
SELECT count(*), count(DISTINCT row_key), count(*) FILTER (WHERE decision = 'flag') > 0,
       (SELECT count(*) FROM bulk b JOIN dendrite.predictions p ON p.row_key = b.transaction_id::text
         WHERE coalesce(b.suspicious, false) = (p.decision = 'flag')),
       (SELECT count(*)
          FROM dendrite.predictions p
          JOIN dendrite.score_query('cm', 'SELECT * FROM bulk ORDER BY tx_time, transaction_id', key => 'transaction_id') o
            ON o.key = p.row_key
         WHERE abs(p.score - o.score) > 1e-6)
  FROM dendrite.predictions $$;

-- 1,791 rows: one full chunk on the helper thread, the short last one after it. Every row logged with the
-- score the offline pass gives (the history observes the rows in insert order), the flagged ones updated.
TRUNCATE dendrite.predictions;
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx WHERE tx_time < '2026-01-10' ORDER BY tx_time, transaction_id;
SELECT * FROM capture_checks();
-- The same rows again with dendrite.max_threads = 1 (a new session: an inline history built from the empty
-- table): every chunk scored on the backend's own thread, in order, with the same results.
TRUNCATE bulk;
TRUNCATE dendrite.predictions;
\c
SET client_min_messages = warning;
SET dendrite.max_threads = 1;
-- The backend's threads counted after guard_batch's statement trigger, while a helper would still be there
-- (it stops at the transaction's end): statement triggers fire in name order.
CREATE TEMP TABLE thread_counts (threads int);
CREATE FUNCTION pg_temp.count_threads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO thread_counts
  SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'Threads:\s*(\d+)')::int;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_count_threads AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_threads();
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx WHERE tx_time < '2026-01-10' ORDER BY tx_time, transaction_id;
DROP TRIGGER zz_count_threads ON bulk;
SELECT threads AS backend_threads FROM thread_counts;
SELECT * FROM capture_checks();
\c
SET client_min_messages = warning;
-- A small statement (no helper thread): its rows are logged too.
CREATE TEMP TABLE later AS SELECT * FROM capture_tx WHERE tx_time >= '2026-01-10' ORDER BY tx_time, transaction_id LIMIT 3;
INSERT INTO bulk SELECT *, NULL, NULL FROM later;
SELECT count(*) AS later_rows_logged FROM dendrite.predictions p JOIN later l ON p.row_key = l.transaction_id::text;
-- A statement that inserts nothing.
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx WHERE false;
-- COPY fires the same triggers.
CREATE TEMP TABLE copied AS SELECT * FROM capture_tx WHERE tx_time >= '2026-01-10' ORDER BY tx_time, transaction_id OFFSET 3 LIMIT 2;
COPY (SELECT *, NULL, NULL FROM copied) TO '/tmp/dendrite_guard_capture.copy';
\copy bulk FROM '/tmp/dendrite_guard_capture.copy'
SELECT count(*) AS copied_rows_logged FROM dendrite.predictions p JOIN copied c ON p.row_key = c.transaction_id::text;

-- The history features of a probe row tell whether rows were observed.
CREATE TEMP TABLE probe AS SELECT * FROM capture_tx WHERE tx_time >= '2026-01-15' ORDER BY tx_time, transaction_id LIMIT 3;
CREATE TEMP TABLE history_before AS SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id;
CREATE TEMP TABLE big_batch AS
    SELECT transaction_id + 2000000 AS transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country,
           merchant_category, is_fraud, fraud_scenario, row_number() OVER (ORDER BY tx_time, transaction_id) AS n
      FROM capture_tx WHERE tx_time >= '2026-01-10' AND tx_time < '2026-01-15';
SELECT count(*) > 1024 AS more_than_one_chunk FROM big_batch;

-- 'reject': the statement fails at its end with the guard's SQLSTATE; no row is written and the history
-- does not count them.
DROP TRIGGER capture_rows ON bulk;
DROP TRIGGER score_rows ON bulk;
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'reject', '0.0');
CREATE TRIGGER score_rows AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cm', 'reject', '0.0');
\set VERBOSITY sqlstate
INSERT INTO bulk SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM big_batch ORDER BY n;
\set VERBOSITY default
SELECT count(*) AS rows_written FROM bulk WHERE transaction_id > 2000000;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id) a ON a.f = h.f;
-- The same inside a block that catches the error (a subtransaction rolls back): the session goes on and
-- the history is as before.
DO $$
BEGIN
    INSERT INTO bulk SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                            is_fraud, fraud_scenario FROM big_batch ORDER BY n;
EXCEPTION WHEN SQLSTATE 'SF001' THEN
    RAISE WARNING 'rejected: %', left(SQLERRM, 38);
END $$;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id) a ON a.f = h.f;

-- A value the featurizer refuses (amount NaN) in the second chunk: the helper's error is the statement's,
-- nothing is written or observed.
DROP TRIGGER capture_rows ON bulk;
DROP TRIGGER score_rows ON bulk;
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0.5', 'fraud_score');
CREATE TRIGGER score_rows AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0.5', 'fraud_score');
INSERT INTO bulk SELECT transaction_id, tx_time, customer_id, terminal_id, CASE WHEN n = 1100 THEN 'NaN' ELSE amount END,
                        online, ip, country, merchant_category, is_fraud, fraud_scenario FROM big_batch ORDER BY n;
SELECT count(*) AS rows_written FROM bulk WHERE transaction_id > 2000000;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id) a ON a.f = h.f;

-- Cancelled by statement_timeout while chunks are in flight: the usual error, and the next statement
-- captures and scores as before.
SET statement_timeout = '100ms';
INSERT INTO bulk SELECT transaction_id + 10000000 * g, tx_time, customer_id, terminal_id, amount, online, ip, country,
                        merchant_category, is_fraud, fraud_scenario
  FROM generate_series(1, 1000) g, big_batch;
RESET statement_timeout;
SELECT count(*) AS rows_written FROM bulk WHERE transaction_id > 2000000;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id) a ON a.f = h.f;

-- Committed, the rows count in the history and the flagged ones carry their score.
INSERT INTO bulk SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM big_batch ORDER BY n;
SELECT count(*) = (SELECT count(*) FROM big_batch) AS all_written, count(fraud_score) > 0 AS some_flagged,
       bool_and(fraud_score >= 0.5) AS flagged_at_or_above_threshold
  FROM bulk WHERE transaction_id > 2000000;
SELECT count(*) AS unchanged FROM history_before h JOIN (SELECT dendrite.features('cfz', p) AS f FROM probe p ORDER BY transaction_id) a ON a.f = h.f;

-- INSERT ... ON CONFLICT DO NOTHING: rows that were not inserted must not flag the existing rows that
-- have their keys (every score is at or above threshold 0 here).
DROP TRIGGER capture_rows ON bulk;
DROP TRIGGER score_rows ON bulk;
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
CREATE TRIGGER score_rows AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
CREATE TEMP TABLE before_conflict AS SELECT transaction_id, fraud_score FROM bulk WHERE transaction_id > 2000000;
INSERT INTO bulk SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
                        is_fraud, fraud_scenario FROM big_batch ORDER BY n ON CONFLICT DO NOTHING;
SELECT count(*) AS existing_rows_unchanged FROM bulk b JOIN before_conflict c USING (transaction_id)
 WHERE b.fraud_score IS NOT DISTINCT FROM c.fraud_score;
SELECT count(*) = (SELECT count(*) FROM before_conflict) AS all_unchanged FROM bulk b JOIN before_conflict c USING (transaction_id)
 WHERE b.fraud_score IS NOT DISTINCT FROM c.fraud_score;

-- Misconfigured: the statement trigger disabled (or missing) fails at the first row; the statement
-- trigger alone with neither REFERENCING NEW TABLE nor a row trigger fails too.
ALTER TABLE bulk DISABLE TRIGGER score_rows;
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx ORDER BY transaction_id DESC LIMIT 1;
ALTER TABLE bulk ENABLE TRIGGER score_rows;
DROP TRIGGER capture_rows ON bulk;
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx ORDER BY transaction_id DESC LIMIT 1;
-- A row trigger with other arguments than the statement trigger's is not its partner.
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0.9', 'fraud_score');
INSERT INTO bulk SELECT *, NULL, NULL FROM capture_tx ORDER BY transaction_id DESC LIMIT 1;
DROP TRIGGER capture_rows ON bulk;
DROP TRIGGER score_rows ON bulk;
-- Partitions: not captured (the statement trigger fires on the partitioned table, the row trigger on a
-- partition); the REFERENCING NEW TABLE form covers them.
CREATE TABLE parted (LIKE bulk) PARTITION BY RANGE (tx_time);
CREATE TABLE parted_jan PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TRIGGER capture_rows BEFORE INSERT ON parted FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'log');
CREATE TRIGGER score_rows AFTER INSERT ON parted FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cm', 'log');
INSERT INTO parted SELECT *, NULL, NULL FROM capture_tx ORDER BY transaction_id DESC LIMIT 1;
DROP TABLE parted;

-- A trigger that inserts into the captured table while the outer statement runs: the inner statement has a
-- capture of its own (each statement trigger finds its own statement's rows), and every row is logged once.
TRUNCATE dendrite.predictions;
CREATE TRIGGER capture_rows BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('cm', 'log');
CREATE TRIGGER score_rows AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('cm', 'log');
CREATE FUNCTION pg_temp.copy_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.transaction_id < 5000000 THEN
        INSERT INTO bulk (transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud, fraud_scenario)
        VALUES (NEW.transaction_id + 5000000, NEW.tx_time, NEW.customer_id, NEW.terminal_id, NEW.amount, NEW.online, NEW.ip,
                NEW.country, NEW.merchant_category, NEW.is_fraud, NEW.fraud_scenario);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER copy_row AFTER INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION pg_temp.copy_row();
INSERT INTO bulk SELECT transaction_id + 3000000, tx_time, customer_id, terminal_id, amount, online, ip, country,
                        merchant_category, is_fraud, fraud_scenario FROM probe;
SELECT count(*) AS logged, count(DISTINCT row_key) AS distinct_keys,
       count(*) FILTER (WHERE row_key::bigint > 8000000) AS from_inner_statements FROM dendrite.predictions;
DROP TRIGGER copy_row ON bulk;
-- A second guard on the same table, in the transition-table form and with other arguments: each statement
-- trigger acts on its own rows (the capture's are logged, the transition table's flagged).
CREATE TRIGGER flag_all AFTER INSERT ON bulk REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
TRUNCATE dendrite.predictions;
INSERT INTO bulk SELECT transaction_id + 4000000, tx_time, customer_id, terminal_id, amount, online, ip, country,
                        merchant_category, is_fraud, fraud_scenario FROM probe;
SELECT (SELECT count(*) FROM dendrite.predictions) AS logged,
       count(fraud_score) AS flagged FROM bulk WHERE transaction_id BETWEEN 4000000 AND 5000000;
DROP TRIGGER flag_all ON bulk;
DROP TRIGGER capture_rows ON bulk;
DROP TRIGGER score_rows ON bulk;

-- The flag write-back waits for many chunks' flagged rows and writes them in one UPDATE, up to 65,536 rows an
-- UPDATE (each UPDATE costs an executor start and the owner's rights): 69,147 rows, every one flagged, are
-- two UPDATE statements of the table, and every row carries its score.
CREATE TABLE many_flagged (LIKE bulk INCLUDING ALL);
CREATE TABLE flag_updates (rows_updated bigint);
-- (The write-back runs with search_path pinned to pg_catalog: the owner's trigger names its schema.)
CREATE FUNCTION count_flag_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.flag_updates SELECT count(*) FROM changed;
  RETURN NULL;
END $$;
CREATE TRIGGER count_flag_update AFTER UPDATE ON many_flagged REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION count_flag_update();
CREATE TRIGGER capture_rows BEFORE INSERT ON many_flagged FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
CREATE TRIGGER score_rows AFTER INSERT ON many_flagged FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
INSERT INTO many_flagged
SELECT transaction_id + 100000000 * g, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category,
       is_fraud, fraud_scenario
  FROM generate_series(1, 13) g, capture_tx;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM many_flagged;
SELECT rows_updated FROM flag_updates ORDER BY rows_updated DESC;
-- The transition-table form too: 5,319 rows in one UPDATE, not one a chunk of 1,024.
DROP TRIGGER capture_rows ON many_flagged;
DROP TRIGGER score_rows ON many_flagged;
TRUNCATE many_flagged, flag_updates;
CREATE TRIGGER flag_all AFTER INSERT ON many_flagged REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
INSERT INTO many_flagged
SELECT transaction_id, tx_time, customer_id, terminal_id, amount, online, ip, country, merchant_category, is_fraud,
       fraud_scenario
  FROM capture_tx;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM many_flagged;
SELECT rows_updated FROM flag_updates;
DROP TABLE many_flagged, flag_updates;
DROP FUNCTION count_flag_update();

-- The write-back finds its flagged rows by their keys as values of the key's own type, with the type's default
-- equality: no round trip through text. A float8 key under extra_float_digits = -10 (which prints 15
-- significant digits, not enough to read the same double back) and a text key longer than 2 kB that the
-- INSERT ... SELECT hands on compressed from its source table: every row flagged.
CREATE TABLE keyed_source AS
    SELECT c.*, transaction_id / 7.0::float8 AS float_key, repeat('k', 5000) || transaction_id AS long_key
      FROM capture_tx c WHERE transaction_id % 10 = 0;
SELECT pg_column_compression(long_key) AS long_key_stored FROM keyed_source LIMIT 1;
CREATE TABLE float_keyed (LIKE keyed_source);
CREATE TRIGGER capture_rows BEFORE INSERT ON float_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'float_key');
CREATE TRIGGER score_rows AFTER INSERT ON float_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'float_key');
ALTER TABLE float_keyed ADD COLUMN fraud_score float8;
CREATE UNIQUE INDEX ON float_keyed (float_key);
SET extra_float_digits = -10;
INSERT INTO float_keyed SELECT * FROM keyed_source;
RESET extra_float_digits;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM float_keyed;
CREATE TABLE long_keyed (LIKE keyed_source);
ALTER TABLE long_keyed ADD COLUMN fraud_score float8;
CREATE UNIQUE INDEX ON long_keyed (long_key);
CREATE TRIGGER capture_rows BEFORE INSERT ON long_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'long_key');
CREATE TRIGGER score_rows AFTER INSERT ON long_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'long_key');
INSERT INTO long_keyed SELECT * FROM keyed_source;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM long_keyed;
-- A flagged row whose key is NULL cannot be found again: a WARNING counts them at the statement's end.
UPDATE keyed_source SET float_key = NULL WHERE transaction_id % 20 = 0;
CREATE TABLE null_keyed (LIKE keyed_source);
ALTER TABLE null_keyed ADD COLUMN fraud_score float8;
CREATE UNIQUE INDEX ON null_keyed (float_key);
CREATE TRIGGER capture_rows BEFORE INSERT ON null_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'float_key');
CREATE TRIGGER score_rows AFTER INSERT ON null_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'float_key');
INSERT INTO null_keyed SELECT * FROM keyed_source;
SELECT count(*) AS inserted, count(fraud_score) AS flagged, count(*) FILTER (WHERE float_key IS NULL) AS null_keys
  FROM null_keyed;
-- A primary key of a domain type, in the transition-table form.
CREATE DOMAIN transaction_number AS bigint CHECK (VALUE >= 0);
CREATE TABLE domain_keyed (LIKE keyed_source);
ALTER TABLE domain_keyed ALTER COLUMN transaction_id TYPE transaction_number, ADD PRIMARY KEY (transaction_id),
    ADD COLUMN fraud_score float8;
CREATE TRIGGER flag_all AFTER INSERT ON domain_keyed REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score');
INSERT INTO domain_keyed SELECT * FROM keyed_source;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM domain_keyed;
-- A key column without a unique index: a WARNING when the statement trigger starts (once, not again for the
-- row trigger), since the UPDATE flags every row that shares a flagged row's key.
CREATE TABLE card_keyed (LIKE keyed_source);
ALTER TABLE card_keyed ADD COLUMN fraud_score float8;
CREATE TRIGGER capture_rows BEFORE INSERT ON card_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'customer_id');
CREATE TRIGGER score_rows AFTER INSERT ON card_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'customer_id');
INSERT INTO card_keyed SELECT * FROM keyed_source;
SELECT count(*) AS inserted, count(fraud_score) AS flagged FROM card_keyed;
-- A key type without a default equality (json; box, whose "=" compares areas) or without an array type (an
-- array itself) is refused at the first row, and nothing is written.
ALTER TABLE long_keyed ADD COLUMN json_key json, ADD COLUMN box_key box, ADD COLUMN array_key int[];
TRUNCATE long_keyed;
DROP TRIGGER capture_rows ON long_keyed;
DROP TRIGGER score_rows ON long_keyed;
CREATE TRIGGER flag_by_json AFTER INSERT ON long_keyed REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'json_key');
INSERT INTO long_keyed SELECT * FROM keyed_source;
DROP TRIGGER flag_by_json ON long_keyed;
CREATE TRIGGER capture_rows BEFORE INSERT ON long_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'box_key');
CREATE TRIGGER score_rows AFTER INSERT ON long_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'box_key');
INSERT INTO long_keyed SELECT * FROM keyed_source;
DROP TRIGGER capture_rows ON long_keyed;
DROP TRIGGER score_rows ON long_keyed;
CREATE TRIGGER capture_rows BEFORE INSERT ON long_keyed FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'array_key');
CREATE TRIGGER score_rows AFTER INSERT ON long_keyed FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('cm', 'flag', '0', 'fraud_score', 'array_key');
INSERT INTO long_keyed SELECT * FROM keyed_source;
SELECT count(*) AS written FROM long_keyed;
DROP TABLE keyed_source, float_keyed, long_keyed, domain_keyed, card_keyed, null_keyed;
DROP DOMAIN transaction_number;
