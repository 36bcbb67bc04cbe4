#!/usr/bin/env bash
# Featurizer speed through SQL, on a throw-away cluster (needs `make install`): 200k generated rows,
# ~10 raw columns with 6 history features. Prints per-row microseconds and the ratio to a plain scan of
# the same rows measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster.sh
trap cluster_stop EXIT
cluster_start
psql -X -q <<'SQL'
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION dendrite;
CREATE TABLE t AS SELECT * FROM dendrite.generate_transactions(days => 50);
VACUUM ANALYZE t;
SELECT dendrite.create_featurizer('fz', 'SELECT * FROM t', label => 'is_fraud', history_query => 'SELECT * FROM t',
    columns => '{"transaction_id": "ignore", "fraud_scenario": "ignore", "amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_time", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]}]') IS NOT NULL AS fitted;
SELECT count(dendrite.features('fz', t)) AS warm_up FROM t LIMIT 1;  -- builds the inline history state once

CREATE TEMP TABLE timings (what text, seconds float8);
DO $$
DECLARE
    started timestamptz;
    rows bigint := (SELECT count(*) FROM t);
BEGIN
    FOR i IN 1..3 LOOP
        started := clock_timestamp();
        PERFORM count(*) FROM (SELECT t FROM t) s;
        INSERT INTO timings VALUES ('baseline: SELECT t FROM t', extract(epoch FROM clock_timestamp() - started));
        started := clock_timestamp();
        PERFORM count(*) FROM dendrite.featurize('fz', 'SELECT * FROM t');
        INSERT INTO timings VALUES ('batch: dendrite.featurize over the table', extract(epoch FROM clock_timestamp() - started));
        started := clock_timestamp();
        PERFORM count(dendrite.features('fz', t)) FROM t;
        INSERT INTO timings VALUES ('inline: dendrite.features(row) per row', extract(epoch FROM clock_timestamp() - started));
        started := clock_timestamp();
        PERFORM count(dendrite.features('fz', t)), count(dendrite.observe('fz', t)::text) FROM t;
        INSERT INTO timings VALUES ('inline: features + observe (state update) per row', extract(epoch FROM clock_timestamp() - started));
    END LOOP;
    CREATE TEMP TABLE row_count AS SELECT rows AS n;
END
$$;
WITH best AS (SELECT what, min(seconds) AS seconds FROM timings GROUP BY what),
     base AS (SELECT seconds FROM best WHERE what LIKE 'baseline%')
SELECT what, round((b.seconds * 1e6 / (SELECT n FROM row_count))::numeric, 3) AS us_per_row,
       round(((b.seconds - base.seconds) * 1e6 / (SELECT n FROM row_count))::numeric, 3) AS us_per_row_over_scan,
       round((b.seconds / base.seconds)::numeric, 1) AS ratio_to_scan
  FROM best b, base ORDER BY b.seconds;
SQL
