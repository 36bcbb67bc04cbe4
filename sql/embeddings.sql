-- Embedding layers (issue #4): a categorical column encoded as an index by the featurizer is looked up in a
-- learned table by networks (one row of dendrite.parameters per table), scored the same way by every path,
-- and moved by export/import; trees split on the index.
SET client_min_messages = warning;

-- 40 categories; those divisible by 7 are fraud-prone, scattered over the index range.
CREATE TABLE emb_points AS
SELECT g AS id, ((g * 7919) % 1000) / 100.0 - 5 AS x, 'c' || ((g * 104729) % 40) AS category,
       ((g * 104729) % 40) % 7 = 0 AND (g * 31) % 10 <> 0 AS label
  FROM generate_series(1, 4000) AS g;
SELECT count(*), sum(label::int) AS positives, count(DISTINCT category) AS categories FROM emb_points;

SELECT dendrite.create_featurizer('emb_f', 'SELECT x, category, label FROM emb_points', label => 'label',
                                  columns => '{"category": {"kind": "categorical", "encoding": "index"}}') AS featurizer_version;
SELECT dendrite.feature_names('emb_f');
SELECT c.column_name, c.outputs, count(*) AS categories, min(k.value) AS first_index, max(k.value) AS last_index
  FROM dendrite.feature_columns c JOIN dendrite.featurizers f USING (featurizer_id)
  JOIN dendrite.feature_categories k ON k.featurizer_id = c.featurizer_id AND k.ordinal = c.ordinal
 WHERE f.name = 'emb_f' GROUP BY 1, 2;

-- The MLP embeds the index (default width: round(1.6 * 41^0.56) = 13); the network sees x and 13 values.
SELECT version, roc_auc > 0.95 AS learned
  FROM dendrite.train('emb_mlp', 'SELECT x, category, label FROM emb_points', 'label', featurizer => 'emb_f',
                      hidden => '{16}', epochs => 8, learning_rate => 0.01);
SELECT v.configuration->'embeddings' AS embeddings
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'emb_mlp';
SELECT p.layer_index, p.layer, p.name, p.shape
  FROM dendrite.parameters p JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'emb_mlp' ORDER BY p.layer_index, p.name;

-- Every scoring path agrees: score (row), score_query (offline pass), predict (the feature vector), and an
-- unseen category reads the table's row 0.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(dendrite.score('emb_mlp', e) - q.score) < 1e-6) AS score_equals_score_query,
       count(*) FILTER (WHERE abs(dendrite.predict('emb_mlp', dendrite.features('emb_f', e)) - q.score) < 1e-6) AS predict_equals
  FROM emb_points e JOIN dendrite.score_query('emb_mlp', 'SELECT id, x, category FROM emb_points', key => 'id') q
    ON q.key::int = e.id;
SELECT dendrite.features('emb_f', r) AS unseen_features, dendrite.score('emb_mlp', r) BETWEEN 0 AND 1 AS scored
  FROM (SELECT 0.5 AS x, 'never seen' AS category) r;

-- Logistic regression embeds too; embedding_dim sets the width; gbdt splits on the index as a number.
SELECT version, roc_auc > 0.9 AS learned
  FROM dendrite.train('emb_lr', 'SELECT x, category, label FROM emb_points', 'label', featurizer => 'emb_f',
                      algorithm => 'logistic_regression', epochs => 8, learning_rate => 0.05, options => '{"embedding_dim": 4}');
SELECT v.configuration->'embeddings' AS embeddings, v.hyperparameters->'embedding_dim' AS embedding_dim
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'emb_lr';
SELECT version, roc_auc > 0.9 AS learned
  FROM dendrite.train('emb_gbdt', 'SELECT x, category, label FROM emb_points', 'label', featurizer => 'emb_f',
                      algorithm => 'gbdt', options => '{"rounds": 30}');

-- Export and import carry the tables: the copy scores exactly like the original.
SELECT dendrite.import_model(dendrite.export_model('emb_mlp'), model => 'emb_copy') AS imported_version;
SELECT count(*) FILTER (WHERE dendrite.score('emb_mlp', e) = dendrite.score('emb_copy', e)) AS identical, count(*) AS rows
  FROM emb_points e;

-- Errors.
SELECT dendrite.train('emb_bad', 'SELECT x, category, label FROM emb_points', 'label', featurizer => 'emb_f',
                      options => '{"embedding_dim": 2000}');
SELECT dendrite.create_featurizer('emb_bad', 'SELECT x, category FROM emb_points',
                                  columns => '{"category": {"encoding": "indexed"}}');
