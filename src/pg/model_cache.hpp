// Per-backend cache of model versions for scoring. A version's rows are immutable once trained, so an
// entry keyed by version_id never goes stale: what changes is which version a model name resolves to, and
// that is looked up once per statement (per call site), never per row.
#pragma once

#include "engine/network.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

struct CachedVersion {
    int64 version_id;
    int version;
    char* model;
    const CachedFeaturizer* featurizer;  // the version it was trained with, pinned
    int n_features;                      // = featurizer->n_outputs
    double threshold;
    engine::NetworkView network;
    int scratch_floats;
    CachedVersion* next;
};

// The latest version of the model, loaded from the catalog on first use in this backend. Raises 42704
// when there is no such model.
const CachedVersion* latest_version(const char* model);


}  // namespace dendrite::pg
