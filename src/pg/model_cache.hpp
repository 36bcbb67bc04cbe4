// Per-backend cache of model versions for scoring. A version's rows are immutable once trained, so an
// entry keyed by version_id never goes stale: what changes is which version a model name serves with
// (dendrite.serving_version: the deployed one, or the latest). That answer is cached per backend too and
// forgotten when any session changes dendrite.models, model_versions or deployments: their statement
// triggers send a relcache invalidation, which every backend processes at its next statement. A row then
// costs no catalog query at all.
#pragma once

#include "engine/model.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

struct CachedVersion {
    int64 version_id;
    Oid extension;  // extension_oid() when loaded
    int version;
    char* model;
    const CachedFeaturizer* featurizer;  // the version it was trained with, pinned
    int n_features;                      // = featurizer->n_outputs
    double threshold;
    engine::ModelView scorer;  // a network or a tree ensemble
    int scratch_floats;
    CachedVersion* next;
};

// The version that serves the model, loaded from the catalog on first use in this backend. Raises 42704
// when there is no such model.
const CachedVersion* serving_version(const char* model);


}  // namespace dendrite::pg
