// Per-backend cache of model versions for scoring. What changes in normal use is which version a model name
// serves with (dendrite.serving_version: the deployed one, or the latest). That answer is cached per backend
// too and forgotten when any session changes dendrite.models, model_versions or deployments: their statement
// triggers send a relcache invalidation, which every backend processes at its next statement. A row then
// costs no catalog query at all.
//
// A version's rows (and its featurizer's) are immutable by contract, but a role that may write the catalog
// can still edit them, and a backend that kept the rows it read would go on scoring with them while new
// sessions refuse or score the edited ones. So every table of such rows has a statement trigger that sends
// the same invalidation (once per table and transaction: a training inserts thousands of rows); on it a
// backend checks its cached entries at its next lookup against a digest of their rows taken when they were
// read (one catalog query per entry; a VACUUM's invalidation costs the same and finds nothing). An edited
// entry is marked stale: lookups skip it, so the edited rows are loaded again, and validated, at once, and
// the stale entry is freed once nothing points to it. The statement that is running keeps the rows it
// started with; a REPEATABLE READ or SERIALIZABLE transaction checks with its own snapshot (it keeps what
// that shows), so the first lookup of the session's next transaction checks again.
#pragma once

#include <cmath>

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
    uint64 load_serial;  // unique per load in this backend: what caches of derived data are keyed by
    char* fingerprint;   // a digest of the version's rows taken before they were read
    bool stale;          // its rows (or its featurizer's) changed since: lookups skip it
    // Eviction (see below): holders across statements pin; lookups stamp the local transaction id.
    int pins;
    LocalTransactionId last_used;
    MemoryContext context;  // owns the entry
    CachedVersion* next;
};

// The version that serves the model, loaded from the catalog on first use in this backend. Raises 42704
// when there is no such model.
const CachedVersion* serving_version(const char* model);

// A given version of a model (version 0: the serving one), loaded like serving_version. Raises 42704
// when there is no such model or version.
const CachedVersion* model_version(const char* model, int version, bool missing_ok = false);  // NULL if missing
// The catalog tables whose changes can change what a model name or version means (dendrite.models,
// model_versions, deployments). Looks them up when needed: not for a relcache callback.
void model_catalog_relations(Oid relations[3]);
// What dendrite.catalog_changed (a trigger on the catalog's tables) does in this backend besides sending
// the invalidation: the same as the invalidation's callbacks, at once (the invalidation is sent once per
// table and transaction, so a second edit in one transaction would not reach this backend's caches).
void catalog_changed_here(Oid relation);
// Registers the invalidation callback for the tables cached rows come from (before any is read), and
// checks the cached entries when an invalidation made them suspect. Every lookup of a version or a
// featurizer calls it first.
void watch_cached_rows();
void check_cached_rows_if_suspect();
// Kept rows were just read or checked (digests taken): under REPEATABLE READ or SERIALIZABLE the first lookup
// of the next transaction checks the kept rows again (the snapshot may predate an edit already announced).
void note_kept_rows_read();

// A score the version could not compute is an error, never a score: NaN (its 32-bit arithmetic overflowed:
// features far outside the training rows' range, or parameters edited by hand to extreme values) compares
// false with every threshold, so a guard would pass the row without a word. 22003, naming the row's largest
// feature when its features are at hand (x: n_features floats, or NULL). Autoencoders never score NaN (an
// overflowing reconstruction error is the most anomalous place, 1).
[[noreturn]] void report_unscorable(const CachedVersion* version, const float* x);
inline double checked_score(float score, const CachedVersion* version, const float* x) {
    if (unlikely(std::isnan(score))) report_unscorable(version, x);
    return score;
}
// The same for n scores; x: their rows' features, one row after another, or NULL.
void check_scores(const CachedVersion* version, const float* scores, int n, const float* x);

// A `version` argument: 0 (the serving version) when NULL, 22023 unless positive.
int version_argument(FunctionCallInfo fcinfo, int argument);

// The caches keep a few versions and featurizers a backend used (kCachedVersions, kCachedFeaturizers), not
// every one: a backend that scores after each of many retrainings would otherwise grow without bound.
// An entry is evicted only when nothing can still point to it: it is not pinned, and the current local
// transaction has not looked it up (pointers returned by a lookup are valid until the transaction ends).
// A state that keeps a pointer beyond that (fn_extra, which a cursor can carry across a procedure's
// COMMIT) pins the entry for the life of holder, a memory context (fn_mcxt).
void pin_version(const CachedVersion* version, MemoryContext holder);

}  // namespace dendrite::pg
