-- The handbook's assessment of scored rows (included by handbook_quality.sql and tune_quality.sql): ROC-AUC,
-- average precision and card precision@100 per algorithm on the assessment week. Expects temp tables
-- scores (transaction_id, algorithm, score) and results (algorithm, version, validation_pr_auc, seconds), table
-- fdh, and psql variables :train_start, :test_start, :test_end.
-- The handbook removes from each assessment day the cards already known as compromised: those with a
-- fraud in the training week, or in the days up to (assessment day - delay - 1).
CREATE TEMP TABLE assessment AS
SELECT f.transaction_id, f.customer_id, f.tx_datetime::date AS day, f.tx_fraud
  FROM fdh f
 WHERE f.tx_datetime >= :'test_start' AND f.tx_datetime < :'test_end'
   AND NOT EXISTS (
        SELECT FROM fdh k
         WHERE k.customer_id = f.customer_id AND k.tx_fraud = 1
           AND k.tx_datetime >= :'train_start'
           AND k.tx_datetime < f.tx_datetime::date - interval '7 days');

WITH scored AS (
    SELECT s.algorithm, a.*, s.score FROM assessment a JOIN scores s USING (transaction_id)),
ranked AS (
    SELECT algorithm, tx_fraud, row_number() OVER w AS k, sum(tx_fraud) OVER w AS tp,
           rank() OVER (PARTITION BY algorithm ORDER BY score) AS ascending_rank
      FROM scored WINDOW w AS (PARTITION BY algorithm ORDER BY score DESC ROWS UNBOUNDED PRECEDING)),
curves AS (
    SELECT algorithm, count(*) AS transactions, sum(tx_fraud) AS frauds,
           sum(tp::float8 / k) FILTER (WHERE tx_fraud = 1) / sum(tx_fraud) AS average_precision,
           (sum(ascending_rank) FILTER (WHERE tx_fraud = 1) - sum(tx_fraud) * (sum(tx_fraud) + 1) / 2.0)
               / (sum(tx_fraud) * (count(*) - sum(tx_fraud))) AS roc_auc
      FROM ranked GROUP BY algorithm),
cards AS (   -- per day and card: its highest score, and whether any of its transactions was fraud
    SELECT algorithm, day, customer_id, max(score) AS score, max(tx_fraud) AS fraud FROM scored GROUP BY 1, 2, 3),
card_precision AS (
    SELECT algorithm, avg(top_frauds / 100.0) AS card_precision_at_100
      FROM (SELECT algorithm, day, sum(fraud) AS top_frauds
              FROM (SELECT *, row_number() OVER (PARTITION BY algorithm, day ORDER BY score DESC, customer_id) AS r FROM cards) c
             WHERE r <= 100 GROUP BY algorithm, day) d
     GROUP BY algorithm)
SELECT r.algorithm, c.transactions, c.frauds, round(c.roc_auc::numeric, 3) AS roc_auc,
       round(c.average_precision::numeric, 3) AS average_precision, round(p.card_precision_at_100, 3) AS card_precision_at_100,
       round(r.validation_pr_auc::numeric, 3) AS validation_pr_auc, round(r.seconds::numeric, 2) AS train_seconds
  FROM results r JOIN curves c USING (algorithm) JOIN card_precision p USING (algorithm) ORDER BY r.algorithm;
