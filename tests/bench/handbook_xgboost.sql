-- The peer of handbook_quality.sql and tune_quality.sql when psql variable xgboost is 1: Debian's
-- python3-xgboost (tests/bench/handbook_xgboost.py) trained on the feature vectors of :peer_featurizer for the
-- rows of :training_query at or after :peer_since, scored on the assessment week's; its scores join table scores.
\if :xgboost
COPY (SELECT f.key, f.features, x.tx_fraud FROM dendrite.featurize(:'peer_featurizer', :'training_query', key => 'transaction_id', since => :'peer_since') f
        JOIN fdh x ON x.transaction_id = f.key::bigint) TO '/tmp/dendrite_handbook_train.csv' CSV;
COPY (SELECT f.key, f.features, x.tx_fraud
        FROM dendrite.featurize(:'peer_featurizer', format('SELECT * FROM fdh WHERE tx_datetime < %L ORDER BY tx_datetime, transaction_id', :'test_end'), key => 'transaction_id', since => :'test_start') f
        JOIN fdh x ON x.transaction_id = f.key::bigint) TO '/tmp/dendrite_handbook_test.csv' CSV;
\! /usr/bin/python3 tests/bench/handbook_xgboost.py /tmp/dendrite_handbook_train.csv /tmp/dendrite_handbook_test.csv /tmp/dendrite_handbook_xgboost.csv
CREATE TEMP TABLE xgboost_scores (transaction_id bigint, score float8);
COPY xgboost_scores FROM '/tmp/dendrite_handbook_xgboost.csv' CSV;
INSERT INTO scores SELECT transaction_id, 'xgboost (python3-xgboost)', score FROM xgboost_scores;
INSERT INTO results VALUES ('xgboost (python3-xgboost)', NULL, NULL, NULL);
\endif
