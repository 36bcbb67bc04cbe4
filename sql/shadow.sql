-- Shadow scoring (issue #28): a guard's 'shadow:N' scores version N beside the serving version on the same
-- features and logs its decisions (dendrite.predictions.shadow), never acting on them; model_health counts
-- the serving decisions only, and shadow_health compares champion and challenger once outcomes arrive.
SET client_min_messages = warning;

CREATE TABLE sh_train AS
SELECT * FROM dendrite.generate_transactions(customers => 100, terminals => 150, days => 12, seed => 11);
CREATE TABLE sh_live (LIKE sh_train INCLUDING ALL);
ALTER TABLE sh_live ADD PRIMARY KEY (transaction_id), ADD COLUMN fraud_score float8;
SELECT dendrite.create_featurizer('shf', 'SELECT * FROM sh_train WHERE tx_time < ''2026-01-09'' ORDER BY tx_time, transaction_id',
    label => 'is_fraud', history_query => 'SELECT * FROM sh_live',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "ip": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean"]}]') AS featurizer_version;
SELECT version FROM dendrite.train('sh', 'SELECT * FROM sh_train WHERE tx_time < ''2026-01-09'' ORDER BY tx_time, transaction_id',
                                   'is_fraud', featurizer => 'shf', hidden => '{8}', epochs => 3, seed => 1);
SELECT version FROM dendrite.train('sh', 'SELECT * FROM sh_train WHERE tx_time < ''2026-01-09'' ORDER BY tx_time, transaction_id',
                                   'is_fraud', featurizer => 'shf', hidden => '{16}', epochs => 2, seed => 2);
SELECT dendrite.deploy('sh', 1) AS deployed;

-- The row guard: version 1 flags (fraud_score is its score), version 2 is scored in the shadow and logged.
CREATE TRIGGER guard_shadow BEFORE INSERT ON sh_live FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('sh', 'flag,log,shadow:2', '0.5', 'fraud_score');
INSERT INTO sh_live SELECT *, NULL FROM sh_train WHERE tx_time < '2026-01-11' ORDER BY tx_time, transaction_id;
SELECT v.version, p.shadow, count(*) AS decisions, count(DISTINCT p.row_key) AS rows,
       count(*) FILTER (WHERE p.decision = CASE WHEN p.score >= p.threshold THEN 'flag' ELSE 'pass' END) AS consistent,
       min(p.threshold) = 0.5 AS guard_threshold
  FROM dendrite.predictions p JOIN dendrite.model_versions v USING (version_id)
 WHERE p.table_name = 'public.sh_live'
 GROUP BY 1, 2 ORDER BY 1;
-- Each version's logged scores are score_query's for that version over the same rows in the same order
-- (the same history); fraud_score is the serving version's, never the shadow's.
CREATE TEMP TABLE offline AS
SELECT o.key, v AS version, o.score
  FROM (VALUES (1), (2)) versions(v),
       LATERAL dendrite.score_query('sh', 'SELECT * FROM sh_live ORDER BY tx_time, transaction_id', key => 'transaction_id',
                                    version => v) o;
SELECT o.version, count(*) AS rows, count(*) FILTER (WHERE abs(o.score - p.score) <= 1e-6) AS equal_to_logged
  FROM offline o JOIN dendrite.model_versions v ON v.version = o.version
  JOIN dendrite.models m ON m.model_id = v.model_id AND m.name = 'sh'
  JOIN dendrite.predictions p ON p.version_id = v.version_id AND p.row_key = o.key
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows, count(*) FILTER (WHERE abs(l.fraud_score - o.score) <= 1e-6) AS flagged_by_serving,
       count(*) FILTER (WHERE abs(l.fraud_score - s.score) > 1e-6) AS differ_from_shadow
  FROM sh_live l JOIN offline o ON o.key = l.transaction_id::text AND o.version = 1
  JOIN offline s ON s.key = l.transaction_id::text AND s.version = 2;

-- Outcomes arrive: model_health sees the serving decisions only; shadow_health compares both on the same rows.
SELECT count(*) AS outcomes FROM (SELECT dendrite.record_outcome('sh_live', transaction_id::text, is_fraud) FROM sh_live) r;
SELECT serving_version, predictions, labelled FROM dendrite.model_health('sh');
SELECT version, role, predictions, labelled, tp + fp + tn + fn = labelled AS confusion_complete,
       round("precision"::numeric, 4) = round((tp::float8 / nullif(tp + fp, 0))::numeric, 4) AS precision_consistent,
       round(recall::numeric, 4) = round((tp::float8 / nullif(tp + fn, 0))::numeric, 4) AS recall_consistent
  FROM dendrite.shadow_health('sh');
-- Recomputed from the rows: each role's flags against the outcomes.
SELECT s.version, s.role, s.tp = c.tp AND s.fp = c.fp AND s.fn = c.fn AS recomputed
  FROM dendrite.shadow_health('sh') s
  JOIN (SELECT v.version, p.shadow, count(*) FILTER (WHERE p.decision = 'flag' AND o.is_fraud) AS tp,
               count(*) FILTER (WHERE p.decision = 'flag' AND NOT o.is_fraud) AS fp,
               count(*) FILTER (WHERE p.decision = 'pass' AND o.is_fraud) AS fn
          FROM dendrite.predictions p JOIN dendrite.model_versions v USING (version_id)
          JOIN dendrite.outcomes o ON o.table_name = p.table_name AND o.row_key = p.row_key
         WHERE p.table_name = 'public.sh_live'
         GROUP BY 1, 2) c ON c.version = s.version AND c.shadow = (s.role = 'shadow')
 ORDER BY 1;
DROP TRIGGER guard_shadow ON sh_live;

-- guard_batch over a transition table: the same, a chunk at a time. (A model without history here: the
-- inline history above has seen sh_live's rows, so scores of the same rows again would differ by design.)
DELETE FROM dendrite.predictions WHERE table_name LIKE 'public.sh\_%';
SELECT version FROM dendrite.train('sh_plain', 'SELECT amount, online, merchant_category, is_fraud FROM sh_train', 'is_fraud',
                                   hidden => '{8}', epochs => 2, seed => 1, validation_fraction => 0);
SELECT version FROM dendrite.train('sh_plain', 'SELECT amount, online, merchant_category, is_fraud FROM sh_train', 'is_fraud',
                                   featurizer => 'sh_plain', hidden => '{16}', epochs => 2, seed => 2, validation_fraction => 0);
SELECT dendrite.deploy('sh_plain', 1) AS deployed;
CREATE TABLE sh_batch (LIKE sh_live INCLUDING ALL);
CREATE TRIGGER guard_shadow AFTER INSERT ON sh_batch REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('sh_plain', 'log,shadow:2');
SET work_mem = '64kB';  -- the transition table spills, as a bulk load's does
INSERT INTO sh_batch SELECT * FROM sh_live;
RESET work_mem;
SELECT v.version, p.shadow, count(*) AS decisions,
       count(*) FILTER (WHERE abs(p.score - dendrite.score('sh_plain', b, v.version)) <= 1e-6) AS equal_to_score,
       count(*) FILTER (WHERE p.threshold = v.threshold) AS at_own_threshold
  FROM dendrite.predictions p JOIN dendrite.model_versions v USING (version_id)
  JOIN sh_batch b ON b.transaction_id::text = p.row_key
 WHERE p.table_name = 'public.sh_batch'
 GROUP BY 1, 2 ORDER BY 1;
DROP TABLE sh_batch;
SELECT dendrite.drop_model('sh_plain');

-- A shadow that cannot be scored is a WARNING, and the guard keeps guarding: a version the model lacks,
-- the serving version itself, a version trained on another featurizer version.
DELETE FROM dendrite.predictions WHERE table_name LIKE 'public.sh\_%';
CREATE TABLE sh_more (LIKE sh_live INCLUDING ALL);
CREATE TRIGGER guard_missing BEFORE INSERT ON sh_more FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow:9');
INSERT INTO sh_more SELECT * FROM sh_live LIMIT 3;
DROP TRIGGER guard_missing ON sh_more;
CREATE TRIGGER guard_itself BEFORE INSERT ON sh_more FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow:1');
INSERT INTO sh_more SELECT * FROM sh_live OFFSET 3 LIMIT 3;
DROP TRIGGER guard_itself ON sh_more;
SELECT version FROM dendrite.train('sh', 'SELECT amount, online, is_fraud FROM sh_train', 'is_fraud', hidden => '{4}',
                                   epochs => 1, seed => 3);
CREATE TRIGGER guard_other BEFORE INSERT ON sh_more FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow:3');
INSERT INTO sh_more SELECT * FROM sh_live OFFSET 6 LIMIT 3;
DROP TRIGGER guard_other ON sh_more;
SELECT count(*) AS logged, count(*) FILTER (WHERE shadow) AS shadow_logged FROM dendrite.predictions
 WHERE table_name = 'public.sh_more';
-- The shadow version trained after the trigger was created is scored from the next statement.
CREATE TRIGGER guard_later BEFORE INSERT ON sh_more FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow:4');
INSERT INTO sh_more SELECT * FROM sh_live OFFSET 9 LIMIT 2;
SELECT version FROM dendrite.train('sh', 'SELECT * FROM sh_train WHERE tx_time < ''2026-01-09'' ORDER BY tx_time, transaction_id',
                                   'is_fraud', featurizer => 'shf', hidden => '{4}', epochs => 1, seed => 4);
INSERT INTO sh_more SELECT * FROM sh_live OFFSET 11 LIMIT 2;
SELECT v.version, p.shadow, count(*) AS decisions FROM dendrite.predictions p JOIN dendrite.model_versions v USING (version_id)
 WHERE p.table_name = 'public.sh_more' GROUP BY 1, 2 ORDER BY 1, 2;
DROP TABLE sh_more;

-- Errors: 'shadow' needs 'log' and a version number; the row capture does not shadow.
\set VERBOSITY terse
CREATE TABLE sh_bad (LIKE sh_live INCLUDING ALL);
CREATE TRIGGER t BEFORE INSERT ON sh_bad FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'flag,shadow:2', '0.5', 'fraud_score');
INSERT INTO sh_bad SELECT * FROM sh_live LIMIT 1;
DROP TRIGGER t ON sh_bad;
CREATE TRIGGER t BEFORE INSERT ON sh_bad FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow');
INSERT INTO sh_bad SELECT * FROM sh_live LIMIT 1;
DROP TRIGGER t ON sh_bad;
CREATE TRIGGER t BEFORE INSERT ON sh_bad FOR EACH ROW EXECUTE FUNCTION dendrite.guard('sh', 'log,shadow:0');
INSERT INTO sh_bad SELECT * FROM sh_live LIMIT 1;
DROP TRIGGER t ON sh_bad;
CREATE TRIGGER c BEFORE INSERT ON sh_bad FOR EACH ROW EXECUTE FUNCTION dendrite.guard_batch('sh', 'log,shadow:2');
CREATE TRIGGER s AFTER INSERT ON sh_bad FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch('sh', 'log,shadow:2');
INSERT INTO sh_bad SELECT * FROM sh_live LIMIT 1;
\set VERBOSITY default
SELECT count(*) AS rows FROM sh_bad;
DROP TABLE sh_bad;

DELETE FROM dendrite.predictions WHERE table_name LIKE 'public.sh\_%';
DELETE FROM dendrite.outcomes WHERE table_name LIKE 'public.sh\_%';
SELECT dendrite.drop_model('sh');
SELECT dendrite.drop_featurizer('shf');
DROP TABLE sh_live, sh_train;
