// The query pass: a user's query run straight into a visitor (one SELECT, no copy of its rows), with whose
// rights it runs (the caller's, or a stored query's owner's), and the ordered offline pass that featurizes
// every row of a query with the history it has built so far.
#pragma once

#include "pg/featurizer_cache.hpp"

extern "C" {
#include "funcapi.h"
}

namespace dendrite::pg {

struct RowBinding;  // row_binding.hpp

// A pass over the rows of a query: start once before any row (the result's descriptor and the planner's
// estimate of its rows, -1 when unknown), then row for each row, fully deformed in slot.
struct RowVisitor {
    void (*start)(void* context, TupleDesc descriptor, double estimated_rows);
    void (*row)(void* context, TupleTableSlot* slot);
    void* context;
    // Set by row to end the pass early: the executor stops after that row (NULL: the pass reads every row).
    const bool* stop = nullptr;
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
    with_stored_query_rights(
        rights, [](void* f) { (*static_cast<F*>(f))(); }, &body);
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
// One ordered pass over query: every row feeds the history; rows whose time is >= since (all rows when
// since is DT_NOBEGIN or the featurizer has no history) are featurized and handed to emit.
typedef void (*EmitRow)(void* context, const float* features, TupleTableSlot* slot);
// Before the first row: the planner's estimate of the query's rows (to size buffers once).
typedef void (*ExpectRows)(void* context, double estimated_rows);
// bound, if not NULL, gets the pass's row binding before the first row (valid while the pass runs: emit
// can read the row's values, derived columns included, in it).
// With history, the rows must reach the featurizer in time order, which a sort of the query's rows gives
// (ordered_query: ~0.1 s per 300,000 rows, on disk beyond work_mem). A caller that can forget the rows it was
// handed (restart, not NULL) lets the pass read the query as it comes instead: rows of a table kept in time
// order need no sort. At the first row out of order the pass stops, calls restart, and reads the query
// again, sorted. Either way emit sees the same rows in the same order.
typedef void (*RestartRows)(void* context);
// A caller whose emit needs nothing of the row but its features (pipelined, not NULL) lets the pass featurize
// on a helper thread while it reads (engine::PipelinedTransform): capture sees each wanted row's slot as it
// is read (NULL: nothing to take), and emit the same rows' features, in the same order, a few chunks later
// (its slot NULL). The features are the same to the bit. The helper runs on a machine with more than one core
// unless one_thread (the caller may use one thread only); the pass checks that every row read was emitted.
struct PipelinedEmit {
    void (*capture)(void* context, TupleTableSlot* slot);
    bool one_thread = false;
};
void offline_pass(const CachedFeaturizer* featurizer, const char* query, Timestamp since, EmitRow emit, void* context,
                  ExpectRows expect = nullptr, const RowBinding** bound = nullptr, RestartRows restart = nullptr,
                  const PipelinedEmit* pipelined = nullptr);

// Whether a row of a pass is at or after since (since_us from engine_since): always when the featurizer has
// no time input (time_index < 0); never when the row's time is NULL or infinite (missing, as NULL is).
inline bool at_or_after_since(const engine::RawValue* raw, int time_index, int64 since_us) {
    return time_index < 0 || (raw[time_index].type == engine::RawValue::Type::Time &&
                              !raw[time_index].is_infinite_time() && raw[time_index].time_us >= since_us);
}

// SELECT * FROM (query) ORDER BY the time column, when the featurizer (or spec) has history.
char* ordered_query(const char* query, const char* time_column);
// Whether rows come as ordered_query would sort them, one row's time after another: times ascending
// (infinities at their ends, as their engine times are), NULLs last; ties keep the query's order, as the
// sort's ordinal does.
struct TimeOrder {
    bool seen_time = false, seen_null = false;
    int64 last = 0;
    bool follows(const engine::RawValue& time);
};
// A pass that must see rows in time order (select_rows_in_time_order): its visitor's row callback loads the
// row, then skips it unless admits(its time); the visitor's stop points at stop.
struct TimeOrderedRead {
    bool checking = false;  // the query as it comes (no sort)
    TimeOrder order;
    bool stop = false;
    // false: the row is out of order; the read stops there and starts over, sorted.
    bool admits(const engine::RawValue& time) {
        if (!checking || order.follows(time)) return true;
        stop = true;
        return false;
    }
};
// Runs query into visitor in the order of time_column: with restart, first as the rows come, and only from the
// first row out of order (after restart(context), which forgets what the pass did with the rows so far) a
// second time, sorted (ordered_query); without, sorted. Rows that come in time order are never sorted.
void select_rows_in_time_order(const char* query, const char* time_column, const char* what, const RowVisitor& visitor,
                               TimeOrderedRead* read, void (*restart)(void*), void* context);
// The featurizer's time column's index among its inputs (-1: none).
int time_input(const CachedFeaturizer* featurizer);

// The (key, value) rows that featurize and score_query return: the value of each row of an offline pass,
// with the row's key column (when one is named) as text, into the function's tuplestore.
struct KeyedOutput {
    ReturnSetInfo* result;
    const char* key;
    int key_attnum;         // 1-based in the query's rows; 0 = not looked up yet, -1 = no key
    Oid key_output;         // the key's output function
    bool key_blank_padded;  // a char(n) key, given without its padding (key_as_text)
    int n_outputs;
    MemoryContext row_context;  // the caller's, reset after each row
    // A pipelined pass's keys (queue_row_key, then emit_queued_row): a ring of key_capacity, keys_queued of
    // them from first_key, their text in keys_context.
    MemoryContext keys_context;
    char** keys;
    size_t key_capacity, first_key, keys_queued;
};
// Starts the set-returning function's result (a materialized tuplestore); key may be NULL.
void start_keyed_output(FunctionCallInfo fcinfo, KeyedOutput* out, const char* key);
// A pipelined pass (PipelinedEmit): each wanted row's key queued as the row is read (its capture), and put
// with the row's value when its features come, in the same order.
void queue_row_key(void* keyed_output, TupleTableSlot* slot);
void emit_queued_row(KeyedOutput* out, Datum value);
// Drops the rows put so far and the keys queued (an offline pass that restarts, sorted: see offline_pass).
void clear_keyed_output(KeyedOutput* out);
// The row's key as text (NULL: no key, or a NULL one); 42703 when the key column is not in the query.
char* row_key_text(KeyedOutput* out, TupleTableSlot* slot);

}  // namespace dendrite::pg
