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

-- Semi-supervised (issue #30 item 3): the same supervised model with and without the autoencoder's score as a
-- feature. Both featurizers declare the handbook's features (customer amounts, terminal counts and fraud rate
-- with a 7-day label delay) on the training week; the second adds anomaly => fdh_autoencoder, whose history
-- declarations it keeps in its own state. Models as README recommends: gbdt (compare's winner) and the MLP
-- with train's defaults.
\set supervised_history '[{"entity": "customer_id", "time": "tx_datetime", "value": "tx_amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean", "max", "ratio_to_mean"]}, {"entity": "terminal_id", "time": "tx_datetime", "label": "tx_fraud", "delay": "7 days", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_rate"]}]'
\set supervised_columns '{"transaction_id": "ignore", "tx_time_seconds": "ignore", "tx_time_days": "ignore"}'
SELECT dendrite.create_featurizer('fdh_supervised', :'training_query', label => 'tx_fraud', since => :'train_start',
    columns => :'supervised_columns', history => :'supervised_history') AS supervised_featurizer;
SELECT dendrite.create_featurizer('fdh_semi', :'training_query', label => 'tx_fraud', since => :'train_start',
    columns => :'supervised_columns', history => :'supervised_history',
    anomaly => '{"model": "fdh_autoencoder"}') AS semi_featurizer;
\set gbdt_options '{"rounds": 300, "max_depth": 6, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8, "max_bin": 1024}'
INSERT INTO results SELECT 'supervised gbdt', version, pr_auc, seconds
  FROM dendrite.train('fdh_gbdt', :'training_query', 'tx_fraud', algorithm => 'gbdt', featurizer => 'fdh_supervised',
                      since => :'train_start', options => :'gbdt_options', seed => :seed);
INSERT INTO results SELECT 'supervised gbdt + anomaly feature', version, pr_auc, seconds
  FROM dendrite.train('fdh_gbdt_semi', :'training_query', 'tx_fraud', algorithm => 'gbdt', featurizer => 'fdh_semi',
                      since => :'train_start', options => :'gbdt_options', seed => :seed);
INSERT INTO results SELECT 'supervised mlp', version, pr_auc, seconds
  FROM dendrite.train('fdh_mlp', :'training_query', 'tx_fraud', featurizer => 'fdh_supervised',
                      since => :'train_start', seed => :seed);
INSERT INTO results SELECT 'supervised mlp + anomaly feature', version, pr_auc, seconds
  FROM dendrite.train('fdh_mlp_semi', :'training_query', 'tx_fraud', featurizer => 'fdh_semi',
                      since => :'train_start', seed => :seed);
-- Few labels, what the feature is for: the same models trained on the labelled rows of the week's last day
-- only (the featurizers and the autoencoder as above: the autoencoder learned from the whole week unlabelled).
SELECT (:'train_end'::date - 1)::text AS few_since \gset
INSERT INTO results SELECT 'one labelled day: gbdt', version, pr_auc, seconds
  FROM dendrite.train('fdh_gbdt_few', :'training_query', 'tx_fraud', algorithm => 'gbdt', featurizer => 'fdh_supervised',
                      since => :'few_since', options => :'gbdt_options', seed => :seed);
INSERT INTO results SELECT 'one labelled day: gbdt + anomaly feature', version, pr_auc, seconds
  FROM dendrite.train('fdh_gbdt_few_semi', :'training_query', 'tx_fraud', algorithm => 'gbdt', featurizer => 'fdh_semi',
                      since => :'few_since', options => :'gbdt_options', seed => :seed);
INSERT INTO results SELECT 'one labelled day: mlp', version, pr_auc, seconds
  FROM dendrite.train('fdh_mlp_few', :'training_query', 'tx_fraud', featurizer => 'fdh_supervised',
                      since => :'few_since', seed => :seed);
INSERT INTO results SELECT 'one labelled day: mlp + anomaly feature', version, pr_auc, seconds
  FROM dendrite.train('fdh_mlp_few_semi', :'training_query', 'tx_fraud', featurizer => 'fdh_semi',
                      since => :'few_since', seed => :seed);
INSERT INTO scores SELECT s.key::bigint, m.algorithm, s.score
  FROM (VALUES ('supervised gbdt', 'fdh_gbdt'), ('supervised gbdt + anomaly feature', 'fdh_gbdt_semi'),
               ('supervised mlp', 'fdh_mlp'), ('supervised mlp + anomaly feature', 'fdh_mlp_semi'),
               ('one labelled day: gbdt', 'fdh_gbdt_few'), ('one labelled day: gbdt + anomaly feature', 'fdh_gbdt_few_semi'),
               ('one labelled day: mlp', 'fdh_mlp_few'), ('one labelled day: mlp + anomaly feature', 'fdh_mlp_few_semi'))
         AS m(algorithm, model),
       LATERAL dendrite.score_query(m.model, :'assessment_query', key => 'transaction_id', since => :'test_start') s;
-- What the feature costs a scoring pass over the assessment week (history from every earlier row): each model
-- timed three times, interleaved; medians, and the ratio to the same model without the feature.
CREATE FUNCTION pg_temp.scoring_seconds(model text, query text, since timestamp) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE started timestamptz := clock_timestamp();
BEGIN
    PERFORM count(*) FROM dendrite.score_query(model, query, key => 'transaction_id', since => since);
    RETURN extract(epoch FROM clock_timestamp() - started);
END $$;
CREATE TEMP TABLE scoring_times AS
SELECT m.model, r.round, pg_temp.scoring_seconds(m.model, :'assessment_query', :'test_start') AS seconds
  FROM generate_series(1, 3) r(round),
       LATERAL (VALUES (1, 'fdh_gbdt'), (2, 'fdh_gbdt_semi'), (3, 'fdh_mlp'), (4, 'fdh_mlp_semi')) m(position, model)
 ORDER BY r.round, m.position;
WITH medians AS (
    SELECT model, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS seconds FROM scoring_times GROUP BY model)
SELECT m.model, round(m.seconds::numeric, 2) AS median_seconds,
       round((m.seconds / b.seconds)::numeric, 2) AS x_without_the_feature
  FROM medians m JOIN medians b ON b.model = replace(m.model, '_semi', '') ORDER BY m.model;

-- How much the trees lean on the feature: mean |contribution| over the assessment week's rows (their history
-- from that week alone: an indication, not the assessment).
SELECT feature, round(mean_abs_contribution::numeric, 4) AS mean_abs_contribution
  FROM dendrite.feature_importance('fdh_gbdt_semi',
         format('SELECT * FROM fdh WHERE tx_datetime >= %L AND tx_datetime < %L ORDER BY tx_datetime, transaction_id', :'test_start', :'test_end'))
 ORDER BY mean_abs_contribution DESC LIMIT 8;

\ir handbook_metrics.sql
