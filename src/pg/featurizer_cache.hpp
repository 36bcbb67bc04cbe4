// Featurizer versions in a backend: loaded once from their rows (featurizer_rows.hpp; a version never
// changes), kept in a small per-backend cache, pinned by what points to them, and their inline history state
// (built on first use by replaying the history query, discarded when a transaction that fed it aborts).
// Row binding (row_binding.hpp) and the query pass (query_pass.hpp) use them.
#pragma once

#include "engine/featurizer.hpp"
#include "pg/derived_columns.hpp"
#include "pg/shared_history.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

struct CachedVersion;

struct CachedFeaturizer {
    int64 featurizer_id;
    Oid extension;  // extension_oid() when loaded
    char* name;
    int version;
    char* query;
    char* history_query;  // the rows that build the inline history state
    Oid query_owner;      // the role its stored queries run as (InvalidOid: the caller, on a pre-0.3.0 catalog)
    char* search_path;    // the search_path they run with (stored with the version, or the default)
    char* time_column;    // of the first history declaration, or NULL without history
    engine::Featurizer* featurizer;  // owned: deleted when the entry's memory context goes
    int n_inputs;
    char** input_names;
    engine::SqlTypeClass* input_types;  // as fitted: a column whose type class changed is an error
    Oid* input_time_types;              // as fitted, for time inputs (InvalidOid otherwise, or not recorded)
    bool* input_optional;               // labels: a row may lack them
    DerivedDeclarations derived;        // compiled as query_owner with search_path
    int n_outputs;
    engine::HistoryState* inline_history;     // built on first inline use; NULL until then
    MemoryContext history_context;            // owns inline_history; deleting it discards the state
    bool history_in_transaction;              // the state holds rows of the current, uncommitted transaction
    SharedHistoryCursor history_cursor;       // where the state stands in the log of other sessions' rows
    bool rebuild_history_at_transaction_end;  // it fell behind the log while holding rows of its transaction
    // The versions of its anomaly features (pinned for the life of the entry): when one of them is loaded
    // again (its rows were edited), so is this featurizer.
    const CachedVersion** anomaly_versions;
    int n_anomaly_versions;
    // Edits (see model_cache.hpp): a digest of the featurizer's rows taken before they were read, and whether
    // they have changed since (then lookups skip the entry, and it goes once nothing points to it).
    char* fingerprint;
    bool stale;
    int pins;  // cached versions trained with it, fn_extra states (see model_cache.hpp)
    LocalTransactionId last_used;
    MemoryContext context;  // owns the entry
    CachedFeaturizer* next;
};

const CachedFeaturizer* featurizer_by_id(int64 featurizer_id);
// Pins a featurizer for the life of holder (NULL: until unpin_featurizer); see pin_version.
void pin_featurizer(const CachedFeaturizer* featurizer, MemoryContext holder);
void unpin_featurizer(const CachedFeaturizer* featurizer);
// The latest version of a featurizer (one catalog query). 42704 when there is none.
const CachedFeaturizer* latest_featurizer(const char* name);

// For model_cache's check of cached rows against the catalog (never called from a cache callback):
// the digest of featurizer_id's rows as they are now (NULL when its row is gone); and the check itself,
// marking stale each cached featurizer whose rows changed or one of whose anomaly versions is stale.
// Returns how many it marked.
char* featurizer_fingerprint(int64 featurizer_id, MemoryContext context);
int mark_edited_featurizers_stale(bool check_rows);
// Frees the stale featurizers that nothing points to any more.
void evict_stale_featurizers();

// The inline history state, built on first use by replaying the featurizer's history query, and brought up to
// date with the rows other sessions' committed transactions observed (shared_history.hpp).
engine::HistoryState* inline_history(const CachedFeaturizer* featurizer);
// The same, for a caller about to observe a row. The state is transactional: when a transaction (or
// subtransaction) that observed rows aborts, the state is discarded and rebuilt from the history query at
// next use, so a rejected or rolled-back row never counts.
engine::HistoryState* inline_history_for_update(const CachedFeaturizer* featurizer);
// Rows the history reads were deleted or truncated in the open transaction: this backend's state is rebuilt
// when the transaction ends (until then it still counts them), and every other session's once it commits.
void forget_inline_history(const CachedFeaturizer* featurizer);
// A row the history reads changed (before: its events as observed, one per declaration; after: the updated row's,
// or NULL for a deleted row), as dendrite.guard fired FOR EACH ROW by UPDATE or DELETE sees it. A row whose labels
// alone changed is relabelled; a deleted row is checked: a state that may count it (it keeps an item of the row
// within its windows) cannot take it out. This backend's state, when it has one (none is built for it), is changed
// or, where it cannot tell or cannot take the row out, rebuilt when the transaction ends; the change is journaled,
// and every other session's state replays it once the transaction commits (rebuilding where it must). Another
// change of an updated row is forget_inline_history's.
void follow_row_change(const CachedFeaturizer* featurizer, const engine::HistoryEvent* before,
                       const engine::HistoryEvent* after);

}  // namespace dendrite::pg
