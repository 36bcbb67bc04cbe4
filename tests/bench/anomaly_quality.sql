-- The autoencoder against IsolationForest (tests/bench/anomaly_quality.sh): psql variables :train_start,
-- :train_end, :test_start, :test_end, :hidden, :epochs, :seed.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS results, scores, assessment, forest_scores;
-- No label-derived feature: the terminal's fraud rate would let labels in through the features.
SELECT dendrite.create_featurizer('fdh_unlabelled', format('SELECT * FROM fdh WHERE tx_datetime < %L ORDER BY tx_datetime, transaction_id', :'train_end'),
    since => :'train_start',
    columns => '{"transaction_id": "ignore", "tx_time_seconds": "ignore", "tx_time_days": "ignore", "tx_fraud": "ignore",
                 "customer_id": "ignore", "terminal_id": "ignore", "tx_amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_datetime", "value": "tx_amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean", "max", "ratio_to_mean"]}, {"entity": "terminal_id", "time": "tx_datetime", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count"]}]') AS featurizer_version;
\set training_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'train_end' ' ORDER BY tx_datetime, transaction_id'
\set assessment_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'test_end' ' ORDER BY tx_datetime, transaction_id'

CREATE TEMP TABLE results (algorithm text, version int, validation_pr_auc float8, seconds float8);
INSERT INTO results SELECT 'dendrite autoencoder (no labels)', version, NULL, seconds
  FROM dendrite.train('fdh_autoencoder', :'training_query', NULL, algorithm => 'autoencoder', hidden => nullif(:'hidden', '')::int[],
                      epochs => :epochs, featurizer => 'fdh_unlabelled', since => :'train_start', seed => :seed);
CREATE TEMP TABLE scores AS
SELECT s.key::bigint AS transaction_id, 'dendrite autoencoder (no labels)'::text AS algorithm, s.score
  FROM dendrite.score_query('fdh_autoencoder', :'assessment_query', key => 'transaction_id', since => :'test_start') s;

-- The peer on the same feature vectors of the same rows (labels exported for nothing but the file format).
COPY (SELECT f.key, f.features, 0 FROM dendrite.featurize('fdh_unlabelled', :'training_query', key => 'transaction_id', since => :'train_start') f)
  TO '/tmp/dendrite_anomaly_train.csv' CSV;
COPY (SELECT f.key, f.features, 0 FROM dendrite.featurize('fdh_unlabelled', :'assessment_query', key => 'transaction_id', since => :'test_start') f)
  TO '/tmp/dendrite_anomaly_test.csv' CSV;
\! /usr/bin/python3 tests/bench/anomaly_isolation_forest.py /tmp/dendrite_anomaly_train.csv /tmp/dendrite_anomaly_test.csv /tmp/dendrite_anomaly_forest.csv
CREATE TEMP TABLE forest_scores (transaction_id bigint, score float8);
COPY forest_scores FROM '/tmp/dendrite_anomaly_forest.csv' CSV;
INSERT INTO scores SELECT transaction_id, 'IsolationForest (python3-sklearn)', score FROM forest_scores;
INSERT INTO results VALUES ('IsolationForest (python3-sklearn)', NULL, NULL, NULL);
\ir handbook_metrics.sql
