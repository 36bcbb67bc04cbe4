-- A raw card-data table in the shape of the public card-fraud simulators (issue #24's quality bar): card
-- holders with a home, a date of birth, names and a street; per transaction a merchant with its own
-- coordinates and category, the amount, the time and the label. Deterministic (setseed). psql variables:
-- cards (default 2000), days (60). Fraud: compromised cards (older holders more often) see a burst of
-- payments over two days, mostly at night, half of them far from home, online or grocery, small test amounts
-- or larger ones; the rest is card holders' ordinary spending near home. No single column gives fraud away.
\if :{?cards} \else \set cards 2000 \endif
\if :{?days} \else \set days 60 \endif
SELECT setseed(0.24);
CREATE TABLE holders AS
SELECT c, 4000000000000000 + c::bigint * 7919 AS cc_num,
       (ARRAY['Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Frank', 'Grace', 'Henry', 'Iris', 'Jack'])[1 + (random() * 9)::int] AS first,
       (ARRAY['Smith', 'Jones', 'Brown', 'Lee', 'Garcia', 'Martin', 'Wilson', 'Moore'])[1 + (random() * 7)::int] || (c % 97) AS last,
       (100 + (random() * 9000)::int) || ' ' || (ARRAY['Main', 'Oak', 'Pine', 'Maple', 'Cedar', 'Elm'])[1 + (random() * 5)::int]
         || ' ' || (ARRAY['Street', 'Avenue', 'Road', 'Lane'])[1 + (random() * 3)::int] AS street,
       10000 + (random() * 89999)::int AS zip,
       40 + random() * 8 AS lat, -5 + random() * 12 AS long,
       date '1940-01-01' + (random() * 24000)::int AS dob
  FROM generate_series(1, :cards) c;
-- Compromised cards: 5 %, 15 % of holders born before 1955; the burst starts on a random day after day 5.
CREATE TABLE compromised AS
SELECT c, timestamptz '2026-01-01 00:00+00' + (5 + random() * (:days - 7)) * interval '1 day' AS since
  FROM holders WHERE random() < CASE WHEN dob < date '1955-01-01' THEN 0.15 ELSE 0.05 END;
CREATE TABLE raw_cards AS
WITH legit AS (
    SELECT h.*, timestamptz '2026-01-01 00:00+00' + random() * :days * interval '1 day'
                  + ((7 + random() * 15) - 12) * interval '1 hour' * (random() < 0.9)::int AS tx_time,
           (ARRAY['grocery_pos', 'gas_transport', 'home', 'shopping_pos', 'kids_pets', 'entertainment', 'food_dining',
                  'personal_care', 'health_fitness', 'travel', 'misc_pos', 'shopping_net', 'misc_net', 'grocery_net'])
             [1 + (random() * 13)::int] AS category,
           round(exp(3.0 + (random() + random() + random() - 1.5) * 1.6)::numeric, 2) AS amount,
           h.lat + (random() - 0.5) * 1.6 AS merch_lat, h.long + (random() - 0.5) * 1.6 AS merch_long, false AS is_fraud
      FROM holders h, generate_series(1, 30 + (h.c % 40)) k
), fraud AS (
    SELECT h.*, p.since + random() * interval '2 days' AS tx_time,
           (ARRAY['shopping_net', 'misc_net', 'grocery_pos'])[1 + (random() * 2)::int] AS category,
           round(CASE WHEN random() < 0.35 THEN 1 + random() * 30 ELSE exp(4.2 + (random() + random() - 1) * 1.6) END::numeric, 2)
             AS amount,
           h.lat + (random() - 0.5) * CASE WHEN random() < 0.5 THEN 8 ELSE 1.6 END AS merch_lat,
           h.long + (random() - 0.5) * CASE WHEN random() < 0.5 THEN 8 ELSE 1.6 END AS merch_long, true AS is_fraud
      FROM compromised p JOIN holders h USING (c), generate_series(1, 4 + (p.c % 7)) k
)
SELECT row_number() OVER (ORDER BY tx_time) - 1 AS row_index, md5(random()::text) AS trans_num, tx_time, cc_num,
       'merchant_' || (abs(hashtext(category)) % 50 + (random() * 700)::int) AS merchant, category, amount,
       first, last, street, 'City' || (zip % 300) AS city, zip, lat, long, dob, merch_lat, merch_long, is_fraud
  FROM (SELECT * FROM legit UNION ALL SELECT * FROM fraud) t;
-- Night-time fraud: most bursts happen between 22:00 and 04:00.
UPDATE raw_cards SET tx_time = date_trunc('day', tx_time) + interval '22 hours' + random() * interval '6 hours'
 WHERE is_fraud AND random() < 0.6;
ANALYZE raw_cards;
SELECT count(*) AS rows, sum(is_fraud::int) AS frauds, round(avg(is_fraud::int) * 100, 2) AS fraud_percent FROM raw_cards;
