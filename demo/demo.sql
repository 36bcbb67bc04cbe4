-- The dendrite demo: card transactions from the project's own simulator, history features in plain SQL,
-- a competition between logistic regression and an MLP, scoring, and the model's parameters as rows.
-- scripts/demo.sh runs it on a throw-away cluster.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION dendrite;

\echo
\echo '== 1. 50 days of card transactions: 2,000 customers, 4,000 terminals, ~1 % fraud'
CREATE TABLE transactions AS SELECT * FROM dendrite.generate_transactions(customers => 2000, terminals => 4000, days => 50, seed => 42);
SELECT count(*) AS transactions, sum(is_fraud::int) AS frauds, round(100.0 * avg(is_fraud::int), 2) AS fraud_percent,
       min(tx_time)::date AS first_day, max(tx_time)::date AS last_day
  FROM transactions;
SELECT * FROM transactions ORDER BY transaction_id LIMIT 3;

\echo
\echo '== 2. Features in plain SQL: the customer''s and the terminal''s recent history'
\echo '   (a terminal''s fraud rate counts only transactions at least 7 days old, whose labels are known)'
CREATE TABLE features AS
SELECT transaction_id, tx_time, customer_id,
       amount,
       online,
       extract(hour FROM tx_time) >= 22 OR extract(hour FROM tx_time) < 6 AS at_night,
       extract(isodow FROM tx_time) >= 6 AS weekend,
       count(*) OVER customer_1d AS customer_count_1d,
       avg(amount) OVER customer_1d AS customer_mean_1d,
       count(*) OVER customer_7d AS customer_count_7d,
       avg(amount) OVER customer_7d AS customer_mean_7d,
       count(*) OVER customer_30d AS customer_count_30d,
       amount / avg(amount) OVER customer_30d AS amount_to_customer_mean_30d,
       count(*) OVER terminal_known AS terminal_count_known,
       avg(is_fraud::int) OVER terminal_known AS terminal_fraud_rate_known,  -- NULL without history: imputed
       is_fraud
  FROM transactions
WINDOW customer_1d    AS (PARTITION BY customer_id ORDER BY tx_time RANGE BETWEEN '1 day' PRECEDING AND CURRENT ROW),
       customer_7d    AS (PARTITION BY customer_id ORDER BY tx_time RANGE BETWEEN '7 days' PRECEDING AND CURRENT ROW),
       customer_30d   AS (PARTITION BY customer_id ORDER BY tx_time RANGE BETWEEN '30 days' PRECEDING AND CURRENT ROW),
       terminal_known AS (PARTITION BY terminal_id ORDER BY tx_time RANGE BETWEEN '35 days' PRECEDING AND '7 days' PRECEDING);
SELECT count(*) AS rows, count(*) FILTER (WHERE terminal_fraud_rate_known IS NULL) AS without_terminal_history FROM features;

\echo
\echo '== 3. Train on days 8..35 (skipping the first week, whose history is short); assess on days 43..50'
\echo '   (a one-week gap, as in the Fraud Detection Handbook''s protocol)'
\set training_rows 'SELECT amount, online, at_night, weekend, customer_count_1d, customer_mean_1d, customer_count_7d, customer_mean_7d, customer_count_30d, amount_to_customer_mean_30d, terminal_count_known, terminal_fraud_rate_known, is_fraud FROM features WHERE tx_time >= ''2026-01-12'' AND tx_time < ''2026-02-09'''
SELECT 'logistic_regression' AS algorithm, version, epochs, round(pr_auc::numeric, 3) AS pr_auc, round(roc_auc::numeric, 3) AS roc_auc,
       round(precision::numeric, 3) AS precision, round(recall::numeric, 3) AS recall, tp, fp, tn, fn, round(seconds::numeric, 2) AS seconds
  FROM dendrite.train('fraud_lr', :'training_rows', 'is_fraud', algorithm => 'logistic_regression', epochs => 10, learning_rate => 0.01)
UNION ALL
SELECT 'mlp 64-32', version, epochs, round(pr_auc::numeric, 3), round(roc_auc::numeric, 3),
       round(precision::numeric, 3), round(recall::numeric, 3), tp, fp, tn, fn, round(seconds::numeric, 2)
  FROM dendrite.train('fraud_mlp', :'training_rows', 'is_fraud', hidden => '{64,32}', epochs => 10);

\echo
\echo '   Per-epoch validation metrics of the MLP (dendrite.epochs):'
SELECT e.epoch, round(e.loss::numeric, 4) AS loss, round(e.validation_loss::numeric, 4) AS validation_loss,
       round(e.pr_auc::numeric, 3) AS pr_auc, round(e.roc_auc::numeric, 3) AS roc_auc, e.tp, e.fp, e.fn
  FROM dendrite.epochs e JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'fraud_mlp' ORDER BY e.epoch;

\echo
\echo '== 4. Score the assessment week with dendrite.score (columns matched by name) and measure it'
CREATE TABLE assessment AS
SELECT f.transaction_id, f.is_fraud,
       dendrite.score('fraud_lr', f) AS lr_score,
       dendrite.score('fraud_mlp', f) AS mlp_score
  FROM features f WHERE tx_time >= '2026-02-16';
WITH scored AS (
    SELECT 'logistic_regression' AS model, lr_score AS score, is_fraud FROM assessment
    UNION ALL SELECT 'mlp 64-32', mlp_score, is_fraud FROM assessment),
ranked AS (
    SELECT model, is_fraud, row_number() OVER w AS k, sum(is_fraud::int) OVER w AS tp
      FROM scored WINDOW w AS (PARTITION BY model ORDER BY score DESC ROWS UNBOUNDED PRECEDING))
SELECT model, count(*) AS transactions, sum(is_fraud::int) AS frauds,
       round((sum(tp::numeric / k) FILTER (WHERE is_fraud) / sum(is_fraud::int)), 3) AS average_precision,
       round(max(tp::numeric / k) FILTER (WHERE k = 100), 3) AS precision_at_100
  FROM ranked GROUP BY model ORDER BY model;

\echo
\echo '   The five most suspicious transactions of the week:'
SELECT t.transaction_id, t.tx_time, t.customer_id, t.terminal_id, t.amount, t.online,
       round(a.mlp_score::numeric, 4) AS fraud_score, t.is_fraud,
       CASE t.fraud_scenario WHEN 1 THEN 'large amount' WHEN 2 THEN 'compromised terminal' WHEN 3 THEN 'leaked card' END AS scenario
  FROM assessment a JOIN transactions t USING (transaction_id)
 ORDER BY a.mlp_score DESC, t.transaction_id LIMIT 5;

\echo
\echo '   A single transaction scored from its raw features (dendrite.predict, in dendrite.feature_names order; booleans as 1 or 0):'
SELECT dendrite.feature_names('fraud_mlp') AS features;
SELECT round(dendrite.predict('fraud_mlp', '{450.00, 1, 0, 0, 3, 120.5, 12, 80.2, 40, 5.6, 30, 0.0}')::numeric, 4) AS large_online_amount,
       round(dendrite.predict('fraud_mlp', '{25.00, 0, 0, 0, 2, 30.1, 10, 28.4, 45, 0.9, 30, 0.0}')::numeric, 4) AS ordinary_purchase;

\echo
\echo '== 5. The model is data: one row per named tensor, versioned, kept by pg_dump'
SELECT m.name AS model, v.version, v.algorithm, v.training_rows, v.validation_rows, round(v.threshold::numeric, 3) AS threshold, v.device
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) ORDER BY m.name, v.version;
SELECT m.name AS model, p.layer, p.name AS tensor, p.shape, cardinality(p.value) AS values,
       (SELECT array_agg(round(x::numeric, 3)) FROM unnest(p.value[1:4]) AS x) AS first_values
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 ORDER BY m.name, p.layer_index, p.name DESC;
SELECT f.name AS featurizer, c.ordinal, c.column_name, c.source_type, round(c.mean::numeric, 3) AS mean, round(c.scale::numeric, 3) AS scale
  FROM dendrite.feature_columns c JOIN dendrite.featurizers f USING (featurizer_id) WHERE f.name = 'fraud_mlp' ORDER BY c.ordinal;
