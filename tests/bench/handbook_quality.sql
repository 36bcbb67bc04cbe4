-- The Fraud Detection Handbook's protocol on ../shared/data, with dendrite's featurizer and models.
-- Expects table fdh (loaded by tests/bench/handbook_quality.sh) and psql variables :train_start,
-- :train_end, :test_start, :test_end (the assessment week starts one week after the training week ends).
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;

-- The handbook's features, declared: the customer's count and mean amount over 1/7/30 days, the terminal's
-- count and fraud rate over 1/7/30 days counted only from transactions at least 7 days old, the amount,
-- and, beyond the handbook, the customer's largest amount and the ratio of the amount to the customer's mean,
-- and time of day / weekend. Fitted on the training week; the weeks before only build history.
-- Every query orders by time and id: rows with equal times then come in one order, run after run.
-- History declarations come from psql variable :history (HISTORY in handbook_quality.sh); this is the default.
\if :{?history}
\else
\set history '[{"entity": "customer_id", "time": "tx_datetime", "value": "tx_amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean", "max", "ratio_to_mean"]}, {"entity": "terminal_id", "time": "tx_datetime", "label": "tx_fraud", "delay": "7 days", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_rate"]}]'
\endif
SELECT dendrite.create_featurizer('fdh', format('SELECT * FROM fdh WHERE tx_datetime < %L ORDER BY tx_datetime, transaction_id', :'train_end'),
    label => 'tx_fraud', since => :'train_start',
    columns => format('{"transaction_id": "ignore", "tx_time_seconds": "ignore", "tx_time_days": "ignore", "tx_amount": "%s"}', :'amount')::jsonb,
    history => :'history'::jsonb) AS featurizer_version;

\set training_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'train_end' ' ORDER BY tx_datetime, transaction_id'
DROP TABLE IF EXISTS results, scores, assessment, xgboost_scores;
SELECT dendrite.drop_model(name) FROM dendrite.models WHERE name IN ('fdh_lr', 'fdh_mlp');
CREATE TEMP TABLE results (algorithm text, version int, validation_pr_auc float8, seconds float8);
INSERT INTO results SELECT 'logistic_regression', version, pr_auc, seconds
  FROM dendrite.train('fdh_lr', :'training_query', 'tx_fraud', featurizer => 'fdh', since => :'train_start',
                      algorithm => 'logistic_regression', epochs => 20, learning_rate => 0.01, class_weight => 'none', seed => 1);
INSERT INTO results SELECT 'mlp', version, pr_auc, seconds
  FROM dendrite.train('fdh_mlp', :'training_query', 'tx_fraud', featurizer => 'fdh', since => :'train_start',
                      hidden => :'hidden', epochs => :epochs, learning_rate => :learning_rate, batch_size => :batch_size,
                      class_weight => :'class_weight', validation_fraction => :validation_fraction, seed => :seed);

-- Score the assessment week in one ordered pass (history from every earlier row).
\set assessment_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'test_end' ' ORDER BY tx_datetime, transaction_id'
CREATE TEMP TABLE scores AS
SELECT s.key::bigint AS transaction_id, m.algorithm, s.score
  FROM (VALUES ('logistic_regression', 'fdh_lr'), ('mlp', 'fdh_mlp')) AS m(algorithm, model),
       LATERAL dendrite.score_query(m.model, :'assessment_query', key => 'transaction_id', since => :'test_start') s;

-- dendrite.compare: logistic regression, the MLP, gbdt (libxgboost, trees scored by dendrite) and their blend on
-- the same featurizer and split; each version scored on the assessment week. The leaderboard's
-- own metrics are on its validation rows (the training rows when validation_fraction is 0).
-- gbdt's settings come from psql variable :compare_options (tests/bench/handbook_quality.sh passes
-- COMPARE_OPTIONS); callers that do not set it (tests/e2e/shared_data.sh) get gbdt's own defaults, what
-- compare() gives a user (until 0.6.0's depth-4 defaults this script set depth 6, eta 0.05, subsample and
-- colsample_bytree 0.8: ~0.002 AP behind the new defaults over four one-week splits, docs/benchmarks.md).
\if :{?compare_options}
\else
\set compare_options '{}'
\endif
SELECT dendrite.drop_model(name) FROM dendrite.models WHERE name = 'fdh_cmp';
CREATE TEMP TABLE leaderboard AS
SELECT * FROM dendrite.compare('fdh_cmp', :'training_query', 'tx_fraud', featurizer => 'fdh', since => :'train_start',
                               epochs => :epochs, batch_size => :batch_size, class_weight => :'class_weight',
                               validation_fraction => :validation_fraction, seed => :seed,
                               options => :'compare_options');
SELECT algorithm, version, round(pr_auc::numeric, 3) AS pr_auc, round(roc_auc::numeric, 3) AS roc_auc,
       round(recall_at_precision_90::numeric, 3) AS recall_at_p90, round(train_seconds::numeric, 2) AS train_seconds,
       round(score_us_per_row::numeric, 2) AS score_us_per_row
  FROM leaderboard ORDER BY pr_auc DESC;
-- Every candidate (logistic regression, the MLP, gbdt, the blend) scored on the assessment week, by version.
INSERT INTO scores SELECT s.key::bigint, 'compare: ' || l.algorithm, s.score
  FROM leaderboard l,
       LATERAL dendrite.score_query('fdh_cmp', :'assessment_query', key => 'transaction_id', since => :'test_start',
                                    version => l.version) s;
INSERT INTO results SELECT 'compare: ' || algorithm, version, pr_auc, train_seconds FROM leaderboard;

-- The peer: xgboost on the same feature vectors (when psql variable xgboost is 1).
\set peer_featurizer fdh
\set peer_since :train_start
\ir handbook_xgboost.sql

\ir handbook_metrics.sql
