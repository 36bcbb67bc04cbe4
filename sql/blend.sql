-- A blend: algorithm => 'blend' trains an mlp and gbdt on the same rows (each as it would be trained alone)
-- and scores the sigmoid of network_weight * the network's logit + (1 - network_weight) * the trees' margin.
-- Its rows are both kinds: the network's tensors in dendrite.parameters, the trees in dendrite.trees.
SET client_min_messages = warning;

CREATE TABLE blend_payments AS
SELECT i AS id, timestamp '2026-03-01' + i * interval '13 minutes' AS at, 'card' || (i % 60) AS card,
       (ARRAY['grocery', 'fuel', 'travel', 'online', 'jewellery'])[1 + i % 5] AS merchant,
       round(((i * 7919) % 400) / 2.0, 2) AS amount, i % 4 = 0 AS card_present,
       ((i * 7919) % 400 > 330 AND i % 5 >= 3 AND (i * 31) % 10 < 7) OR (i * 13) % 97 = 0 AS fraud
  FROM generate_series(1, 3000) i;
SELECT dendrite.create_featurizer('blend_f', 'SELECT * FROM blend_payments', label => 'fraud',
    columns => '{"id": "ignore", "at": "ignore", "card": "ignore"}',
    history => '[{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["count", "mean"]}]')
    AS version;

-- The blend and its two members trained alone, with the same settings and seed (so the same split).
SELECT version, epochs, best_epoch, pr_auc > 0.5 AS learned
  FROM dendrite.train('blended', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f', algorithm => 'blend',
                      hidden => '{8}', epochs => 4, options => '{"rounds": 30, "max_depth": 4}', seed => 5);
SELECT version FROM dendrite.train('blend_alone_mlp', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                                   hidden => '{8}', epochs => 4, seed => 5);
SELECT version FROM dendrite.train('blend_alone_gbdt', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                                   algorithm => 'gbdt', options => '{"rounds": 30, "max_depth": 4}', seed => 5);

-- Both kinds of rows, and a configuration that is the network's with the trees' keys and the weight.
SELECT v.algorithm, v.configuration->'layers' AS layers, v.configuration->'trees' AS trees,
       v.configuration->'network_weight' AS network_weight, jsonb_typeof(v.configuration->'base_margin') AS margin,
       (SELECT count(*) FROM dendrite.parameters p WHERE p.version_id = v.version_id) AS tensors,
       (SELECT count(*) FROM dendrite.trees t WHERE t.version_id = v.version_id) AS tree_rows,
       v.hyperparameters->>'network_weight' AS stored_weight, v.hyperparameters->>'rounds' AS stored_rounds,
       v.hyperparameters->'hidden' AS stored_hidden
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'blended';

-- Epochs: the network's 4, then the trees' evaluated rounds (numbered on), then the blend's own (the kept one).
SELECT count(*) AS rows, max(epoch) AS last, bool_and(pr_auc IS NOT NULL) AS measured
  FROM dendrite.epochs e JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'blended';
-- The report draws the stages apart (the version's metrics say where they part): the network's epochs 1-4,
-- the trees' validation loss per round 1-30 (not 5-34, as they are stored), and the blend's own row only as
-- the metrics table.
SELECT (v.metrics->>'network_epochs')::int AS network_epochs
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'blended';
SELECT dendrite.report('blended') AS html \gset
SELECT m[1] AS chart FROM regexp_matches(:'html', 'aria-label="([^"]*)"', 'g') m;
SELECT (SELECT array_agg(m[1]) FROM regexp_matches(substring(:'html' from 'aria-label="Loss per epoch \(the network\)".*?</svg>'),
                                                   'y="264" text-anchor="middle" class="tick">([^<]*)<', 'g') m) AS epoch_ticks,
       (SELECT array_agg(m[1]) FROM regexp_matches(substring(:'html' from 'aria-label="Validation loss per round \(the trees\)".*?</svg>'),
                                                   'y="264" text-anchor="middle" class="tick">([^<]*)<', 'g') m) AS round_ticks,
       (SELECT count(*) FROM regexp_matches(substring(:'html' from 'aria-label="Validation loss per round \(the trees\)".*?</svg>'),
                                            '<polyline ', 'g')) AS round_lines;
-- The members are the models trained alone: the blend's score is the formula over their scores (with the
-- stored weight, 0.3 by default), on every row.
SELECT (v.configuration->>'network_weight')::float8 AS w
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'blended' \gset
CREATE TEMP TABLE member_scores AS
SELECT p.id, dendrite.score('blended', p)::float8 AS blend, dendrite.score('blend_alone_mlp', p)::float8 AS mlp,
       dendrite.score('blend_alone_gbdt', p)::float8 AS gbdt
  FROM blend_payments p WHERE p.id % 7 = 0;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(blend - 1 / (1 + exp(-(:w * ln(mlp / (1 - mlp)) + (1 - :w) * ln(gbdt / (1 - gbdt))))))
                              < 1e-5) AS as_the_formula
  FROM member_scores;
-- Offline scoring (score_query, history computed in time order) follows the same formula.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(b.score - 1 / (1 + exp(-(:w * ln(m.score / (1 - m.score)) +
                                                           (1 - :w) * ln(g.score / (1 - g.score)))))) < 1e-5) AS as_the_formula
  FROM dendrite.score_query('blended', 'SELECT * FROM blend_payments WHERE id <= 500', 'id') b
  JOIN dendrite.score_query('blend_alone_mlp', 'SELECT * FROM blend_payments WHERE id <= 500', 'id') m USING (key)
  JOIN dendrite.score_query('blend_alone_gbdt', 'SELECT * FROM blend_payments WHERE id <= 500', 'id') g USING (key);
SELECT rows, positives, pr_auc > 0.5 AS learned FROM dendrite.evaluate('blended', 'SELECT * FROM blend_payments');

-- network_weight 1 is the network alone, 0 the trees alone.
SELECT version FROM dendrite.train('blend_all_network', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                                   algorithm => 'blend', hidden => '{8}', epochs => 4, seed => 5,
                                   options => '{"rounds": 30, "max_depth": 4, "network_weight": 1}');
SELECT version FROM dendrite.train('blend_all_trees', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                                   algorithm => 'blend', hidden => '{8}', epochs => 4, seed => 5,
                                   options => '{"rounds": 30, "max_depth": 4, "network_weight": 0}');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(dendrite.score('blend_all_network', p) - s.mlp) < 1e-6) AS network_alone,
       count(*) FILTER (WHERE abs(dendrite.score('blend_all_trees', p) - s.gbdt) < 1e-6) AS trees_alone
  FROM blend_payments p JOIN member_scores s USING (id);

-- Explanations: the network's integrated gradients and the trees' TreeSHAP, weighted; they add up to the logit
-- up to a constant (the blend's logit at the baseline), so between two rows their sums differ as the logits do.
CREATE TEMP TABLE blend_sums AS
SELECT p.id, ln(s / (1 - s)) AS logit, (SELECT sum(contribution) FROM dendrite.explain('blended', p, 100)) AS total
  FROM blend_payments p, LATERAL (SELECT dendrite.score('blended', p)::float8 AS s) score
 WHERE p.id IN (3, 8, 1500, 2222, 2999);
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE abs((a.total - b.total) - (a.logit - b.logit)) < 1e-3) AS consistent
  FROM blend_sums a JOIN blend_sums b ON a.id < b.id;
SELECT count(*) AS inputs FROM blend_payments p, dendrite.explain('blended', p, 100) WHERE p.id = 1500;
SELECT count(*) AS inputs, bool_and(rows > 0) AS measured FROM dendrite.validation_importance i
  JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id) WHERE m.name = 'blended';
SELECT count(*) AS inputs FROM dendrite.feature_importance('blended', 'SELECT * FROM blend_payments WHERE id <= 300');

-- A guard scores with the blend like with any version, and a rejection says why.
CREATE TABLE blend_inbox (LIKE blend_payments);
CREATE TRIGGER blend_guard BEFORE INSERT ON blend_inbox FOR EACH ROW
    EXECUTE FUNCTION dendrite.guard('blended', 'reject', '0.5');
\set VERBOSITY default
\set SHOW_CONTEXT never
INSERT INTO blend_inbox SELECT * FROM blend_payments p ORDER BY dendrite.score('blended', p) DESC, id LIMIT 1;
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT count(*) AS written FROM blend_inbox;

-- Retraining reuses every setting of both members and the weight; compare() knows the blend.
SELECT challenger_version FROM dendrite.retrain('blended', promote => 'manual');
SELECT v.version, v.algorithm, v.hyperparameters->>'rounds' AS rounds, v.hyperparameters->'hidden' AS hidden
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'blended' ORDER BY v.version;
-- An exported blend imports as a version that scores the same.
SELECT dendrite.import_model(dendrite.export_model('blended', 1), 'blended_copy') AS imported;
SELECT count(*) FILTER (WHERE dendrite.score('blended_copy', p) = dendrite.score('blended', p)) AS same_scores
  FROM blend_payments p WHERE p.id <= 20;

-- Bad settings.
\set VERBOSITY default
SELECT dendrite.train('bad_blend', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                      algorithm => 'blend', options => '{"network_weight": 1.5}');
SELECT dendrite.train('bad_blend', 'SELECT * FROM blend_payments', 'fraud', featurizer => 'blend_f',
                      algorithm => 'blend', hidden => '{}');
\set VERBOSITY terse

-- Rows edited by hand are an error, never a score.
SET client_min_messages = error;
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{network_weight}', '2')
 WHERE version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                      WHERE m.name = 'blended_copy');
SELECT dendrite.score('blended_copy', p) FROM blend_payments p WHERE p.id = 1;
UPDATE dendrite.model_versions SET configuration = configuration - 'network_weight'
 WHERE version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                      WHERE m.name = 'blended_copy');
SELECT dendrite.score('blended_copy', p) FROM blend_payments p WHERE p.id = 1;
UPDATE dendrite.model_versions SET configuration = jsonb_set(configuration, '{network_weight}', '0.5')
 WHERE version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                      WHERE m.name = 'blended_copy');
DELETE FROM dendrite.trees
 WHERE version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                      WHERE m.name = 'blended_copy');
SELECT dendrite.score('blended_copy', p) FROM blend_payments p WHERE p.id = 1;
DELETE FROM dendrite.parameters
 WHERE version_id = (SELECT v.version_id FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
                      WHERE m.name = 'blend_all_trees');
SELECT dendrite.score('blend_all_trees', p) FROM blend_payments p WHERE p.id = 1;
RESET client_min_messages;
