-- dendrite.generate_transactions: the demo's realistic card transactions.
-- The default population (2000 customers, 4000 terminals) over 30 days: ~120k rows, close to 1 % fraud.
SELECT count(*) > 100000 AS enough, avg(is_fraud::int) BETWEEN 0.004 AND 0.02 AS fraud_near_one_percent,
       count(DISTINCT customer_id) <= 2000 AS customers, count(DISTINCT terminal_id) <= 4000 AS terminals,
       min(tx_time) >= '2026-01-05' AND max(tx_time) < '2026-02-04' AS within_days,
       bool_and(amount > 0) AS positive_amounts, bool_and(online = (ip IS NOT NULL)) AS ip_when_online,
       count(DISTINCT fraud_scenario) AS scenarios
  FROM dendrite.generate_transactions(days => 30);

-- Time order, ids 0..n-1, and the same seed gives the same rows.
SELECT bool_and(transaction_id = rn - 1) AS sequential_ids
  FROM (SELECT transaction_id, row_number() OVER (ORDER BY tx_time, transaction_id) AS rn
          FROM dendrite.generate_transactions(100, 200, 5, 1)) t;
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM dendrite.generate_transactions(100, 200, 5, 1) t) =
       (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM dendrite.generate_transactions(100, 200, 5, 1) t) AS same,
       (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM dendrite.generate_transactions(100, 200, 5, 1) t) =
       (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM dendrite.generate_transactions(100, 200, 5, 2) t) AS same_for_other_seed;

-- Daily and weekly rhythm: more transactions at midday than at 4 am, fewer on Sundays than on Fridays.
SELECT sum((extract(hour FROM tx_time) = 12)::int) > 5 * sum((extract(hour FROM tx_time) = 4)::int) AS midday_peak,
       sum((extract(isodow FROM tx_time) = 5)::int) > sum((extract(isodow FROM tx_time) = 7)::int) AS friday_over_sunday
  FROM dendrite.generate_transactions(300, 600, 28);

-- A fraud pattern from a given day (card testing, scenario 4): the days before are the same rows as without
-- it; from that day, bursts of tiny online payments at digital-goods merchants abroad.
WITH plain AS (SELECT * FROM dendrite.generate_transactions(1000, 1000, 10, 7)),
     tested AS (SELECT * FROM dendrite.generate_transactions(1000, 1000, 10, 7, card_testing_from => '2026-01-08 15:00'))
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM plain t WHERE tx_time < '2026-01-08') =
       (SELECT md5(string_agg(t::text, ',' ORDER BY transaction_id)) FROM tested t WHERE tx_time < '2026-01-08') AS same_before,
       (SELECT count(*) FROM plain WHERE fraud_scenario = 4) AS testing_without,
       (SELECT count(*) > 0 FROM tested WHERE fraud_scenario = 4) AS testing_with,
       (SELECT min(tx_time) >= '2026-01-08' AND bool_and(is_fraud AND online AND amount BETWEEN 0.5 AND 3
                                                         AND merchant_category = 'digital_goods' AND country <> 'NL')
          FROM tested WHERE fraud_scenario = 4) AS as_described;

-- The columns.
SELECT * FROM dendrite.generate_transactions(2, 10, 1, 3) LIMIT 0;

-- Bad arguments.
SELECT count(*) FROM dendrite.generate_transactions(days => 0);
SELECT count(*) FROM dendrite.generate_transactions(customers => -1);
SELECT count(*) FROM dendrite.generate_transactions(start_time => 'infinity');
SELECT count(*) FROM dendrite.generate_transactions(customers => NULL);
