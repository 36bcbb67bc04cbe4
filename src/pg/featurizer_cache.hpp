// Featurizer versions in a backend: stored as catalog rows by store_featurizer, loaded once per backend
// (a version never changes), bound to the rows of a query or a scored row by column name, and run over
// whole queries in one ordered offline pass.
#pragma once

#include "engine/featurizer.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

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
    bool* input_optional;               // labels: a row may lack them
    int n_outputs;
    engine::HistoryState* inline_history;  // built on first inline use; NULL until then
    MemoryContext history_context;         // owns inline_history; deleting it discards the state
    bool history_in_transaction;           // the state holds rows of the current, uncommitted transaction
    int pins;                              // cached versions trained with it, fn_extra states (see model_cache.hpp)
    LocalTransactionId last_used;
    MemoryContext context;                 // owns the entry
    CachedFeaturizer* next;
};

// How the columns of one row type feed a featurizer's inputs.
struct RowBinding {
    Oid row_type;
    int32 row_typmod;
    TupleDesc descriptor;
    int n_inputs;
    int* attnums;  // per input, 0-based attribute index; -1 for an optional input the row lacks
    Oid* types;    // per input, base type
    Datum* values;
    bool* nulls;
    engine::RawValue* raw;  // per input
};

engine::SqlTypeClass type_class(Oid base_type);
const char* type_class_name(engine::SqlTypeClass type);

const CachedFeaturizer* featurizer_by_id(int64 featurizer_id);
// Pins a featurizer for the life of holder (NULL: until unpin_featurizer); see pin_version.
void pin_featurizer(const CachedFeaturizer* featurizer, MemoryContext holder);
void unpin_featurizer(const CachedFeaturizer* featurizer);
// The latest version of a featurizer (one catalog query). 42704 when there is none.
const CachedFeaturizer* latest_featurizer(const char* name);

// Binds a row type to the featurizer's inputs (in context); 42703 for a missing column, 42804 for a
// column whose type changed since fitting, both naming the column.
void bind_row(RowBinding* binding, const CachedFeaturizer* featurizer, TupleDesc descriptor, MemoryContext context);
// The same for a list of input names; fitted_types may be NULL (no type check).
void bind_inputs(RowBinding* binding, int n_inputs, char* const* names, const engine::SqlTypeClass* fitted_types,
                 const bool* optional, const char* owner, int version, TupleDesc descriptor, MemoryContext context);
// Loads a composite argument (a row passed to features, observe, score) into binding, binding its row type
// first, and again whenever the type differs from the one bound (*bound tracks it; memory in context).
void load_composite(RowBinding* binding, bool* bound, const CachedFeaturizer* featurizer, HeapTupleHeader row,
                    MemoryContext context);
// A pass over the rows of a query: start once before any row (the result's descriptor and the planner's
// estimate of its rows, -1 when unknown), then row for each row, fully deformed in slot.
struct RowVisitor {
    void (*start)(void* context, TupleDesc descriptor, double estimated_rows);
    void (*row)(void* context, TupleTableSlot* slot);
    void* context;
};
// Whose rights a query runs with. A query the caller passes now runs as the caller. A stored query (a
// featurizer's history query, a model version's training query reused by retrain) is code written by the
// role that stored it: it runs as the owner of the object that stores it, in a security-restricted
// operation, with the search_path stored beside it (and pg_temp last), as a view's query runs as the view's
// owner. Nothing a scorer, a guard's inserter or an admin who retrains can do changes what it runs.
struct QueryRights {
    Oid role;
    const char* search_path;
};
// Runs body() with prepare_select, select_rows and describe_query running their queries with rights
// (nullptr: the caller's); the previous rights come back when body returns or raises. body() must own no
// object with a destructor.
void with_stored_query_rights(const QueryRights* rights, void (*body)(void*), void* context);
template <typename F>
void with_stored_query_rights(const QueryRights* rights, F&& body) {
    with_stored_query_rights(rights, [](void* f) { (*static_cast<F*>(f))(); }, &body);
}
// The search_path to store beside a query the caller stores now: the schemas it resolves names in, quoted,
// without the session's temporary schema. And the path a stored query runs with (stored NULL: the default).
char* search_path_to_store();
const char* stored_search_path(const char* stored);

// Prepares query, which must be a single SELECT that neither writes (a data-modifying WITH) nor locks rows
// (22023 otherwise, with the message naming `what`).
SPIPlanPtr prepare_select(const char* query, const char* what);
// Runs query, which must be such a SELECT, straight into visitor: the
// executor hands each row over with no copy (a DestReceiver, not a cursor, which copies every tuple).
// Row callbacks run in a memory context reset every 1,024 rows; what must outlive a row goes into a
// context of the caller's. Honours cancel at every row.
void select_rows(const char* query, const char* what, const RowVisitor& visitor);
// Reads a tuple into binding->raw (text values point into the tuple or a detoasted copy in the current
// memory context).
void load_row(RowBinding* binding, HeapTuple tuple);
// The same for a deformed slot (see select_rows).
void load_slot(RowBinding* binding, TupleTableSlot* slot);

// The inline history state, built on first use by replaying the featurizer's history query.
engine::HistoryState* inline_history(const CachedFeaturizer* featurizer);
// The same, for a caller about to observe a row. The state is transactional: when a transaction (or
// subtransaction) that observed rows aborts, the state is discarded and rebuilt from the history query at
// next use, so a rejected or rolled-back row never counts.
engine::HistoryState* inline_history_for_update(const CachedFeaturizer* featurizer);

// One ordered pass over query: every row feeds the history; rows whose time is >= since (all rows when
// since is DT_NOBEGIN or the featurizer has no history) are featurized and handed to emit.
typedef void (*EmitRow)(void* context, const float* features, TupleTableSlot* slot);
// Before the first row: the planner's estimate of the query's rows (to size buffers once).
typedef void (*ExpectRows)(void* context, double estimated_rows);
void offline_pass(const CachedFeaturizer* featurizer, const char* query, Timestamp since, EmitRow emit, void* context,
                  ExpectRows expect = nullptr);

// Whether a row of a pass is at or after since (since_us from engine_since): always when the featurizer has
// no time input (time_index < 0); never when the row's time is NULL.
inline bool at_or_after_since(const engine::RawValue* raw, int time_index, int64 since_us) {
    return time_index < 0 || (raw[time_index].type == engine::RawValue::Type::Time && raw[time_index].time_us >= since_us);
}

// SELECT * FROM (query) ORDER BY the time column, when the featurizer (or spec) has history.
char* ordered_query(const char* query, const char* time_column);

// Stores a fitted featurizer as a new version of name; returns its featurizer_id.
int64 store_featurizer(const char* name, const char* query, const char* history_query, const engine::Featurizer& featurizer,
                       const engine::SqlTypeClass* input_types, int64 rows);

}  // namespace dendrite::pg
