-- dendrite.tune against train()'s defaults (tests/bench/tune_quality.sh): the same rows, featurizer and seed;
-- psql variables :train_start, :train_end, :test_start, :test_end, :window_start, :algorithm, :folds,
-- :trials, :seed, :xgboost (and :search, else tune's own search space).
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS results, scores, assessment, trials;
SELECT dendrite.drop_model(name) FROM dendrite.models WHERE name IN ('fdh_default', 'fdh_tuned', 'fdh_gbdt', 'fdh_blend');
SELECT dendrite.drop_featurizer('fdh_tune') FROM (SELECT DISTINCT name FROM dendrite.featurizers WHERE name = 'fdh_tune') f;

-- The handbook's featurizer (as handbook_quality.sql's default), fitted on the training week.
SELECT dendrite.create_featurizer('fdh_tune', format('SELECT * FROM fdh WHERE tx_datetime < %L ORDER BY tx_datetime, transaction_id', :'train_end'),
    label => 'tx_fraud', since => :'train_start',
    columns => '{"transaction_id": "ignore", "tx_time_seconds": "ignore", "tx_time_days": "ignore", "tx_amount": "log1p"}',
    history => '[{"entity": "customer_id", "time": "tx_datetime", "value": "tx_amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean", "max", "ratio_to_mean"]}, {"entity": "terminal_id", "time": "tx_datetime", "label": "tx_fraud", "delay": "7 days", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_rate"]}]') AS featurizer_version;
\set training_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'train_end' ' ORDER BY tx_datetime, transaction_id'

CREATE TEMP TABLE results (algorithm text, version int, validation_pr_auc float8, seconds float8);
INSERT INTO results SELECT :'algorithm' || ': train defaults', version, pr_auc, seconds
  FROM dendrite.train('fdh_default', :'training_query', 'tx_fraud', algorithm => :'algorithm', featurizer => 'fdh_tune',
                      since => :'window_start', seed => :seed);
INSERT INTO results SELECT 'gbdt: train defaults (reference)', version, pr_auc, seconds
  FROM dendrite.train('fdh_gbdt', :'training_query', 'tx_fraud', algorithm => 'gbdt', featurizer => 'fdh_tune',
                      since => :'window_start', seed => :seed);
-- A blend of the two defaults (an mlp and gbdt on the same rows, their logits averaged): the product's own.
INSERT INTO results SELECT 'blend: train defaults (reference)', version, pr_auc, seconds
  FROM dendrite.train('fdh_blend', :'training_query', 'tx_fraud', algorithm => 'blend', featurizer => 'fdh_tune',
                      since => :'window_start', seed => :seed);
\if :{?search}
\else
\set search ''
\endif
CREATE TEMP TABLE trials AS
SELECT * FROM dendrite.tune('fdh_tuned', :'training_query', 'tx_fraud', algorithm => :'algorithm',
                            search => nullif(:'search', '')::jsonb, folds => :folds, trials => :trials,
                            featurizer => 'fdh_tune', since => :'window_start', fold_length => '7 days', seed => :seed);
SELECT trial, settings, rung, fold_pr_auc::numeric(5,3)[] AS fold_pr_auc, round(mean_pr_auc::numeric, 3) AS mean_pr_auc,
       round(seconds::numeric, 1) AS seconds, best
  FROM trials ORDER BY mean_pr_auc DESC NULLS LAST, trial;
INSERT INTO results SELECT :'algorithm' || ': tuned', version, mean_pr_auc, (SELECT sum(seconds) FROM trials)
  FROM trials WHERE best;

\set assessment_query 'SELECT * FROM fdh WHERE tx_datetime < ' :'test_end' ' ORDER BY tx_datetime, transaction_id'
-- The peer (XGBOOST=1): python3-xgboost on the same feature vectors of the same training weeks.
\set peer_featurizer fdh_tune
\set peer_since :window_start
DROP TABLE IF EXISTS xgboost_scores;
CREATE TEMP TABLE scores AS
SELECT s.key::bigint AS transaction_id, m.algorithm, s.score
  FROM (VALUES (:'algorithm' || ': train defaults', 'fdh_default'), (:'algorithm' || ': tuned', 'fdh_tuned'),
               ('gbdt: train defaults (reference)', 'fdh_gbdt'),
               ('blend: train defaults (reference)', 'fdh_blend')) AS m(algorithm, model),
       LATERAL dendrite.score_query(m.model, :'assessment_query', key => 'transaction_id', since => :'test_start') s;
\ir handbook_xgboost.sql
\ir handbook_metrics.sql
