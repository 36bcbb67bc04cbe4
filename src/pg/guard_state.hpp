// A guard trigger's state (see guard.cpp): what its first row resolves (options, serving version, row
// binding, buffers), kept per backend across statements and lent to one statement at a time, and the row
// binding's two uses, featurizing the loaded row and adding it to the inline history.
#pragma once

#include "pg/row_binding.hpp"
#include "pg/model_cache.hpp"
#include "pg/postgres_headers.hpp"

extern "C" {
#include "commands/trigger.h"
}

namespace dendrite::pg {

// SQLSTATE SF001, class SF ("suspected fraud", an implementation-defined class): a guard rejected the row.
constexpr int kRejectedByModel = MAKE_SQLSTATE('S', 'F', '0', '0', '1');

struct Capture;  // guard_capture.hpp

struct GuardState {
    const char* function;  // "dendrite.guard" or "dendrite.guard_batch", for messages
    char* model;
    // dendrite.guard with the model's name alone, fired FOR EACH ROW by UPDATE or DELETE: it scores nothing and only
    // keeps the inline history in step with the updated and deleted rows (follow_updated_row, follow_deleted_row).
    bool history_only;
    // Fired by UPDATE, this trigger keeps the inline history in step with the updated rows: the history-only
    // trigger, or a scoring one when the table has no history-only trigger for the model (one follows, not two).
    bool follows_updates;
    bool reject, flag, log;
    bool reasons;  // 'reasons': log the top reasons of flagged rows (needs 'log'; explainable versions only)
    bool default_threshold;
    double threshold;
    int n_flag_columns;
    int flag_attnums[2];  // 0-based
    Oid flag_types[2];
    int32 flag_typmods[2];  // a numeric(p, s) flag column's typmod: the score is rounded to it, as an INSERT would
    int key_attnum;         // 0-based, -1 when the table has no key column
    const char* key_name;
    Oid key_output_function;
    bool key_blank_padded;  // a char(n) key: its text without the padding (key_as_text)
    Oid key_type;
    bool key_byval;
    int16 key_typlen;
    char key_align;
    Oid key_equality;  // guard_batch's 'flag': the key type's default equality, which finds its flagged rows
    char* table_name;  // schema-qualified, quoted
    // The table its decisions are logged under (dendrite.predictions.table_name): for a partition the root of its
    // partition tree, the table the rows are inserted into and record_outcome names; else table_name.
    char* logged_table_name;
    const CachedVersion* version;
    // 'shadow:N': version N scored beside the serving version on the same features, its decisions logged
    // (dendrite.predictions.shadow), never acting. NULL when not asked for, or when N cannot be scored so
    // (a WARNING said why: missing, serving, or another featurizer version).
    int shadow_request;
    const CachedVersion* shadow;
    double shadow_threshold;
    float* shadow_scratch;  // the row guard's (score_one's)
    Oid model_catalog[3];   // with a shadow: the tables whose changes make the state stale (it may be dropped)
    Oid log_relation;       // 'log': dendrite.predictions and its columns (0-based), kLogColumns order
    int log_attributes[9];  // reasons (7) only with 'reasons'; shadow (8) -1 on a catalog without the column
    RowBinding binding;
    // dendrite.guard fired by UPDATE: the table's columns (0-based) the model reads, directly or behind a derived
    // or stored generated input, other than a label (a row's label is never in its own features); an UPDATE that
    // changes none of them is not scored again (see dendrite_guard).
    int* input_attributes;
    int n_input_attributes;
    bool update_history_noted;  // this statement's NOTICE that updated rows were scored on today's history
    float* x;                   // the row trigger's feature vector (the batch trigger allocates its own per statement)
    float* scratch;             // forward_one's
    Capture* capture;  // guard_batch BEFORE ... FOR EACH ROW: the statement's captured rows (guard_capture.cpp)
    // Cross-statement cache bookkeeping (see guard_state). A private state (context NULL) lives and dies
    // with its statement's fn_mcxt.
    Oid trigger_oid, relation_oid;  // the key (a trigger calls one function, so it tells guard from guard_batch)
    bool stale;                     // the table's relcache entry was invalidated since the state was built
    bool in_use;                    // lent to a running statement, whose fn_extra points to it
    MemoryContext context;          // owns the state (a child of TopMemoryContext once cached)
    GuardState* next;
};

// Raises unless called as the trigger function expects: dendrite.guard a BEFORE INSERT OR UPDATE row
// trigger, dendrite.guard_batch an AFTER INSERT statement trigger or a BEFORE INSERT row trigger.
void check_trigger_context(FunctionCallInfo fcinfo, const char* function, bool batch);

// The state for this statement: fn_extra after its first row; else the cached state of this trigger,
// checked against the serving version; else a new one.
GuardState* guard_state(FunctionCallInfo fcinfo, TriggerData* trigger, const char* function, bool batch);

// The features of the row loaded into the binding (load_row or load_slot), from the inline history.
void featurize_loaded(GuardState* state, float* x);
// Adds the loaded row to the inline history (for a new row, once it is scored: the offline pass's order).
void observe_row(GuardState* state);
// The key of the row last loaded into the binding, as text (NULL without a key column or value).
char* key_text(const GuardState* state);
// dendrite.guard on UPDATE: whether NEW holds the same value as OLD in every column the model reads.
bool model_inputs_unchanged(const GuardState* state, HeapTuple old_tuple, HeapTuple new_tuple);
// dendrite.guard on UPDATE, for a state that follows_updates: a row whose labels changed is relabelled in the inline
// history (this session's, and every other's once the transaction commits); a row whose entity, time, value or
// distinct column changed makes the history forget it, as a DELETE does (the new row counts once the states are
// rebuilt). Leaves the binding loaded with new_tuple.
void follow_updated_row(GuardState* state, HeapTuple old_tuple, HeapTuple new_tuple);
// dendrite.guard fired by DELETE ... FOR EACH ROW: the inline history forgets the row (follow_row_change): a state
// that no longer counts it (a retention purge of old rows) is left as it is, one that may count it is rebuilt.
void follow_deleted_row(GuardState* state, HeapTuple old_tuple);

}  // namespace dendrite::pg
