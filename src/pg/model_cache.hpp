// Per-backend cache of model versions for scoring. A version's rows are immutable once trained, so an
// entry keyed by version_id never goes stale: what changes is which version a model name resolves to, and
// that is looked up once per statement (per call site), never per row.
#pragma once

#include "engine/network.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

struct CachedVersion {
    int64 version_id;
    int version;
    char* model;
    int n_features;
    char** feature_names;
    double* means;
    double* scales;
    double threshold;
    engine::NetworkView network;
    int scratch_floats;
    CachedVersion* next;
};

// The latest version of the model, loaded from the catalog on first use in this backend. Raises 42704
// when there is no such model.
const CachedVersion* latest_version(const char* model);

// Scores raw features (NaN = missing) with a cached version. x and scratch are caller-provided buffers of
// n_features and scratch_floats floats; x is overwritten with the standardized features.
double score_features(const CachedVersion* version, float* x, float* scratch);

}  // namespace dendrite::pg
