// The row capture: guard_batch fired BEFORE INSERT ... FOR EACH ROW, closed by the same function fired
// AFTER INSERT ... FOR EACH STATEMENT (no transition table).
//
// A transition table costs the insert a copy of every row, and the statement trigger then reads it back,
// deforms it and featurizes and scores every row on the backend's thread after the last insert. The
// capture instead copies each row's input values as it is inserted (a deform and a few stores) into an
// engine::CapturedRows, whose full chunks the backend's helper thread featurizes and scores while the
// insert goes on (see background.hpp for why that is safe); the statement trigger waits for the last
// chunk and acts on the scores as the transition-table form does. Same scores, same history, same actions.
//
// Captures live in a list for the transaction: the statement trigger finds its statement's capture by the
// memory context both trigger calls of a statement get (fn_mcxt, the statement's executor memory), so a
// nested statement on the same table has its own. An aborted (sub)transaction discards its captures; a
// capture still open at commit means no statement trigger closed it, and the commit fails rather than
// commit rows that no guard has seen.
#include "pg/guard_capture.hpp"

#include "engine/captured_rows.hpp"
#include "engine/parallel.hpp"
#include "pg/background.hpp"
#include "pg/boundary.hpp"
#include "pg/guard_actions.hpp"
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

struct Capture {
    GuardState* state;        // the row trigger's state, lent to the statement (its actions are done with it)
    MemoryContext statement;  // the row trigger's fn_mcxt
    Oid relation;
    int nargs;  // the row trigger's arguments: its statement trigger has the same
    char** args;
    int nest_level;                      // the (sub)transaction that captured
    const CachedFeaturizer* featurizer;  // pinned by state's version
    bool has_history;
    engine::HistoryState* history;  // the state the sealed chunks observe into
    engine::CapturedRows* rows;     // deleted by end_capture
    bool on_helper;                 // its chunks are scored on the backend's helper thread (decided once)
    size_t captured;
    Datum* key_values;  // per captured row (by-reference values copied into memory)
    bool* key_nulls;
    size_t key_room;
    MemoryContext memory;  // owns the capture (a child of TopTransactionContext)
    Capture* next;
};

namespace {

constexpr size_t kChunksInFlight = 2;

Capture* captures = nullptr;
bool capture_callbacks_registered = false;
// The backend's spare chunks, kept across statements (3 chunks of a few hundred kB for a model like the
// issue's; see CapturedChunkPool). Used on the backend's thread only; freed with the process.
engine::CapturedChunkPool* chunk_pool = nullptr;

// Only once the helper runs nothing of it (drained).
void end_capture(Capture* capture) noexcept {
    for (Capture** link = &captures; *link; link = &(*link)->next)
        if (*link == capture) {
            *link = capture->next;
            break;
        }
    delete capture->rows;  // CapturedRows' destructor does not throw
    MemoryContextDelete(capture->memory);
}

// The captures of the (sub)transactions at nest level >= from_level (0: all).
void discard_captures(int from_level) noexcept {
    drain_background_work();
    for (Capture *capture = captures, *next; capture; capture = next) {
        next = capture->next;
        if (capture->nest_level >= from_level) end_capture(capture);
    }
}

void captures_at_transaction_end(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            if (captures) {
                const char* name = get_rel_name(captures->relation);
                const char* table = name ? name : "?";
                discard_captures(0);
                ereport(
                    ERROR,
                    (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                     errmsg("dendrite.guard_batch captured rows of \"%s\" that no statement trigger scored", table),
                     errdetail("The transaction is rolled back rather than commit rows that no guard has seen."),
                     errhint("The BEFORE INSERT ... FOR EACH ROW trigger needs an enabled AFTER INSERT ... FOR EACH "
                             "STATEMENT trigger calling dendrite.guard_batch with the same arguments.")));
            }
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            discard_captures(0);
            stop_background_worker();
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_PREPARE:
            stop_background_worker();  // no helper thread outlives its transaction
            break;
        default:
            break;
    }
}

void captures_at_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB) discard_captures(GetCurrentTransactionNestLevel());
}

bool same_arguments(int nargs, char* const* args, const Trigger* other) {
    if (nargs != other->tgnargs) return false;
    for (int i = 0; i < nargs; ++i)
        if (strcmp(args[i], other->tgargs[i]) != 0) return false;
    return true;
}

}  // namespace

// The table's enabled guard_batch trigger of the other kind (closing statement trigger for a row trigger,
// and the reverse) with the same arguments, if any.
bool has_partner_trigger(TriggerData* trigger, Oid function, bool want_row_trigger) {
    const TriggerDesc* triggers = trigger->tg_relation->trigdesc;
    const bool replica = SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
    for (int i = 0; triggers && i < triggers->numtriggers; ++i) {
        const Trigger* t = &triggers->triggers[i];
        const bool row = TRIGGER_FOR_ROW(t->tgtype);
        const bool timing_ok = want_row_trigger ? TRIGGER_FOR_BEFORE(t->tgtype) : TRIGGER_FOR_AFTER(t->tgtype);
        if (t->tgfoid != function || row != want_row_trigger || !timing_ok || !TRIGGER_FOR_INSERT(t->tgtype)) continue;
        const bool fires = t->tgenabled == TRIGGER_FIRES_ALWAYS || (replica ? t->tgenabled == TRIGGER_FIRES_ON_REPLICA
                                                                            : t->tgenabled == TRIGGER_FIRES_ON_ORIGIN);
        if (fires && (want_row_trigger || !t->tgqual) && same_arguments(t->tgnargs, t->tgargs, trigger->tg_trigger))
            return true;
    }
    return false;
}

namespace {

engine::HistoryState* capture_history(Capture* capture) {
    // A subtransaction that aborted meanwhile may have discarded the state (after draining the helper):
    // the next chunks observe into the rebuilt one, as the row trigger's next row would.
    if (capture->has_history && capture->featurizer->inline_history != capture->history)
        capture->history = inline_history_for_update(capture->featurizer);
    return capture->history;
}

Capture* start_capture(GuardState* state, FunctionCallInfo fcinfo, TriggerData* trigger) {
    Relation relation = trigger->tg_relation;
    if (relation->rd_rel->relispartition)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("dendrite.guard_batch cannot capture the rows of partition \"%s\"",
                               RelationGetRelationName(relation)),
                        errhint("On a partitioned table use the statement trigger with REFERENCING NEW TABLE.")));
    if (!has_partner_trigger(trigger, fcinfo->flinfo->fn_oid, false))
        ereport(
            ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("dendrite.guard_batch captures the rows of \"%s\" but no statement trigger scores them",
                    RelationGetRelationName(relation)),
             errdetail("A BEFORE INSERT ... FOR EACH ROW trigger calling dendrite.guard_batch needs an enabled AFTER "
                       "INSERT ... FOR EACH STATEMENT trigger calling it with the same arguments."),
             errhint(
                 "CREATE TRIGGER ... AFTER INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch(...), "
                 "with this trigger's arguments.",
                 state->table_name)));
    if (!capture_callbacks_registered) {
        RegisterXactCallback(captures_at_transaction_end, nullptr);
        RegisterSubXactCallback(captures_at_subtransaction_end, nullptr);
        capture_callbacks_registered = true;
    }
    MemoryContext memory =
        AllocSetContextCreate(TopTransactionContext, "dendrite guard_batch capture", ALLOCSET_DEFAULT_SIZES);
    auto* capture = static_cast<Capture*>(MemoryContextAllocZero(memory, sizeof(Capture)));
    capture->memory = memory;
    capture->state = state;
    capture->statement = fcinfo->flinfo->fn_mcxt;
    capture->relation = RelationGetRelid(relation);
    capture->nargs = trigger->tg_trigger->tgnargs;
    capture->args = static_cast<char**>(MemoryContextAlloc(memory, sizeof(char*) * size_t(capture->nargs + 1)));
    for (int i = 0; i < capture->nargs; ++i)
        capture->args[i] = MemoryContextStrdup(memory, trigger->tg_trigger->tgargs[i]);
    capture->nest_level = GetCurrentTransactionNestLevel();
    capture->featurizer = state->version->featurizer;
    capture->has_history = capture->featurizer->featurizer->keeps_history();
    capture->history = inline_history_for_update(capture->featurizer);  // built here if need be (a query)
    // Every chunk of a capture runs in one place, so that they observe the history in order; a helper this
    // transaction already runs keeps every capture's chunks (dendrite.max_threads set since then does not
    // split them between two threads).
    capture->on_helper = running_background_worker() != nullptr || engine::WorkerPool::hardware_threads() > 1;
    engine_call([&] {
        if (!chunk_pool) chunk_pool = new engine::CapturedChunkPool(3);
        capture->rows = new engine::CapturedRows(*capture->featurizer->featurizer, state->version->scorer, chunk_pool);
    });
    capture->next = captures;
    captures = capture;
    state->capture = capture;
    return capture;
}

void seal_chunk(Capture* capture, engine::SerialWorker* worker) {
    engine::HistoryState* history = capture_history(capture);
    engine_call([&] { capture->rows->seal(history, worker); });
}

}  // namespace

Datum capture_row(FunctionCallInfo fcinfo, TriggerData* trigger) {
    GuardState* state = guard_state(fcinfo, trigger, "dendrite.guard_batch", true);
    Capture* capture = state->capture ? state->capture : start_capture(state, fcinfo, trigger);
    HeapTuple tuple = trigger->tg_trigtuple;
    // As the row guard: a row that ON CONFLICT will skip (or turn into an update) is scored, not counted.
    const bool observe = !capture->has_history ||
                         row_will_be_inserted(trigger->tg_relation, tuple, "dendrite.guard_batch's row capture");
    RowBinding* binding = &state->binding;
    load_row(binding, tuple);
    engine_call([&] { capture->rows->add_row(binding->raw, observe); });
    if (state->key_attnum >= 0) {
        if (capture->captured == capture->key_room) {
            const size_t room = capture->key_room ? 2 * capture->key_room : 64;
            capture->key_values =
                static_cast<Datum*>(capture->key_room ? repalloc_huge(capture->key_values, room * sizeof(Datum))
                                                      : MemoryContextAllocHuge(capture->memory, room * sizeof(Datum)));
            capture->key_nulls =
                static_cast<bool*>(capture->key_room ? repalloc_huge(capture->key_nulls, room * sizeof(bool))
                                                     : MemoryContextAllocHuge(capture->memory, room * sizeof(bool)));
            capture->key_room = room;
        }
        const bool null = binding->nulls[state->key_attnum];
        capture->key_nulls[capture->captured] = null;
        if (!null) {
            MemoryContext old = MemoryContextSwitchTo(capture->memory);
            capture->key_values[capture->captured] =
                datumCopy(binding->values[state->key_attnum], state->key_byval, state->key_typlen);
            MemoryContextSwitchTo(old);
        }
    }
    capture->captured++;
    if (capture->rows->open_rows() == engine::CapturedRows::kChunkRows) {
        // A full chunk goes to the helper; the backend waits only when it is kChunksInFlight chunks ahead.
        seal_chunk(capture, capture->on_helper ? background_worker() : nullptr);
        wait_for_background_work(kChunksInFlight);
    }
    return PointerGetDatum(tuple);
}

// The statement trigger closing a capture: the last chunk, then the actions on every captured row.
void score_capture(Capture* capture, Relation relation) {
    // The last (short) chunk runs where the others ran, after them: on the helper if there is one.
    if (capture->rows->open_rows() > 0) seal_chunk(capture, capture->on_helper ? running_background_worker() : nullptr);
    wait_for_background_work(0);
    engine_call([&] { capture->rows->rethrow_error(); });

    GuardState* state = capture->state;
    note_unseen_categories(&state->binding, capture->featurizer->featurizer);
    MemoryContext chunk_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite guard batch", ALLOCSET_DEFAULT_SIZES);
    RowActions actions;
    begin_actions(&actions, state, relation, true);  // last: 'flag' connects SPI, which has memory of its own
    const size_t rows = capture->rows->rows();
    // A chunk of captured rows at a time, its scores where the helper wrote them (act_on_rows takes up to
    // kBatchRows rows).
    static_assert(engine::CapturedRows::kChunkRows <= kBatchRows, "a captured chunk fits act_on_rows");
    for (size_t first = 0; first < rows; first += engine::CapturedRows::kChunkRows) {
        CHECK_FOR_INTERRUPTS();
        MemoryContextReset(chunk_context);
        MemoryContext old = MemoryContextSwitchTo(chunk_context);
        const int n = int(std::min<size_t>(engine::CapturedRows::kChunkRows, rows - first));
        const bool have_keys = state->key_attnum >= 0;
        check_scores(state->version, capture->rows->chunk_scores(first), n, nullptr);  // the features are gone
        act_on_rows(&actions, n, capture->rows->chunk_scores(first), have_keys ? capture->key_values + first : nullptr,
                    have_keys ? capture->key_nulls + first : nullptr);
        MemoryContextSwitchTo(old);
    }
    end_actions(&actions);
    MemoryContextDelete(chunk_context);
    state->capture = nullptr;
    end_capture(capture);
}

// A capture of this statement by a row trigger with the statement trigger's arguments, if any.
Capture* statement_capture(FunctionCallInfo fcinfo, TriggerData* trigger) {
    for (Capture* capture = captures; capture; capture = capture->next)
        if (capture->statement == fcinfo->flinfo->fn_mcxt &&
            capture->relation == RelationGetRelid(trigger->tg_relation) &&
            same_arguments(capture->nargs, capture->args, trigger->tg_trigger))
            return capture;
    return nullptr;
}

}  // namespace dendrite::pg
