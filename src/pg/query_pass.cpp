#include "pg/query_pass.hpp"

#include <algorithm>
#include <cstring>

#include "engine/parallel.hpp"
#include "engine/transform_pipeline.hpp"

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/featurize.hpp"
#include "pg/row_binding.hpp"
#include "pg/values.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
}

namespace dendrite::pg {

char* ordered_query(const char* query, const char* time_column) {
    if (!time_column) return pstrdup(query);
    // Sorting is not stable: rows with equal times keep the query's own order through the ordinal, so a
    // query with ORDER BY time, id gives the same pass (and, with a seed, the same model) every time.
    return psprintf(
        "SELECT * FROM (SELECT *, row_number() OVER () AS dendrite_query_ordinal FROM (%s\n) AS dendrite_query) "
        "AS dendrite_rows ORDER BY %s, dendrite_query_ordinal",
        query, quote_identifier(time_column));
}

namespace {

// The executor's rows straight to a RowVisitor.
struct RowReceiver {
    DestReceiver base;  // first, so that the executor's DestReceiver* is this
    const RowVisitor* visitor;
    double estimated_rows;
    MemoryContext row_context;
    uint64 rows;
};

bool receive_row(TupleTableSlot* slot, DestReceiver* self) {
    auto* receiver = reinterpret_cast<RowReceiver*>(self);
    CHECK_FOR_INTERRUPTS();
    slot_getallattrs(slot);
    MemoryContext old = MemoryContextSwitchTo(receiver->row_context);
    receiver->visitor->row(receiver->visitor->context, slot);
    MemoryContextSwitchTo(old);
    if ((++receiver->rows & 1023) == 0) MemoryContextReset(receiver->row_context);
    return !(receiver->visitor->stop && *receiver->visitor->stop);  // false: the executor stops
}

void start_rows(DestReceiver* self, int, TupleDesc descriptor) {
    auto* receiver = reinterpret_cast<RowReceiver*>(self);
    if (receiver->visitor->start)
        receiver->visitor->start(receiver->visitor->context, descriptor, receiver->estimated_rows);
}

void end_rows(DestReceiver*) {}

}  // namespace

namespace {

const QueryRights* active_query_rights = nullptr;  // set by with_stored_query_rights

// Runs an SPI call on a user's query with the active rights: the caller's, or a stored query's owner's.
template <typename F>
void with_active_query_rights(F&& call) {
    if (active_query_rights)
        with_role_rights(active_query_rights->role, active_query_rights->search_path, call);
    else
        call();
}

}  // namespace

void with_stored_query_rights(const QueryRights* rights, void (*body)(void*), void* context) {
    const QueryRights* previous = active_query_rights;
    active_query_rights = rights;
    PG_TRY();
    { body(context); }
    PG_CATCH();
    {
        active_query_rights = previous;
        PG_RE_THROW();
    }
    PG_END_TRY();
    active_query_rights = previous;
}

char* search_path_to_store() {
    StringInfoData path;
    initStringInfo(&path);
    List* schemas = fetch_search_path(false);
    ListCell* cell;
    foreach (cell, schemas) {
        const Oid schema = lfirst_oid(cell);
        if (isAnyTempNamespace(schema)) continue;  // another session's objects, or this one's, never a stored query's
        const char* name = get_namespace_name(schema);
        if (name) appendStringInfo(&path, "%s%s", path.len ? ", " : "", quote_identifier(name));
    }
    list_free(schemas);
    return path.data;
}

const char* stored_search_path(const char* stored) {
    // pg_temp last, named: otherwise the session's temporary schema is searched first for relations.
    return psprintf("%s, pg_temp", stored ? (stored[0] ? stored : "pg_catalog") : "\"$user\", public");
}

SPIPlanPtr prepare_select(const char* query, const char* what) {
    SPIPlanPtr plan = nullptr;
    with_active_query_rights([&] { plan = SPI_prepare(query, 0, nullptr); });
    if (!plan)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("could not prepare the %s: %s", what, SPI_result_code_string(SPI_result))));
    List* sources = SPI_plan_get_plan_sources(plan);
    const CachedPlanSource* source =
        list_length(sources) == 1 ? static_cast<CachedPlanSource*>(linitial(sources)) : nullptr;
    if (!SPI_is_cursor_plan(plan) || !source || source->commandTag != CMDTAG_SELECT || !source->resultDesc)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the %s must be a single SELECT", what),
                        errhint("Pass a query that returns rows, such as SELECT ... FROM ...")));
    // The passes run read-only; PostgreSQL would refuse these later with a message about "non-volatile
    // functions", or (inside the ordering wrapper) about where WITH may appear.
    const Query* parsed = list_length(source->query_list) == 1 ? linitial_node(Query, source->query_list) : nullptr;
    if (parsed && (parsed->hasModifyingCTE || parsed->rowMarks != NIL))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the %s must not change or lock rows", what),
                        errhint("Data-modifying WITH clauses and FOR UPDATE or FOR SHARE are not allowed here.")));
    return plan;
}

void select_rows(const char* query, const char* what, const RowVisitor& visitor) {
    SPIPlanPtr plan = prepare_select(query, what);

    RowReceiver receiver{};
    receiver.base.receiveSlot = receive_row;
    receiver.base.rStartup = start_rows;
    receiver.base.rShutdown = end_rows;
    receiver.base.rDestroy = end_rows;
    // Not DestNone (SPI would report a SELECT into it as a utility command) nor DestSPI (SPI would check its
    // own tuple table): a receiver of its own, as PL/pgSQL's RETURN QUERY passes a tuplestore receiver.
    receiver.base.mydest = DestTuplestore;
    receiver.visitor = &visitor;
    receiver.estimated_rows = -1;
    // The generic plan, built once here and reused by the execution below (the query has no parameters).
    CachedPlan* cached = nullptr;
    with_active_query_rights([&] { cached = SPI_plan_get_cached_plan(plan); });
    if (cached) {
        const PlannedStmt* statement = linitial_node(PlannedStmt, cached->stmt_list);
        if (statement->planTree) receiver.estimated_rows = statement->planTree->plan_rows;
        ReleaseCachedPlan(cached, nullptr);  // an unsaved plan's reference belongs to no resource owner
    }
    receiver.row_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite query row", ALLOCSET_DEFAULT_SIZES);
    SPIExecuteOptions options{};
    options.read_only = true;
    options.dest = &receiver.base;
    int result = 0;
    with_active_query_rights([&] { result = SPI_execute_plan_extended(plan, &options); });
    if (result != SPI_OK_SELECT)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("could not run the %s: %s", what, SPI_result_code_string(result))));
    MemoryContextDelete(receiver.row_context);
    SPI_freeplan(plan);
}

bool TimeOrder::follows(const engine::RawValue& time) {
    if (time.is_null()) {
        seen_null = true;
        return true;
    }
    if (time.type != engine::RawValue::Type::Time || seen_null) return false;
    const bool ordered = !seen_time || time.time_us >= last;
    seen_time = true;
    last = time.time_us;
    return ordered;
}

void select_rows_in_time_order(const char* query, const char* time_column, const char* what, const RowVisitor& visitor,
                               TimeOrderedRead* read, void (*restart)(void*), void* context) {
    if (restart) {
        read->checking = true;
        select_rows(query, what, visitor);
        read->checking = false;
        if (!read->stop) return;
        read->stop = false;
        restart(context);
    }
    select_rows(ordered_query(query, time_column), what, visitor);
}

namespace {

// A pass's history state (NULL without history), owned by owner.
engine::HistoryState* pass_history(const engine::Featurizer* featurizer, MemoryContext owner) {
    engine::HistoryState* history = nullptr;
    if (featurizer->keeps_history()) {
        engine_call([&] { history = featurizer->new_history().release(); });
        own_in_context(owner, history);
    }
    return history;
}

// The pipelined pass's featurizing, on a helper when asked (owned by owner after the history it uses, so
// that a reset stops its helper before the history goes).
engine::PipelinedTransform* pass_pipeline(const engine::Featurizer* featurizer, engine::HistoryState* history,
                                          const PipelinedEmit* pipelined, MemoryContext owner) {
    if (!pipelined) return nullptr;
    const bool use_helper = !pipelined->one_thread && engine::WorkerPool::hardware_threads() > 1;
    return create_owned<engine::PipelinedTransform>(
        owner, [&] { return new engine::PipelinedTransform(*featurizer, history, use_helper); });
}

}  // namespace

int time_input(const CachedFeaturizer* featurizer) {
    if (!featurizer->time_column) return -1;
    for (int j = 0; j < featurizer->n_inputs; ++j)
        if (strcmp(featurizer->input_names[j], featurizer->time_column) == 0) return j;
    return -1;
}

void offline_pass(const CachedFeaturizer* featurizer, const char* query, Timestamp since, EmitRow emit, void* context,
                  ExpectRows expect, const RowBinding** bound, RestartRows restart, const PipelinedEmit* pipelined) {
    const int time_index = time_input(featurizer);
    if (since != DT_NOBEGIN && time_index < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since needs a featurizer with history features"),
                 errhint("Without history, filter the rows in the query instead.")));
    const int64 since_us = engine_since(since);
    check_shard_layout(featurizer, query);
    // The pass orders the rows by the featurizer's time column: a query without it would fail inside that
    // wrapper, naming a column the user never wrote. Binding its columns first names what is missing.
    if (featurizer->time_column) {
        RowBinding check;
        bind_row(&check, featurizer, describe_query(query, "query"), CurrentMemoryContext);
    }
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    // The history state in a context of its own: a read that starts over, sorted, starts from a new one.
    MemoryContext history_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite pass history", ALLOCSET_SMALL_SIZES);
    struct Pass {
        const CachedFeaturizer* featurizer;
        const engine::Featurizer* engine_featurizer;
        engine::HistoryState* history;
        int time_index;
        int64 since_us;
        float* features;
        EmitRow emit;
        void* context;
        ExpectRows expect;
        RowBinding binding;
        MemoryContext pass_context;
        const RowBinding** bound;
        TimeOrderedRead read;
        void (*restart)(void*);
        MemoryContext history_context;
        const PipelinedEmit* pipelined;
        engine::PipelinedTransform* pipeline;
        size_t handed, emitted;  // wanted rows handed to the pipeline, and emitted (since the read began)
        // The features of the chunks the pipeline has finished, to emit, in read order.
        void emit_finished() {
            for (;;) {
                const float* features = nullptr;
                int rows = 0;
                engine_call([&] { features = pipeline->finished_features(&rows); });
                if (!features) return;
                for (int i = 0; i < rows; ++i, ++emitted)
                    emit(context, features + size_t(i) * size_t(featurizer->n_outputs), nullptr);
                pipeline->release_finished();
            }
        }
    } pass{featurizer,
           engine_featurizer,
           pass_history(engine_featurizer, history_context),
           time_index,
           since_us,
           static_cast<float*>(palloc(sizeof(float) * (featurizer->n_outputs + 1))),
           emit,
           context,
           expect,
           {},
           CurrentMemoryContext,
           bound,
           {},
           restart,
           history_context,
           pipelined,
           nullptr,
           0,
           0};
    pass.pipeline = pass_pipeline(engine_featurizer, pass.history, pipelined, history_context);
    RowVisitor visitor{[](void* context, TupleDesc descriptor, double estimated_rows) {
                           auto* p = static_cast<Pass*>(context);
                           bind_row(&p->binding, p->featurizer, descriptor, p->pass_context);
                           if (p->bound) *p->bound = &p->binding;
                           if (p->expect && estimated_rows >= 0) p->expect(p->context, estimated_rows);
                       },
                       [](void* context, TupleTableSlot* slot) {
                           auto* p = static_cast<Pass*>(context);
                           load_slot(&p->binding, slot);
                           const engine::RawValue* raw = p->binding.raw;
                           if (p->time_index >= 0 && !p->read.admits(raw[p->time_index])) return;
                           const bool wanted = at_or_after_since(raw, p->time_index, p->since_us);
                           if (p->pipeline) {
                               if (wanted) {
                                   if (p->pipelined->capture) p->pipelined->capture(p->context, slot);
                                   ++p->handed;
                               }
                               bool handed_over = false;
                               engine_call([&] { handed_over = p->pipeline->add(raw, wanted); });
                               if (!handed_over) return;
                               constexpr size_t kChunksInFlight = 4;  // a few megabytes, whatever the query's size
                               while (!p->pipeline->wait_until_in_flight_at_most(kChunksInFlight, 10000))
                                   CHECK_FOR_INTERRUPTS();
                               p->emit_finished();
                               return;
                           }
                           engine_call([&] {
                               if (wanted) p->engine_featurizer->transform(raw, p->history, p->features);
                               p->engine_featurizer->observe(raw, p->history);
                           });
                           if (wanted) p->emit(p->context, p->features, slot);
                       },
                       &pass, &pass.read.stop};
    // The rows read so far are forgotten by the caller, their history with the state.
    auto start_over = [](void* context) {
        auto* p = static_cast<Pass*>(context);
        p->restart(p->context);
        MemoryContextReset(p->history_context);  // the pipeline (its helper stopped), then the history
        p->history = pass_history(p->engine_featurizer, p->history_context);
        p->pipeline = pass_pipeline(p->engine_featurizer, p->history, p->pipelined, p->history_context);
        p->handed = p->emitted = 0;
    };
    select_rows_in_time_order(query, featurizer->time_column, "query", visitor, &pass.read,
                              restart && time_index >= 0 ? +start_over : nullptr, &pass);
    if (pass.pipeline) {
        while (!pass.pipeline->wait_until_in_flight_at_most(0, 10000)) CHECK_FOR_INTERRUPTS();
        engine_call([&] { pass.pipeline->finish(); });
        pass.emit_finished();
        if (pass.emitted != pass.handed)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("the pass featurized %zu of the %zu rows it read", pass.emitted, pass.handed)));
    }
    if (pass.binding.featurizer_name) note_unseen_categories(&pass.binding, engine_featurizer);
}

void start_keyed_output(FunctionCallInfo fcinfo, KeyedOutput* out, const char* key) {
    out->key = key;
    InitMaterializedSRF(fcinfo, 0);
    out->result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    out->keys_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite queued keys", ALLOCSET_DEFAULT_SIZES);
    out->keys = nullptr;
    out->key_capacity = out->first_key = out->keys_queued = 0;
}

char* row_key_text(KeyedOutput* s, TupleTableSlot* slot) {
    if (s->key_attnum == 0) {
        s->key_attnum = -1;
        if (s->key) {
            s->key_attnum = unique_column_number(slot->tts_tupleDescriptor, s->key, "key column", "the query");
            if (s->key_attnum <= 0)
                ereport(ERROR,
                        (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("key column \"%s\" is not in the query", s->key)));
            key_text_form(TupleDescAttr(slot->tts_tupleDescriptor, s->key_attnum - 1)->atttypid, &s->key_output,
                          &s->key_blank_padded);
        }
    }
    if (s->key_attnum <= 0 || slot->tts_isnull[s->key_attnum - 1]) return nullptr;
    return key_as_text(s->key_output, s->key_blank_padded, slot->tts_values[s->key_attnum - 1]);
}

void clear_keyed_output(KeyedOutput* out) {
    tuplestore_clear(out->result->setResult);
    MemoryContextReset(out->keys_context);
    out->keys = nullptr;
    out->key_capacity = out->first_key = out->keys_queued = 0;
}

void queue_row_key(void* keyed_output, TupleTableSlot* slot) {
    auto* s = static_cast<KeyedOutput*>(keyed_output);
    char* key = nullptr;
    if (s->key) {
        MemoryContext old = MemoryContextSwitchTo(s->keys_context);
        key = row_key_text(s, slot);
        MemoryContextSwitchTo(old);
    }
    if (s->keys_queued == s->key_capacity) {  // grows, the ring unwrapped
        const size_t capacity = std::max<size_t>(8192, s->key_capacity * 2);
        char** keys = static_cast<char**>(MemoryContextAlloc(s->keys_context, sizeof(char*) * capacity));
        for (size_t i = 0; i < s->keys_queued; ++i) keys[i] = s->keys[(s->first_key + i) % s->key_capacity];
        if (s->keys) pfree(s->keys);
        s->keys = keys;
        s->key_capacity = capacity;
        s->first_key = 0;
    }
    s->keys[(s->first_key + s->keys_queued) % s->key_capacity] = key;
    ++s->keys_queued;
}

void emit_queued_row(KeyedOutput* s, Datum value) {
    if (s->keys_queued == 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("the pass featurized a row it did not read")));
    char* key = s->keys[s->first_key];
    s->first_key = (s->first_key + 1) % s->key_capacity;
    --s->keys_queued;
    Datum values[2] = {key ? CStringGetTextDatum(key) : Datum(0), value};
    bool nulls[2] = {key == nullptr, false};
    tuplestore_putvalues(s->result->setResult, s->result->setDesc, values, nulls);
    if (key) pfree(key);
}

}  // namespace dendrite::pg
