// dendrite.guard and dendrite.guard_batch: fraud decisions taken inside the INSERT.
//
//   CREATE TRIGGER t BEFORE INSERT OR UPDATE ON payments FOR EACH ROW
//       EXECUTE FUNCTION dendrite.guard(model, action [, threshold [, columns [, key]]]);
//   CREATE TRIGGER t AFTER INSERT ON payments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
//       EXECUTE FUNCTION dendrite.guard_batch(model, action [, threshold [, columns [, key]]]);
// or, for bulk loads, guard_batch's row capture (guard_capture.cpp): the same function and
// arguments as a BEFORE INSERT ... FOR EACH ROW trigger plus an AFTER INSERT ... FOR EACH STATEMENT one.
//
// action: 'reject', 'flag', 'log', or 'reject,log' / 'flag,log'; with 'log', 'reasons' (the top reasons of
// flagged rows) and 'shadow:N' (version N scored and logged beside the serving version, never acting). threshold: a number in [0, 1], or
// 'default' (the version's stored threshold, also when absent). columns (for 'flag'): one or two columns
// of NEW, a float column receives the score and a boolean column whether the score reached the threshold.
// key (for 'log', and for 'flag' in the batch variant): the column that identifies a row; by default the
// table's single-column primary key.
//
// Everything a trigger needs (options, serving version, row binding, buffers) is resolved on its first row
// and kept for the next statements too (guard_state.cpp): a row costs a deform,
// the featurizer, a forward pass and, for 'flag', a tuple rebuild; a statement adds one lookup of the
// serving version; no catalog access.
#include "pg/boundary.hpp"
#include "pg/explain.hpp"
#include "pg/guard_actions.hpp"
#include "pg/guard_capture.hpp"
#include "pg/guard_state.hpp"
#include "pg/upsert_watch.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "nodes/bitmapset.h"
#include "utils/rel.h"
#include "utils/inval.h"
#include "utils/relcache.h"
#include "utils/datum.h"
#include "utils/tuplestore.h"
}

namespace dendrite::pg {

namespace {

constexpr int kLoggedReasons = 5;  // 'log,reasons' keeps this many (dendrite.explain's default top)

// 'log,reasons' in the batch trigger: the reasons of the chunk's flagged rows (0, none, for the others), read
// back from the transition table from chunk_pointer (where the chunk starts) to load their values; their
// features are x's. Only chunks with a flagged row pay for the second read.
Datum* chunk_reasons(GuardState* state, Tuplestorestate* rows, int chunk_pointer, TupleTableSlot* slot, int n,
                     const float* scores, const float* x) {
    bool any = false;
    for (int i = 0; i < n && !any; ++i) any = scores[i] >= state->threshold;
    if (!any) return nullptr;
    Datum* reasons = static_cast<Datum*>(palloc0(sizeof(Datum) * n));
    const int n_features = state->version->n_features;
    tuplestore_select_read_pointer(rows, chunk_pointer);
    for (int i = 0; i < n; ++i) {
        if (!tuplestore_gettupleslot(rows, true, false, slot)) break;
        if (scores[i] < state->threshold) continue;
        slot_getallattrs(slot);
        load_slot(&state->binding, slot);
        reasons[i] = row_reasons_jsonb(state->version, &state->binding, x + size_t(i) * n_features, kLoggedReasons);
    }
    return reasons;
}

// guard_batch AFTER INSERT ... REFERENCING NEW TABLE: the statement's rows read back from the transition
// table, featurized and scored kBatchRows at a time.
void score_transition_table(GuardState* state, TriggerData* trigger) {
    const int n_features = state->version->n_features;
    // Buffers for kBatchRows rows, in the statement's memory (freed when the trigger returns).
    float* x = static_cast<float*>(palloc(sizeof(float) * size_t(n_features + 1) * kBatchRows));
    float* scratch = static_cast<float*>(
        palloc(sizeof(float) * dendrite::engine::model_batch_scratch_floats(state->version->scorer, kBatchRows)));
    float* scores = static_cast<float*>(palloc(sizeof(float) * kBatchRows));
    // 'shadow:N': the shadow version's scores of the same features, logged after the chunk's actions.
    float* shadow_scores = nullptr;
    float* shadow_scratch = nullptr;
    if (state->shadow) {
        shadow_scores = static_cast<float*>(palloc(sizeof(float) * kBatchRows));
        shadow_scratch = static_cast<float*>(
            palloc(sizeof(float) * dendrite::engine::model_batch_scratch_floats(state->shadow->scorer, kBatchRows)));
    }

    Tuplestorestate* rows = trigger->tg_newtable;
    const int read_pointer = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
    const int chunk_pointer = state->reasons ? tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND) : -1;
    tuplestore_select_read_pointer(rows, read_pointer);
    tuplestore_rescan(rows);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(trigger->tg_relation), &TTSOpsMinimalTuple);
    MemoryContext chunk_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite guard batch", ALLOCSET_DEFAULT_SIZES);
    // Keys are kept as values and turned into text only where needed (logged or flagged rows).
    Datum* key_values = static_cast<Datum*>(palloc(sizeof(Datum) * kBatchRows));
    bool* key_nulls = static_cast<bool*>(palloc(sizeof(bool) * kBatchRows));
    RowActions actions;
    begin_actions(&actions, state, trigger->tg_relation,
                  false);  // last: 'flag' connects SPI, which has memory of its own
    bool done = false;
    while (!done) {
        CHECK_FOR_INTERRUPTS();
        // The slot may own a tuple read back from a spilled tuplestore, allocated in chunk_context: let
        // it go before the context does.
        ExecClearTuple(slot);
        MemoryContextReset(chunk_context);
        MemoryContext old = MemoryContextSwitchTo(chunk_context);
        if (chunk_pointer >= 0) tuplestore_copy_read_pointer(rows, read_pointer, chunk_pointer);
        int n = 0;
        while (n < kBatchRows) {
            if (!tuplestore_gettupleslot(rows, true, false, slot)) {
                done = true;
                break;
            }
            // Deformed in place from the transition table's minimal tuple (no heap tuple copy).
            slot_getallattrs(slot);
            load_slot(&state->binding, slot);
            // The row joins the history before the batch's rejection check: a rejection's ERROR aborts the
            // transaction, which discards this backend's state (rebuilt from the history query at next use).
            featurize_loaded(state, x + size_t(n) * n_features);
            observe_row(state);
            key_nulls[n] = state->key_attnum < 0 || slot->tts_isnull[state->key_attnum];
            if (!key_nulls[n])
                key_values[n] = datumCopy(slot->tts_values[state->key_attnum], state->key_byval, state->key_typlen);
            ++n;
        }
        if (n > 0) {
            engine_call([&] { dendrite::engine::score_batch(state->version->scorer, x, n, scores, scratch); });
            check_scores(state->version, scores, n, x);
            Datum* reasons = nullptr;
            if (state->reasons) {
                reasons = chunk_reasons(state, rows, chunk_pointer, slot, n, scores, x);
                tuplestore_select_read_pointer(rows, read_pointer);
            }
            act_on_rows(&actions, n, scores, key_values, key_nulls, reasons);
            if (state->shadow) {  // 'log' is set: act_on_rows left the chunk's keys in actions.keys
                engine_call(
                    [&] { dendrite::engine::score_batch(state->shadow->scorer, x, n, shadow_scores, shadow_scratch); });
                log_decisions(state, n, actions.keys, shadow_scores, nullptr, true);
            }
        }
        MemoryContextSwitchTo(old);
    }
    end_actions(&actions);
    ExecDropSingleTupleTableSlot(slot);
    MemoryContextDelete(chunk_context);
}

// The three largest reasons of the row in the binding (its features in state->x), for a rejection's
// DETAIL; NULL when the version cannot be explained. Only a rejected row pays for it.
char* rejection_reasons(GuardState* state) {
    if (unexplainable(state->version)) return nullptr;
    return row_reasons_text(state->version, &state->binding, state->x, 3);
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_guard) {
    check_trigger_context(fcinfo, "dendrite.guard", false);
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event)) {
        if (trigger->tg_trigger->tgnargs < 1)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("dendrite.guard: the first argument names the model")));
        // Rows the history reads go. One row: each session's state that may still count it is rebuilt (one that
        // no longer does, after a purge of old rows, is left as it is). A statement's rows, unseen: the inline
        // history (this session's when the transaction ends, the others' once it commits) is rebuilt from the
        // history query, which no longer has them.
        if (TRIGGER_FIRED_FOR_ROW(trigger->tg_event) && trigger->tg_trigger->tgnargs == 1)
            follow_deleted_row(guard_state(fcinfo, trigger, "dendrite.guard", false), trigger->tg_trigtuple);
        else
            forget_inline_history(serving_version(trigger->tg_trigger->tgargs[0])->featurizer);
        return TRIGGER_FIRED_FOR_ROW(trigger->tg_event) && TRIGGER_FIRED_BEFORE(trigger->tg_event)
                   ? PointerGetDatum(trigger->tg_trigtuple)
                   : PointerGetDatum(nullptr);
    }
    GuardState* state = guard_state(fcinfo, trigger, "dendrite.guard", false);
    const bool inserting = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    HeapTuple tuple = inserting ? trigger->tg_trigtuple : trigger->tg_newtuple;
    // A label that arrived (a chargeback), or a payment's amount corrected: the inline history follows, as the
    // offline pass over the table's rows of today would count them.
    if (!inserting && state->follows_updates) follow_updated_row(state, trigger->tg_trigtuple, tuple);
    if (state->history_only)
        return TRIGGER_FIRED_BEFORE(trigger->tg_event) ? PointerGetDatum(tuple) : PointerGetDatum(nullptr);
    // An UPDATE that changes no column the model reads (a payment's status, an analyst clearing its flag, its label
    // arriving) leaves the row as it is: the decision taken at its insert stands, and nothing is scored, rejected or
    // logged.
    // Scored again, it would see another history than its insert did (the row itself and the later rows of its
    // entities are in the inline state now): a different score from unchanged inputs.
    if (!inserting && model_inputs_unchanged(state, trigger->tg_trigtuple, tuple)) return PointerGetDatum(tuple);
    if (!inserting && !state->update_history_noted && state->version->featurizer->featurizer->keeps_history()) {
        state->update_history_noted = true;
        ereport(NOTICE,
                (errmsg("%s: updated rows of %s are scored with their entities' history as it is now", "dendrite.guard",
                        state->table_name),
                 errdetail("An updated row whose model inputs changed is scored again; its history features count "
                           "the row itself and the later rows of its entities, which its insert's did not."),
                 errhint("To keep the decisions taken at insert, fire the guard BEFORE INSERT only.")));
    }

    // Score first: a rejected row must not join the history. Only a new row that passes is observed.
    load_row(&state->binding, tuple);
    featurize_loaded(state, state->x);
    const double score = checked_score(dendrite::engine::score_one(state->version->scorer, state->x, state->scratch),
                                       state->version, state->x);
    const bool over = score >= state->threshold;
    if (over && state->reject) reject(state, score, key_text(state), rejection_reasons(state));
    // A row ON CONFLICT will skip (or turn into an update) is no new row for the history.
    if (inserting && (!state->version->featurizer->featurizer->keeps_history() ||
                      row_will_be_inserted(trigger->tg_relation, tuple, "dendrite.guard")))
        observe_row(state);
    if (state->log) {
        char* key = key_text(state);
        float score_value = float(score);
        const Datum reasons = over && state->reasons
                                  ? row_reasons_jsonb(state->version, &state->binding, state->x, kLoggedReasons)
                                  : Datum(0);
        log_decisions(state, 1, &key, &score_value, &reasons);
        if (state->shadow) {  // the challenger on the same features: logged, never acting
            const float shadow_score =
                dendrite::engine::score_one(state->shadow->scorer, state->x, state->shadow_scratch);
            log_decisions(state, 1, &key, &shadow_score, nullptr, true);
        }
    }
    if (state->flag) {
        // The row is already deformed in the binding: form the flagged tuple from those values rather
        // than deforming it again (heap_modify_tuple would).
        Datum* values = state->binding.values;
        bool* nulls = state->binding.nulls;
        for (int i = 0; i < state->n_flag_columns; ++i) {
            values[state->flag_attnums[i]] = flag_value(state->flag_types[i], state->flag_typmods[i], score, over);
            nulls[state->flag_attnums[i]] = false;
        }
        HeapTuple flagged = heap_form_tuple(state->binding.descriptor, values, nulls);
        flagged->t_data->t_ctid = tuple->t_data->t_ctid;
        flagged->t_self = tuple->t_self;
        flagged->t_tableOid = tuple->t_tableOid;
        tuple = flagged;
    }
    return PointerGetDatum(tuple);
}

DENDRITE_FUNCTION(dendrite_guard_batch) {
    check_trigger_context(fcinfo, "dendrite.guard_batch", true);
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (TRIGGER_FIRED_FOR_ROW(trigger->tg_event)) return capture_row(fcinfo, trigger);

    GuardState* state = guard_state(fcinfo, trigger, "dendrite.guard_batch", true);
    if (Capture* capture = statement_capture(fcinfo, trigger)) {
        // Every capture of this statement with these arguments (two row triggers alike make two).
        for (; capture; capture = statement_capture(fcinfo, trigger)) score_capture(capture, trigger->tg_relation);
    } else if (trigger->tg_newtable) {
        score_transition_table(state, trigger);
    } else if (!has_partner_trigger(trigger, fcinfo->flinfo->fn_oid, true)) {
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("dendrite.guard_batch fired FOR EACH STATEMENT has no rows to score"),
                 errdetail("It reads the statement's rows from REFERENCING NEW TABLE, or from a BEFORE INSERT ... FOR "
                           "EACH ROW trigger calling dendrite.guard_batch with the same arguments."),
                 errhint("CREATE TRIGGER ... AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                         "EXECUTE FUNCTION dendrite.guard_batch(...)")));
    }
    // else: the row capture saw no row of this statement (none inserted, or its WHEN clause matched none)
    return PointerGetDatum(nullptr);
}
