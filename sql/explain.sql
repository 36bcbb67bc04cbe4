-- Reason codes: dendrite.explain says which inputs pushed a row's score up (gbdt: exact TreeSHAP over the
-- stored trees and their covers), folded per column and per history declaration, with the row's value.
SET client_min_messages = warning;

CREATE TABLE card_payments AS
SELECT i AS id, timestamp '2026-03-01' + i * interval '13 minutes' AS at, 'card' || (i % 60) AS card,
       (ARRAY['grocery', 'fuel', 'travel', 'online', 'jewellery'])[1 + i % 5] AS merchant,
       round(((i * 7919) % 400) / 2.0, 2) AS amount, i % 4 = 0 AS card_present,
       ((i * 7919) % 400 > 330 AND i % 5 >= 3 AND (i * 31) % 10 < 7) OR (i * 13) % 97 = 0 AS fraud
  FROM generate_series(1, 4000) i;
SELECT dendrite.create_featurizer('reasons_f', 'SELECT * FROM card_payments', label => 'fraud',
    columns => '{"id": "ignore", "at": "ignore", "card": "ignore"}',
    history => '[{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["count", "mean"]}]')
    AS version;
SELECT version FROM dendrite.train('reasons', 'SELECT * FROM card_payments', 'fraud', featurizer => 'reasons_f',
                                   algorithm => 'gbdt', options => '{"rounds": 40, "max_depth": 4}', seed => 3);
-- The trees keep their covers (one per node).
SELECT bool_and(cardinality(cover) = cardinality(left_child)) AS covers_stored
  FROM dendrite.trees t JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'reasons';

-- The top reasons of the highest-scored row: one row per input (merchant's one-hot outputs folded into
-- merchant, the history declaration's into card), the row's own value, largest contribution first.
CREATE TEMP TABLE top_row AS
SELECT * FROM card_payments p ORDER BY dendrite.score('reasons', p) DESC, id LIMIT 1;
SELECT round(dendrite.score('reasons', p)::numeric, 3) AS score FROM top_row p;
SELECT feature, input, value, round(contribution::numeric, 3) AS contribution
  FROM top_row p, dendrite.explain('reasons', p, 3);
-- Every input at most once, and in order.
SELECT count(*) AS inputs, count(DISTINCT feature) AS distinct_inputs,
       bool_and(contribution >= coalesce(next, contribution)) AS descending
  FROM (SELECT feature, contribution, lead(contribution) OVER (ORDER BY ordinality) AS next
          FROM top_row p, dendrite.explain('reasons', p, 100) WITH ORDINALITY) e;

-- The contributions add up to the score's logit, up to the bias (the same for every row): between two rows
-- their sums differ exactly as the logits do.
CREATE TEMP TABLE sums AS
SELECT p.id, ln(s / (1 - s)) AS logit, (SELECT sum(contribution) FROM dendrite.explain('reasons', p, 100)) AS total
  FROM card_payments p, LATERAL (SELECT dendrite.score('reasons', p)::float8 AS s) score
 WHERE p.id IN (3, 8, 1500, 2222, 3999);
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE abs((a.total - b.total) - (a.logit - b.logit)) < 1e-4) AS consistent
  FROM sums a JOIN sums b ON a.id < b.id;

-- The global view: each input's mean absolute contribution over a query's rows (history computed offline, as
-- score_query does), largest first.
SELECT feature, input, round(mean_abs_contribution::numeric, 3) AS importance, rows
  FROM dendrite.feature_importance('reasons', 'SELECT * FROM card_payments WHERE id <= 1000');

-- A guard that rejects a row says why, in the error's DETAIL (only a rejected row pays for it).
CREATE TABLE new_payments (LIKE card_payments);
CREATE TRIGGER reject_fraud BEFORE INSERT ON new_payments FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('reasons', 'reject', '0.5');
INSERT INTO new_payments SELECT * FROM top_row;
SELECT count(*) AS written FROM new_payments;

-- A network version is explained by integrated gradients of its logit from its training rows' mean (an index
-- feature from its unseen row): the contributions add up to the logit difference within 0.1 %.
SELECT version FROM dendrite.train('reasons_mlp', 'SELECT * FROM card_payments', 'fraud', featurizer => 'reasons_f',
                                   hidden => '{8}', epochs => 3, seed => 3);
SELECT feature, input, value, round(contribution::numeric, 2) AS contribution
  FROM top_row p, dendrite.explain('reasons_mlp', p, 3);
CREATE TEMP TABLE network_sums AS
SELECT p.id, ln(s / (1 - s)) AS logit, (SELECT sum(contribution) FROM dendrite.explain('reasons_mlp', p, 100)) AS total
  FROM card_payments p, LATERAL (SELECT dendrite.score('reasons_mlp', p)::float8 AS s) score
 WHERE p.id IN (3, 8, 1500, 2222, 3999);
-- logit(x) - sum = the logit at the mean row, the same for every row (to the 0.1 %).
SELECT max(logit - total) - min(logit - total) < 0.01 AS same_baseline_logit FROM network_sums;
SELECT feature, round(mean_abs_contribution::numeric, 2) AS importance
  FROM dendrite.feature_importance('reasons_mlp', 'SELECT * FROM card_payments WHERE id <= 300');

-- Measured at training, for the report: each input's mean absolute contribution on (up to 2,000 of) the rows
-- the metrics come from, largest first.
SELECT rank, feature, input, round(mean_abs_contribution::numeric, 3) AS importance, rows
  FROM dendrite.validation_importance
 WHERE version_id = (SELECT version_id FROM dendrite.serving_version('reasons')) ORDER BY rank;
-- The report charts it, with the scores of each class, the alerts a day at the stored threshold (the rows span
-- the featurizer's time column), how the evaluation rows were chosen, whole-number round ticks (gbdt's
-- progress is per round, its validation loss alone: xgboost reports no training loss) and the settings as a
-- table.
SELECT dendrite.report('reasons') AS html \gset
SELECT :'html' LIKE '%<h2>What the model looks at</h2>%' AS importance,
       (SELECT count(*) FROM regexp_matches(:'html', '<td class="name">', 'g')) AS inputs_charted,
       :'html' LIKE '%aria-label="Scores of each class"%' AS score_chart,
       substring(:'html' from 'about [0-9.]+ alerts a day') AS alerts,
       substring(:'html' from 'Metrics are measured on ([^<]*)') AS evaluation_rows,
       (SELECT array_agg(m[1]) FROM regexp_matches(substring(:'html' from 'aria-label="Validation loss per round".*?</svg>'),
                                                   'y="264" text-anchor="middle" class="tick">([^<]*)<', 'g') m) AS round_ticks,
       (SELECT count(*) FROM regexp_matches(substring(:'html' from 'aria-label="Validation loss per round".*?</svg>'),
                                            '<polyline ', 'g')) AS loss_lines,
       :'html' LIKE '%<table class="settings">%<th>max_depth</th><td>4</td>%' AS settings_table;

-- The query form: the rows of a query scoring at least min_score, each with its top reasons (history computed
-- offline, as score_query computes it: the same scores, the same rows).
CREATE TEMP TABLE explained AS
SELECT * FROM dendrite.explain_query('reasons', 'SELECT * FROM card_payments', 'id', top => 2, min_score => 0.5);
CREATE TEMP TABLE scored AS SELECT * FROM dendrite.score_query('reasons', 'SELECT * FROM card_payments', 'id');
SELECT count(DISTINCT key) AS rows, count(*) AS reasons, min(rank) AS first_rank, max(rank) AS last_rank,
       (SELECT count(*) FROM scored WHERE score >= 0.5) AS scored_at_least_half,
       count(*) FILTER (WHERE e.score = s.score) AS same_scores
  FROM explained e JOIN scored s USING (key);
SELECT key, round(score::numeric, 3) AS score, rank, feature, input, value, round(contribution::numeric, 3) AS contribution
  FROM explained ORDER BY score DESC, key::int, rank LIMIT 4;
-- With every reason, a row's contributions add up to its logit up to the bias, as dendrite.explain's do (to
-- the scorer's precision: the score is a float, its margin summed in float, a logit ~1e-6 off; the unit tests
-- check the contributions against the margin in double, to 1e-13).
CREATE TEMP TABLE query_sums AS
SELECT key, ln(min(score) / (1 - min(score))) AS logit, sum(contribution) AS total
  FROM dendrite.explain_query('reasons', 'SELECT * FROM card_payments WHERE id <= 50', 'id', 100) GROUP BY key;
SELECT count(*) AS rows, max(logit - total) - min(logit - total) < 1e-5 AS same_bias FROM query_sums;
-- Errors: top below 1, min_score outside [0, 1], a key the query lacks.
SELECT * FROM dendrite.explain_query('reasons', 'SELECT * FROM card_payments', 'id', 0);
SELECT * FROM dendrite.explain_query('reasons', 'SELECT * FROM card_payments', 'id', min_score => 1.5);
SELECT * FROM dendrite.explain_query('reasons', 'SELECT * FROM card_payments', 'nosuch');

-- feature_importance explains its rows 1,024 at a time over both cores (a rest of fewer than 64 row by row):
-- the same means as explain_query's reasons, computed row by row, for trees and a network, over 1,030 rows (a
-- batch and a rest of 6), 1,500 (a batch and a rest explained in a batch too) and 4,000 (batches across the
-- pass's resets of its memory, every 1,024 rows read).
CREATE TEMP TABLE importance_pairs AS
WITH queries AS (
  SELECT model, bound, format('SELECT * FROM card_payments WHERE id <= %s', bound) AS query
    FROM (VALUES ('reasons'), ('reasons_mlp')) AS m(model), (VALUES (1030), (1500), (4000)) AS b(bound)),
batched AS (
  SELECT model, bound, i.feature, i.mean_abs_contribution, i.rows
    FROM queries, LATERAL dendrite.feature_importance(model, query) i),
row_by_row AS (
  SELECT model, bound, e.feature, avg(abs(e.contribution)) AS mean_abs
    FROM queries, LATERAL dendrite.explain_query(model, query, 'id', 100) e GROUP BY model, bound, e.feature)
SELECT model, bound, feature, b.mean_abs_contribution AS batched, r.mean_abs AS row_by_row, b.rows
  FROM batched b JOIN row_by_row r USING (model, bound, feature);
SELECT model, bound, count(*) AS inputs, min(rows) AS rows,
       bool_and(abs(batched - row_by_row) <= 1e-12 * greatest(1, row_by_row)) AS same_means
  FROM importance_pairs GROUP BY model, bound ORDER BY model, bound;
-- statement_timeout stops feature_importance mid-pass, while it reads rows and its threads explain batches
-- (57014), and the pool and its batch go with the statement: the next call runs as before.
SET statement_timeout = '300ms';
DO $$
BEGIN
  PERFORM count(*) FROM dendrite.feature_importance('reasons',
    'SELECT p.* FROM card_payments p, generate_series(1, 200)');
  RAISE WARNING 'feature_importance over 800,000 rows ended within 300 ms';
EXCEPTION WHEN query_canceled THEN
  RAISE WARNING 'canceled: %', SQLSTATE;
END
$$;
RESET statement_timeout;
SELECT count(*) AS inputs FROM dendrite.feature_importance('reasons', 'SELECT * FROM card_payments WHERE id <= 2000');
-- explain_query explains its rows in the same batches, each row's key and values taken as it is read: over
-- 3,000 rows the same output rows as a query that explains only that row (since => its time: the rows
-- before build its history, and one row is explained on the backend), for rows in the first and second
-- batches and the rest, for trees and a network.
CREATE TEMP TABLE batched_reasons AS
SELECT model, e.*
  FROM (VALUES ('reasons'), ('reasons_mlp')) AS m(model),
       LATERAL dendrite.explain_query(model, 'SELECT * FROM card_payments WHERE id <= 3000', 'id', 100) e;
SELECT model, count(DISTINCT key) AS rows, count(*) AS reasons FROM batched_reasons GROUP BY model ORDER BY model;
SELECT b.model, count(*) AS reasons,
       count(*) FILTER (WHERE a.key = b.key AND a.score = b.score AND a.feature = b.feature AND a.input = b.input
                          AND a.value IS NOT DISTINCT FROM b.value AND a.contribution = b.contribution) AS same
  FROM (VALUES (1), (700), (1500), (2999)) AS r(id)
  JOIN card_payments p USING (id)
  CROSS JOIN (VALUES ('reasons'), ('reasons_mlp')) AS m(model)
  CROSS JOIN LATERAL dendrite.explain_query(m.model, format('SELECT * FROM card_payments WHERE id <= %s', r.id), 'id',
                                             100, since => p.at) a
  JOIN batched_reasons b ON b.model = m.model AND b.key = a.key AND b.rank = a.rank
 GROUP BY b.model ORDER BY b.model;
-- The batches keep each shown value as the row had it: a NULL stays NULL, and a read that starts over
-- sorted (its rows came out of time order) gives the same output rows as one in order.
CREATE TEMP TABLE shuffled_payments AS
SELECT id, at, card, CASE WHEN id % 7 = 0 THEN NULL ELSE merchant END AS merchant, amount, card_present, fraud
  FROM card_payments WHERE id <= 3000;
SELECT m.model, count(*) AS reasons, count(*) FILTER (WHERE b.input = 'merchant' AND b.value IS NULL) AS null_merchants,
       count(*) FILTER (WHERE a.score = b.score AND a.feature = b.feature AND a.input = b.input
                          AND a.value IS NOT DISTINCT FROM b.value AND a.contribution = b.contribution) AS same
  FROM (VALUES ('reasons'), ('reasons_mlp')) AS m(model)
  CROSS JOIN LATERAL dendrite.explain_query(m.model, 'SELECT * FROM shuffled_payments ORDER BY id DESC', 'id', 100) a
  JOIN LATERAL dendrite.explain_query(m.model, 'SELECT * FROM shuffled_payments ORDER BY id', 'id', 100) b
    ON b.key = a.key AND b.rank = a.rank
 GROUP BY m.model ORDER BY m.model;

-- 'log,reasons': a guard keeps the top reasons of each row it flags beside the decision, as dendrite.explain's
-- columns (only flagged rows pay for them). The row guard and guard_batch over a transition table keep the
-- same reasons for the same rows.
CREATE TABLE logged_payments (LIKE card_payments, PRIMARY KEY (id));
CREATE TRIGGER log_fraud BEFORE INSERT ON logged_payments FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('reasons', 'log,reasons', '0.5');
INSERT INTO logged_payments SELECT * FROM card_payments WHERE id <= 1000;
-- (A new session, so that the batch starts from the same history as the row guard did, not after its rows.)
\c
SET client_min_messages = warning;
CREATE TABLE batch_payments (LIKE card_payments, PRIMARY KEY (id));
CREATE TRIGGER log_fraud AFTER INSERT ON batch_payments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('reasons', 'log,reasons', '0.5');
INSERT INTO batch_payments SELECT * FROM card_payments WHERE id <= 1000;
SELECT table_name, decision, count(*) AS rows, count(reasons) AS with_reasons,
       min(jsonb_array_length(reasons)) AS fewest, max(jsonb_array_length(reasons)) AS most
  FROM dendrite.predictions WHERE table_name IN ('public.logged_payments', 'public.batch_payments')
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS flagged, count(*) FILTER (WHERE r.reasons = b.reasons) AS same_reasons
  FROM dendrite.predictions r JOIN dendrite.predictions b USING (row_key)
 WHERE r.table_name = 'public.logged_payments' AND b.table_name = 'public.batch_payments' AND r.decision = 'flag';
-- Each reason: positive, largest first, with the row's value of its input.
SELECT count(*) AS reasons,
       count(*) FILTER (WHERE (e.r->>'contribution')::float8 > 0) AS positive,
       count(*) FILTER (WHERE e.n = 1 OR (e.r->>'contribution')::float8 <=
                              (d.reasons->(e.n::int - 2)->>'contribution')::float8) AS in_order,
       count(*) FILTER (WHERE e.r->>'value' = CASE e.r->>'input' WHEN 'card' THEN p.card WHEN 'merchant' THEN p.merchant
                                                  WHEN 'amount' THEN p.amount::text
                                                  WHEN 'card_present' THEN left(p.card_present::text, 1) END)
         AS values_match
  FROM dendrite.predictions d, jsonb_array_elements(d.reasons) WITH ORDINALITY e(r, n), logged_payments p
 WHERE d.table_name = 'public.logged_payments' AND p.id::text = d.row_key;
SELECT d.row_key, round(d.score::numeric, 3) AS score, e.n AS rank, e.r->>'feature' AS feature,
       e.r->>'input' AS input, e.r->>'value' AS value, round((e.r->>'contribution')::numeric, 3) AS contribution
  FROM (SELECT * FROM dendrite.predictions WHERE table_name = 'public.logged_payments' AND decision = 'flag'
         ORDER BY score DESC, row_key LIMIT 1) d, jsonb_array_elements(d.reasons) WITH ORDINALITY e(r, n);
-- (The decisions go: later suites count dendrite.predictions.)
DELETE FROM dendrite.predictions WHERE table_name IN ('public.logged_payments', 'public.batch_payments');
-- 'reasons' needs 'log'; the row capture keeps no row to explain.
CREATE TABLE more_payments (LIKE card_payments, PRIMARY KEY (id));
CREATE TRIGGER flag_only BEFORE INSERT ON more_payments FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('reasons', 'flag,reasons', '0.5', 'fraud');
INSERT INTO more_payments SELECT * FROM card_payments WHERE id = 1;
DROP TRIGGER flag_only ON more_payments;
CREATE TRIGGER capture BEFORE INSERT ON more_payments FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard_batch('reasons', 'log,reasons', '0.5');
CREATE TRIGGER capture_end AFTER INSERT ON more_payments FOR EACH STATEMENT
    EXECUTE FUNCTION dendrite.guard_batch('reasons', 'log,reasons', '0.5');
INSERT INTO more_payments SELECT * FROM card_payments WHERE id = 1;

-- Errors: a version with nothing to explain it from (a network without its training means, as versions
-- trained before 0.4.0 are), top below 1, something that is not a row, no such model.
DELETE FROM dendrite.feature_baselines
 WHERE version_id = (SELECT version_id FROM dendrite.serving_version('reasons_mlp'));
\c
SET client_min_messages = warning;
CREATE TEMP TABLE top_row AS SELECT * FROM card_payments WHERE id = 1;
SELECT * FROM top_row p, dendrite.explain('reasons_mlp', p);
SELECT * FROM dendrite.feature_importance('reasons_mlp', 'SELECT * FROM card_payments');
SELECT * FROM top_row p, dendrite.explain('reasons', p, 0);
SELECT * FROM dendrite.explain('reasons', 42);
SELECT * FROM top_row p, dendrite.explain('nosuch', p);

-- Edited covers are refused when the version is loaded, before anything scores or explains: a negative
-- cover, or covers on some trees and not on others.
UPDATE dendrite.trees SET cover[1] = -1
 WHERE tree_index = 0 AND version_id = (SELECT version_id FROM dendrite.serving_version('reasons'));
\c
SET client_min_messages = warning;
SELECT dendrite.score('reasons', p) FROM card_payments p WHERE id = 1;
UPDATE dendrite.trees SET cover = NULL
 WHERE tree_index = 0 AND version_id = (SELECT version_id FROM dendrite.serving_version('reasons'));
\c
SET client_min_messages = warning;
SELECT * FROM card_payments p, dendrite.explain('reasons', p) WHERE id = 1;
