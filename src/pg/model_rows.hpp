// A model version as rows: the one writer (train) and the one reader (the version cache) of what
// engine/model_layout.hpp describes. A network is its configuration (model_versions.configuration) and one
// dendrite.parameters row per named tensor; a tree ensemble is its configuration and one dendrite.trees row
// per tree; a blend is both, its configuration the network's with the trees' keys and network_weight. Beside
// them: the epochs, the kept epoch's curves and the training rows' feature baselines.
//
// The reader validates every row before anything scores: a row edited by hand (or a bad import) is an
// XX001 error naming the model, the version, the table and the row, never a crash and never a score.
#pragma once

#include <vector>

#include "engine/drift.hpp"
#include "engine/model.hpp"
#include "engine/trainer.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Which version the rows are (for the errors).
struct VersionName {
    const char* model;
    int version;
};

// What a version's dendrite.model_versions row says about scoring it.
struct VersionRow {
    double threshold;
    int64 featurizer_id;
    bool trees;        // algorithm 'gbdt'; else a network (mlp, logistic_regression, autoencoder) or a blend
    bool autoencoder;  // algorithm 'autoencoder': its score is its reconstruction error's quantile
    bool blend;        // algorithm 'blend': a network and trees (both kinds of rows), mixed in logit space
};

// The version's row, validated (a finite threshold, a featurizer, a known algorithm). Needs SPI.
VersionRow read_version_row(VersionName name, int64 version_id);

// The version's network or trees for n_features inputs, in memory allocated in context. Needs SPI.
engine::ModelView read_model_rows(VersionName name, int64 version_id, const VersionRow& row, int n_features,
                                  MemoryContext context);

// model_versions.configuration of a trained model, palloc'd.
char* model_configuration_json(const engine::TrainResult& result);

// Writes what belongs to a new version beside its model_versions row: the network's tensors or the
// trees, the epochs, the kept epoch's curves and the feature baselines (named by output_names). Needs SPI.
void write_model_rows(int64 version_id, const engine::TrainResult& result,
                      const std::vector<engine::FeatureBaseline>& baselines,
                      const std::vector<std::string>& output_names);

}  // namespace dendrite::pg
