// dendrite.guard and dendrite.guard_batch: fraud decisions taken inside the INSERT.
//
//   CREATE TRIGGER t BEFORE INSERT OR UPDATE ON payments FOR EACH ROW
//       EXECUTE FUNCTION dendrite.guard(model, action [, threshold [, columns [, key]]]);
//   CREATE TRIGGER t AFTER INSERT ON payments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
//       EXECUTE FUNCTION dendrite.guard_batch(model, action [, threshold [, columns [, key]]]);
// or, for bulk loads, guard_batch's row capture (see "The row capture" below): the same function and
// arguments as a BEFORE INSERT ... FOR EACH ROW trigger plus an AFTER INSERT ... FOR EACH STATEMENT one.
//
// action: 'reject', 'flag', 'log', or 'reject,log' / 'flag,log'. threshold: a number in [0, 1], or
// 'default' (the version's stored threshold, also when absent). columns (for 'flag'): one or two columns
// of NEW, a float column receives the score and a boolean column whether the score reached the threshold.
// key (for 'log', and for 'flag' in the batch variant): the column that identifies a row; by default the
// table's single-column primary key.
//
// Everything a trigger needs (options, serving version, row binding, buffers) is resolved on its first row
// and kept for the next statements too (see "Guard states across statements" below): a row costs a deform,
// the featurizer, a forward pass and, for 'flag', a tuple rebuild; a statement adds one lookup of the
// serving version; no catalog access.
#include "engine/captured_rows.hpp"
#include "pg/background.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/model_cache.hpp"
#include "pg/values.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

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

// SQLSTATE SF001, class SF ("suspected fraud", an implementation-defined class): a guard rejected the row.
constexpr int kRejectedByModel = MAKE_SQLSTATE('S', 'F', '0', '0', '1');
constexpr int kBatchRows = 1024;

struct GuardState {
    const char* function;  // "dendrite.guard" or "dendrite.guard_batch", for messages
    char* model;
    bool reject, flag, log;
    bool default_threshold;
    double threshold;
    int n_flag_columns;
    int flag_attnums[2];  // 0-based
    Oid flag_types[2];
    int key_attnum;  // 0-based, -1 when the table has no key column
    Oid key_output_function;
    bool key_byval;
    int16 key_typlen;
    char* table_name;  // schema-qualified, quoted
    const CachedVersion* version;
    Oid log_relation;        // 'log': dendrite.predictions and its columns (0-based), kLogColumns order
    int log_attributes[7];
    RowBinding binding;
    float* x;        // the row trigger's feature vector (the batch trigger allocates its own per statement)
    float* scratch;  // forward_one's
    struct Capture* capture;  // guard_batch BEFORE ... FOR EACH ROW: the statement's captured rows (see below)
    // Cross-statement cache bookkeeping (see guard_state). A private state (context NULL) lives and dies
    // with its statement's fn_mcxt.
    Oid trigger_oid, relation_oid;  // the key (a trigger calls one function, so it tells guard from guard_batch)
    bool stale;   // the table's relcache entry was invalidated since the state was built
    bool in_use;  // lent to a running statement, whose fn_extra points to it
    MemoryContext context;  // owns the state (a child of TopMemoryContext once cached)
    GuardState* next;
};

// The columns of dendrite.predictions that 'log' fills, found by name (the layout is the same in every
// version, but attribute numbers need not be: a column dropped and added back by an upgrade would move).
const char* const kLogColumns[7] = {"version_id", "table_name", "row_key", "score", "threshold", "decision", "predicted_at"};

void resolve_log_relation(GuardState* state) {
    state->log_relation = get_relname_relid("predictions", get_namespace_oid("dendrite", false));
    if (!OidIsValid(state->log_relation))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("dendrite.predictions does not exist"),
                        errhint("Run ALTER EXTENSION dendrite UPDATE, or reinstall the extension.")));
    for (int c = 0; c < 7; ++c) {
        const AttrNumber attnum = get_attnum(state->log_relation, kLogColumns[c]);
        if (attnum == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("dendrite.predictions has no column \"%s\"", kLogColumns[c]),
                            errhint("Run ALTER EXTENSION dendrite UPDATE, or reinstall the extension.")));
        state->log_attributes[c] = attnum - 1;
    }
}

[[noreturn]] void bad_argument(const char* function, const char* message, const char* detail) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s: %s", function, message),
                    detail ? errdetail("%s", detail) : 0,
                    errhint("Arguments: model, action ('reject', 'flag', 'log', 'reject,log' or 'flag,log'), "
                            "threshold (0..1 or 'default'), flag columns (comma-separated), key column.")));
    pg_unreachable();
}

int column_index(TupleDesc descriptor, const char* name, const char* function, const char* role, Relation relation) {
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), name) == 0) return i;
    }
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("%s: table \"%s\" has no column \"%s\" (its %s column)", function,
                           RelationGetRelationName(relation), name, role)));
    pg_unreachable();
}

void parse_action(GuardState* state, const char* action) {
    char* copy = pstrdup(action);
    char* saveptr = nullptr;
    int n = 0;
    for (char* word = strtok_r(copy, ", +", &saveptr); word; word = strtok_r(nullptr, ", +", &saveptr), ++n) {
        if (strcmp(word, "reject") == 0) state->reject = true;
        else if (strcmp(word, "flag") == 0) state->flag = true;
        else if (strcmp(word, "log") == 0) state->log = true;
        else bad_argument(state->function, psprintf("unknown action \"%s\"", word), nullptr);
    }
    if (n == 0) bad_argument(state->function, "the action is empty", nullptr);
    if (state->reject && state->flag)
        bad_argument(state->function, "'reject' and 'flag' exclude each other",
                     "A rejected row is never written, so there is nothing to flag.");
}

// Parses the trigger's arguments and binds them to the table and the serving version, allocating in
// context (which the state then belongs to, pins included).
GuardState* build_guard_state(TriggerData* trigger, const char* function, bool batch, MemoryContext context) {
    MemoryContext old = MemoryContextSwitchTo(context);
    auto* state = static_cast<GuardState*>(palloc0(sizeof(GuardState)));
    state->function = function;
    state->trigger_oid = trigger->tg_trigger->tgoid;
    state->relation_oid = RelationGetRelid(trigger->tg_relation);
    Relation relation = trigger->tg_relation;
    TupleDesc descriptor = RelationGetDescr(relation);
    const Trigger* t = trigger->tg_trigger;
    if (t->tgnargs < 2 || t->tgnargs > 5)
        bad_argument(function, psprintf("expected 2 to 5 trigger arguments, got %d", int(t->tgnargs)), nullptr);
    state->model = pstrdup(t->tgargs[0]);
    parse_action(state, t->tgargs[1]);

    state->default_threshold = true;
    if (t->tgnargs >= 3 && strcmp(t->tgargs[2], "default") != 0) {
        const char* text = t->tgargs[2];
        char* end = nullptr;
        errno = 0;
        const double threshold = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !std::isfinite(threshold) || threshold < 0 || threshold > 1)
            bad_argument(function, psprintf("threshold \"%s\" is not a number between 0 and 1", text), nullptr);
        state->default_threshold = false;
        state->threshold = threshold;
    }

    const bool has_columns = t->tgnargs >= 4 && t->tgargs[3][0] != '\0';
    if (state->flag && !has_columns)
        bad_argument(function, "'flag' needs the column(s) to write", "Give a float column for the score and/or a boolean column as the fourth argument.");
    if (!state->flag && has_columns) bad_argument(function, "flag columns are given but the action does not flag", nullptr);
    if (has_columns) {
        char* copy = pstrdup(t->tgargs[3]);
        char* saveptr = nullptr;
        for (char* name = strtok_r(copy, ", ", &saveptr); name; name = strtok_r(nullptr, ", ", &saveptr)) {
            if (state->n_flag_columns == 2) bad_argument(function, "at most two flag columns (a score and a boolean)", nullptr);
            const int index = column_index(descriptor, name, function, "flag", relation);
            const Oid type = TupleDescAttr(descriptor, index)->atttypid;
            if (type != FLOAT8OID && type != FLOAT4OID && type != NUMERICOID && type != BOOLOID)
                ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                                errmsg("%s: flag column \"%s\" is of type %s", function, name, format_type_be(type)),
                                errhint("A flag column is float8, real or numeric (the score) or boolean (score >= threshold).")));
            state->flag_attnums[state->n_flag_columns] = index;
            state->flag_types[state->n_flag_columns] = type;
            state->n_flag_columns++;
        }
    }

    state->key_attnum = -1;
    if (t->tgnargs >= 5 && t->tgargs[4][0] != '\0') {
        state->key_attnum = column_index(descriptor, t->tgargs[4], function, "key", relation);
    } else {
        Bitmapset* primary_key = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_PRIMARY_KEY);
        if (bms_num_members(primary_key) == 1)
            state->key_attnum = bms_singleton_member(primary_key) + FirstLowInvalidHeapAttributeNumber - 1;
    }
    if (batch && state->flag && state->key_attnum < 0)
        bad_argument(function, "'flag' in the batch trigger needs a key column",
                     "The table has no single-column primary key; name the key column as the fifth argument.");
    if (state->key_attnum >= 0) {
        bool varlena;
        Form_pg_attribute key = TupleDescAttr(descriptor, state->key_attnum);
        getTypeOutputInfo(key->atttypid, &state->key_output_function, &varlena);
        state->key_byval = key->attbyval;
        state->key_typlen = key->attlen;
    }
    state->table_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(relation)),
                                                   RelationGetRelationName(relation));

    if (state->log) resolve_log_relation(state);  // once per state, not per logged row

    state->version = serving_version(state->model);
    pin_version(state->version, context);  // for as long as the state lives
    state->threshold = state->default_threshold ? state->version->threshold : state->threshold;
    bind_row(&state->binding, state->version->featurizer, descriptor, context);
    if (!batch) {  // the batch trigger's buffers (~1 MB) are its statement's, not kept between statements
        state->x = static_cast<float*>(palloc(sizeof(float) * size_t(state->version->n_features + 1)));
        state->scratch = static_cast<float*>(palloc(sizeof(float) * size_t(state->version->scratch_floats)));
    }
    MemoryContextSwitchTo(old);
    return state;
}

// Guard states across statements. fn_extra lives as long as one statement, and building a state costs
// more than scoring a row (~3.5 us against ~1 us: copying the table's descriptor, binding columns by name,
// syscache lookups), which every single-row INSERT paid. Built states are therefore kept per backend,
// keyed by trigger and table, and lent to one statement at a time:
//  * a relcache invalidation of the table (ALTER TABLE, CREATE or DROP TRIGGER, a new primary key, a
//    dropped extension's cascade, a cache reset) marks its states stale; the callback only sets flags,
//    since it can run in the middle of a statement that uses the state;
//  * each statement looks up the serving version again (a list lookup, see model_cache.hpp), so a deploy
//    in any session is seen at the next statement as before;
//  * a stale state, or one built for another version, is deleted once no statement holds it, and rebuilt;
//  * a statement that finds the state lent to an enclosing statement (a trigger inserting into the same
//    table) builds a private one for itself: buffers are never shared.
// The loan ends when the statement's fn_mcxt goes, also on error: a reset callback hands the state back.
constexpr int kCachedGuards = 16;
GuardState* cached_guards = nullptr;
bool guard_callback_registered = false;

void mark_guards_stale(Datum, Oid relation) {
    for (GuardState* state = cached_guards; state; state = state->next)
        if (relation == InvalidOid || state->relation_oid == relation) state->stale = true;
}

void end_loan(void* arg) { static_cast<GuardState*>(arg)->in_use = false; }

void lend(GuardState* state, FunctionCallInfo fcinfo) {
    auto* callback = static_cast<MemoryContextCallback*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
    callback->func = end_loan;
    callback->arg = state;
    MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
    state->in_use = true;
    state->capture = nullptr;  // a capture of an earlier statement that failed is gone with its transaction
    fcinfo->flinfo->fn_extra = state;
}

// Deletes the cached states that no statement holds and that are stale or beyond kCachedGuards (the list
// is newest first, so the oldest go).
void drop_unused_guards() {
    int kept = 0;
    for (GuardState** link = &cached_guards; *link;) {
        GuardState* state = *link;
        if (!state->in_use && (state->stale || kept >= kCachedGuards)) {
            *link = state->next;
            MemoryContextDelete(state->context);  // unpins the version
            continue;
        }
        ++kept;
        link = &state->next;
    }
}

// The state for this statement: fn_extra after its first row; else the cached state of this trigger,
// checked against the serving version; else a new one.
GuardState* guard_state(FunctionCallInfo fcinfo, TriggerData* trigger, const char* function, bool batch) {
    if (fcinfo->flinfo->fn_extra) return static_cast<GuardState*>(fcinfo->flinfo->fn_extra);
    if (!guard_callback_registered) {
        CacheRegisterRelcacheCallback(mark_guards_stale, Datum(0));
        guard_callback_registered = true;
    }
    const Oid trigger_oid = trigger->tg_trigger->tgoid, relation_oid = RelationGetRelid(trigger->tg_relation);
    const auto find = [&]() -> GuardState* {
        for (GuardState* state = cached_guards; state; state = state->next)
            if (state->trigger_oid == trigger_oid && state->relation_oid == relation_oid) return state;
        return nullptr;
    };
    GuardState* cached = find();
    if (cached && !cached->in_use && !cached->stale) {
        // May run a catalog query, and with it invalidations that mark this state stale: check after.
        const CachedVersion* serving = serving_version(cached->model);
        if (!cached->stale && serving == cached->version) {
            lend(cached, fcinfo);
            return cached;
        }
        cached->stale = true;  // built for another version
    }
    drop_unused_guards();
    const bool shared = find() == nullptr;  // else lent to an enclosing statement: build a private state
    MemoryContext context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "dendrite guard", ALLOCSET_SMALL_SIZES);
    GuardState* state = build_guard_state(trigger, function, batch, context);
    if (!shared) {
        fcinfo->flinfo->fn_extra = state;  // deleted with fn_mcxt, its parent
        return state;
    }
    // Complete: only now does it outlive the statement (an error while building freed it with fn_mcxt).
    MemoryContextSetParent(context, TopMemoryContext);
    state->context = context;
    state->next = cached_guards;
    cached_guards = state;
    lend(state, fcinfo);
    drop_unused_guards();
    return state;
}

[[noreturn]] void reject(const GuardState* state, double score, const char* key) {
    ereport(ERROR, (errcode(kRejectedByModel),
                    errmsg("%s rejected by model \"%s\" version %d: score %.4f is at or above the threshold %.4f",
                           key ? psprintf("row %s of %s", key, state->table_name) : psprintf("a row of %s", state->table_name),
                           state->model, state->version->version, score, state->threshold),
                    errhint("The transaction is rolled back; nothing of it is written.")));
    pg_unreachable();
}

// The key of the row last loaded into the binding, as text (NULL without a key column or value).
char* key_text(const GuardState* state) {
    if (state->key_attnum < 0 || state->binding.nulls[state->key_attnum]) return nullptr;
    return OidOutputFunctionCall(state->key_output_function, state->binding.values[state->key_attnum]);
}

// Logs decisions, n rows (keys may hold NULLs), straight into dendrite.predictions: a heap insert and its
// index entries per row, as the executor would make them, without planning and starting an INSERT per row
// (that cost about 20 us a row, 7 times the guarded insert itself). dendrite owns the table and writes only
// values it computed: no permission, CHECK or trigger of the table applies (0.4.0 dropped its foreign key;
// rows of dropped versions are deleted by a trigger on dendrite.model_versions instead). The rows belong to
// the current (sub)transaction like any other write.
void log_decisions(const GuardState* state, int n, char** keys, const float* scores) {
    // Opened and closed per call: a trigger learns of no statement end at which to close relation and
    // indexes, and a reference left open would be a leak at commit. After the first call the lock and the
    // relcache entries are local hits.
    Relation relation = table_open(state->log_relation, RowExclusiveLock);
    TupleDesc descriptor = RelationGetDescr(relation);
    const int* attribute = state->log_attributes;
    ResultRelInfo* info = makeNode(ResultRelInfo);
    InitResultRelInfo(info, relation, 1, nullptr, 0);
    ExecOpenIndices(info, false);
    EState* estate = CreateExecutorState();
    TupleTableSlot* slot = table_slot_create(relation, nullptr);
    const CommandId command = GetCurrentCommandId(true);
    const Datum table_name = CStringGetTextDatum(state->table_name);
    const Datum flag = CStringGetTextDatum("flag"), pass = CStringGetTextDatum("pass");
    const Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    for (int i = 0; i < n; ++i) {
        ExecClearTuple(slot);
        for (int a = 0; a < descriptor->natts; ++a) slot->tts_isnull[a] = true;  // any other column: NULL
        const auto set = [&](int c, Datum value, bool null = false) {
            slot->tts_values[attribute[c]] = value;
            slot->tts_isnull[attribute[c]] = null;
        };
        set(0, Int64GetDatum(state->version->version_id));
        set(1, table_name);
        const Datum key = keys[i] ? CStringGetTextDatum(keys[i]) : Datum(0);
        set(2, key, keys[i] == nullptr);
        set(3, Float8GetDatum(scores[i]));
        set(4, Float8GetDatum(state->threshold));
        set(5, double(scores[i]) >= state->threshold ? flag : pass);
        set(6, now);
        ExecStoreVirtualTuple(slot);
        table_tuple_insert(relation, slot, command, 0, nullptr);
        if (info->ri_NumIndices > 0) {
            List* conflicts = ExecInsertIndexTuples(info, slot, estate, false, false, nullptr, NIL);
            list_free(conflicts);
        }
        ResetPerTupleExprContext(estate);
        // Not through the slot: the insert materialized it, and its values now point into that copy.
        if (keys[i]) pfree(DatumGetPointer(key));
    }
    ExecDropSingleTupleTableSlot(slot);
    FreeExecutorState(estate);
    ExecCloseIndices(info);
    table_close(relation, NoLock);
}

Datum flag_value(Oid type, double score, bool over) {
    switch (type) {
        case BOOLOID: return BoolGetDatum(over);
        case FLOAT4OID: return Float4GetDatum(float(score));
        case NUMERICOID: return DirectFunctionCall1(float8_numeric, Float8GetDatum(score));
        default: return Float8GetDatum(score);
    }
}

void check_trigger_context(FunctionCallInfo fcinfo, const char* function, bool batch) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s can only be called as a trigger", function)));
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    const TriggerEvent event = trigger->tg_event;
    if (!batch && !(TRIGGER_FIRED_BEFORE(event) && TRIGGER_FIRED_FOR_ROW(event) &&
                    (TRIGGER_FIRED_BY_INSERT(event) || TRIGGER_FIRED_BY_UPDATE(event))))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s must be fired BEFORE INSERT OR UPDATE ... FOR EACH ROW", function),
                        errhint("For a statement-level trigger use dendrite.guard_batch.")));
    // guard_batch: AFTER INSERT ... FOR EACH STATEMENT (with a transition table, or closing a row capture),
    // or BEFORE INSERT ... FOR EACH ROW (the row capture).
    const bool statement = TRIGGER_FIRED_AFTER(event) && TRIGGER_FIRED_FOR_STATEMENT(event);
    const bool capture = TRIGGER_FIRED_BEFORE(event) && TRIGGER_FIRED_FOR_ROW(event);
    if (batch && !(TRIGGER_FIRED_BY_INSERT(event) && (statement || capture)))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s must be fired AFTER INSERT ... FOR EACH STATEMENT, or BEFORE INSERT ... FOR EACH ROW", function),
                        errhint("CREATE TRIGGER ... AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows "
                                "FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch(...); or, for bulk loads, "
                                "the same function as a BEFORE INSERT ... FOR EACH ROW trigger plus an AFTER INSERT ... "
                                "FOR EACH STATEMENT trigger without REFERENCING.")));
}

// The batch trigger's 'flag': one UPDATE for the flagged rows of a chunk, and its parameter types,
//   UPDATE <table> AS t SET <flag column> = v.f1[, <flag column> = v.f2]
//     FROM unnest($1::text[], $2::<type>[][, $3::<type>[]]) AS v(k, f1[, f2]) WHERE t.<key> = v.k::<key type>
// The keys travel as text and are cast to the column's type, so its index is used. own_rows_only adds
// "AND t.xmin = $m::xid" (the current transaction's id): a captured row that INSERT ... ON CONFLICT did
// not insert must not flag the existing row that has its key.
char* flag_update_sql(const GuardState* state, TupleDesc descriptor, Oid* types, bool own_rows_only) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "UPDATE %s AS t SET ", state->table_name);
    for (int i = 0; i < state->n_flag_columns; ++i)
        appendStringInfo(&sql, "%s%s = v.f%d", i ? ", " : "",
                         quote_identifier(NameStr(TupleDescAttr(descriptor, state->flag_attnums[i])->attname)), i + 1);
    appendStringInfoString(&sql, " FROM unnest($1");
    types[0] = TEXTARRAYOID;
    for (int i = 0; i < state->n_flag_columns; ++i) {
        appendStringInfo(&sql, ", $%d", i + 2);
        types[i + 1] = get_array_type(state->flag_types[i]);
    }
    appendStringInfoString(&sql, ") AS v(k");
    for (int i = 0; i < state->n_flag_columns; ++i) appendStringInfo(&sql, ", f%d", i + 1);
    Form_pg_attribute key = TupleDescAttr(descriptor, state->key_attnum);
    // The key's type schema-qualified: the update runs with search_path pinned to pg_catalog.
    appendStringInfo(&sql, ") WHERE t.%s = v.k::%s", quote_identifier(NameStr(key->attname)),
                     format_type_be_qualified(key->atttypid));
    if (own_rows_only) {
        appendStringInfo(&sql, " AND t.xmin = $%d::xid", state->n_flag_columns + 2);
        types[state->n_flag_columns + 1] = TEXTOID;
    }
    return sql.data;
}

// Computes the features of the row loaded into the binding (load_row or load_slot) from the inline history.
void featurize_loaded(GuardState* state, float* x) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    const engine::HistoryState* history = inline_history(featurizer);
    engine_call([&] { engine_featurizer->transform(state->binding.raw, history, x); });
}

// Adds the loaded row to the inline history (for a new row, once it is scored: the offline pass's order).
void observe_row(GuardState* state) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    engine::HistoryState* history = inline_history_for_update(featurizer);
    if (!history) return;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    engine_call([&] { engine_featurizer->observe(state->binding.raw, history); });
}

// What guard_batch does with scored rows, a chunk at a time: 'reject' raises on the first row at or above
// the threshold, 'log' records every row, 'flag' updates the flagged rows by key (an AFTER trigger cannot
// change the new rows), through one plan for the statement (SPI stays connected until end_actions).
struct RowActions {
    GuardState* state;
    SPIPlanPtr flag_plan;
    Oid table_owner;        // 'flag' updates the guarded table as its owner (see flag_rows_as_table_owner)
    Datum own_transaction;  // the row capture's 'flag': this transaction's id as text (flag_update_sql)
    char** keys;            // kBatchRows, for 'log'
};

void begin_actions(RowActions* actions, GuardState* state, Relation relation, bool own_rows_only) {
    actions->state = state;
    actions->flag_plan = nullptr;
    actions->own_transaction = own_rows_only ? CStringGetTextDatum(psprintf("%u", GetCurrentTransactionId())) : Datum(0);
    actions->keys = static_cast<char**>(palloc0(sizeof(char*) * kBatchRows));
    if (state->flag) {
        Oid flag_types[4];
        const char* flag_sql = flag_update_sql(state, RelationGetDescr(relation), flag_types, own_rows_only);
        connect_spi();
        actions->table_owner = relation->rd_rel->relowner;
        const int nargs = state->n_flag_columns + (own_rows_only ? 2 : 1);
        with_table_owner_rights(actions->table_owner, [&] {
            actions->flag_plan = SPI_prepare_cursor(flag_sql, nargs, flag_types, CURSOR_OPT_GENERIC_PLAN);
        });
        if (!actions->flag_plan)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not prepare the flag update: %s", SPI_result_code_string(SPI_result)),
                            errdetail("Statement: %s", flag_sql)));
    }
}

// The flag write-back is an UPDATE of the user's table: its triggers, row security policies and the
// functions they call are the table owner's code. They run as the table owner, in a security-restricted
// operation with search_path pinned (as VACUUM, ANALYZE and REINDEX run a table's index expressions): never
// as the extension's owner, and never with the rights of whoever inserts.
void flag_rows_as_table_owner(const RowActions* actions, Datum* values) {
    int rc = 0;
    with_table_owner_rights(actions->table_owner, [&] { rc = SPI_execute_plan(actions->flag_plan, values, nullptr, false, 0); });
    if (rc < 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("the flag update failed: %s", SPI_result_code_string(rc))));
}

// n <= kBatchRows rows; their keys as values (key_nulls[i]: none). Text allocated in the current context.
void act_on_rows(const RowActions* actions, int n, const float* scores, const Datum* key_values, const bool* key_nulls) {
    const GuardState* state = actions->state;
    auto key_of = [&](int i) -> char* {
        if (state->key_attnum < 0 || key_nulls[i]) return nullptr;
        return OidOutputFunctionCall(state->key_output_function, key_values[i]);
    };
    if (state->reject)
        for (int i = 0; i < n; ++i)
            if (scores[i] >= state->threshold) reject(state, scores[i], key_of(i));
    if (state->log) {
        for (int i = 0; i < n; ++i) actions->keys[i] = key_of(i);
        log_decisions(state, n, actions->keys, scores);
    }
    if (state->flag) {
        // The flagged rows' keys and flag values as arrays: one UPDATE for the chunk.
        Datum* keys = static_cast<Datum*>(palloc(sizeof(Datum) * n));
        Datum* flags[2];
        for (int c = 0; c < state->n_flag_columns; ++c) flags[c] = static_cast<Datum*>(palloc(sizeof(Datum) * n));
        int flagged = 0;
        for (int i = 0; i < n; ++i) {
            const bool over = scores[i] >= state->threshold;
            char* key = over ? key_of(i) : nullptr;
            if (!key) continue;
            keys[flagged] = CStringGetTextDatum(key);
            for (int c = 0; c < state->n_flag_columns; ++c) flags[c][flagged] = flag_value(state->flag_types[c], scores[i], over);
            ++flagged;
        }
        if (flagged > 0) {
            Datum values[4];
            values[0] = PointerGetDatum(construct_array(keys, flagged, TEXTOID, -1, false, TYPALIGN_INT));
            for (int c = 0; c < state->n_flag_columns; ++c) {
                int16 length;
                bool by_value;
                char align;
                get_typlenbyvalalign(state->flag_types[c], &length, &by_value, &align);
                values[c + 1] = PointerGetDatum(construct_array(flags[c], flagged, state->flag_types[c], length, by_value, align));
            }
            values[state->n_flag_columns + 1] = actions->own_transaction;  // unused without own_rows_only
            flag_rows_as_table_owner(actions, values);
        }
    }
}

void end_actions(const RowActions* actions) {
    if (actions->flag_plan) finish_spi();
}

// guard_batch AFTER INSERT ... REFERENCING NEW TABLE: the statement's rows read back from the transition
// table, featurized and scored kBatchRows at a time.
void score_transition_table(GuardState* state, TriggerData* trigger) {
    const int n_features = state->version->n_features;
    // Buffers for kBatchRows rows, in the statement's memory (freed when the trigger returns).
    float* x = static_cast<float*>(palloc(sizeof(float) * size_t(n_features + 1) * kBatchRows));
    float* scratch = static_cast<float*>(palloc(sizeof(float) * dendrite::engine::model_batch_scratch_floats(state->version->scorer, kBatchRows)));
    float* scores = static_cast<float*>(palloc(sizeof(float) * kBatchRows));

    Tuplestorestate* rows = trigger->tg_newtable;
    const int read_pointer = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(rows, read_pointer);
    tuplestore_rescan(rows);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(trigger->tg_relation), &TTSOpsMinimalTuple);
    MemoryContext chunk_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite guard batch", ALLOCSET_DEFAULT_SIZES);
    // Keys are kept as values and turned into text only where needed (logged or flagged rows).
    Datum* key_values = static_cast<Datum*>(palloc(sizeof(Datum) * kBatchRows));
    bool* key_nulls = static_cast<bool*>(palloc(sizeof(bool) * kBatchRows));
    RowActions actions;
    begin_actions(&actions, state, trigger->tg_relation, false);  // last: 'flag' connects SPI, which has memory of its own
    bool done = false;
    while (!done) {
        CHECK_FOR_INTERRUPTS();
        // The slot may own a tuple read back from a spilled tuplestore, allocated in chunk_context: let
        // it go before the context does.
        ExecClearTuple(slot);
        MemoryContextReset(chunk_context);
        MemoryContext old = MemoryContextSwitchTo(chunk_context);
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
            act_on_rows(&actions, n, scores, key_values, key_nulls);
        }
        MemoryContextSwitchTo(old);
    }
    end_actions(&actions);
    ExecDropSingleTupleTableSlot(slot);
    MemoryContextDelete(chunk_context);
}

// ---- The row capture: guard_batch fired BEFORE INSERT ... FOR EACH ROW, closed by the same function fired
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
constexpr size_t kChunksInFlight = 2;

struct Capture {
    GuardState* state;          // the row trigger's state, lent to the statement (its actions are done with it)
    MemoryContext statement;    // the row trigger's fn_mcxt
    Oid relation;
    int nargs;                  // the row trigger's arguments: its statement trigger has the same
    char** args;
    int nest_level;             // the (sub)transaction that captured
    const CachedFeaturizer* featurizer;  // pinned by state's version
    bool has_history;
    engine::HistoryState* history;       // the state the sealed chunks observe into
    engine::CapturedRows* rows;          // deleted by end_capture
    size_t captured;
    Datum* key_values;  // per captured row (by-reference values copied into memory)
    bool* key_nulls;
    size_t key_room;
    MemoryContext memory;  // owns the capture (a child of TopTransactionContext)
    Capture* next;
};
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
    for (Capture* capture = captures, *next; capture; capture = next) {
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
                ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
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
        default: break;
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
        const bool fires = t->tgenabled == TRIGGER_FIRES_ALWAYS ||
                           (replica ? t->tgenabled == TRIGGER_FIRES_ON_REPLICA : t->tgenabled == TRIGGER_FIRES_ON_ORIGIN);
        if (fires && (want_row_trigger || !t->tgqual) && same_arguments(t->tgnargs, t->tgargs, trigger->tg_trigger)) return true;
    }
    return false;
}

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
                        errmsg("dendrite.guard_batch cannot capture the rows of partition \"%s\"", RelationGetRelationName(relation)),
                        errhint("On a partitioned table use the statement trigger with REFERENCING NEW TABLE.")));
    if (!has_partner_trigger(trigger, fcinfo->flinfo->fn_oid, false))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("dendrite.guard_batch captures the rows of \"%s\" but no statement trigger scores them",
                               RelationGetRelationName(relation)),
                        errdetail("A BEFORE INSERT ... FOR EACH ROW trigger calling dendrite.guard_batch needs an enabled AFTER "
                                  "INSERT ... FOR EACH STATEMENT trigger calling it with the same arguments."),
                        errhint("CREATE TRIGGER ... AFTER INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch(...), "
                                "with this trigger's arguments.", state->table_name)));
    if (!capture_callbacks_registered) {
        RegisterXactCallback(captures_at_transaction_end, nullptr);
        RegisterSubXactCallback(captures_at_subtransaction_end, nullptr);
        capture_callbacks_registered = true;
    }
    MemoryContext memory = AllocSetContextCreate(TopTransactionContext, "dendrite guard_batch capture", ALLOCSET_DEFAULT_SIZES);
    auto* capture = static_cast<Capture*>(MemoryContextAllocZero(memory, sizeof(Capture)));
    capture->memory = memory;
    capture->state = state;
    capture->statement = fcinfo->flinfo->fn_mcxt;
    capture->relation = RelationGetRelid(relation);
    capture->nargs = trigger->tg_trigger->tgnargs;
    capture->args = static_cast<char**>(MemoryContextAlloc(memory, sizeof(char*) * size_t(capture->nargs + 1)));
    for (int i = 0; i < capture->nargs; ++i) capture->args[i] = MemoryContextStrdup(memory, trigger->tg_trigger->tgargs[i]);
    capture->nest_level = GetCurrentTransactionNestLevel();
    capture->featurizer = state->version->featurizer;
    capture->has_history = !capture->featurizer->featurizer->spec().history.empty();
    capture->history = inline_history_for_update(capture->featurizer);  // built here if need be (a query)
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

Datum capture_row(FunctionCallInfo fcinfo, TriggerData* trigger) {
    GuardState* state = guard_state(fcinfo, trigger, "dendrite.guard_batch", true);
    Capture* capture = state->capture ? state->capture : start_capture(state, fcinfo, trigger);
    HeapTuple tuple = trigger->tg_trigtuple;
    RowBinding* binding = &state->binding;
    load_row(binding, tuple);
    engine_call([&] { capture->rows->add_row(binding->raw); });
    if (state->key_attnum >= 0) {
        if (capture->captured == capture->key_room) {
            const size_t room = capture->key_room ? 2 * capture->key_room : 64;
            capture->key_values = static_cast<Datum*>(capture->key_room ? repalloc_huge(capture->key_values, room * sizeof(Datum))
                                                                        : MemoryContextAllocHuge(capture->memory, room * sizeof(Datum)));
            capture->key_nulls = static_cast<bool*>(capture->key_room ? repalloc_huge(capture->key_nulls, room * sizeof(bool))
                                                                      : MemoryContextAllocHuge(capture->memory, room * sizeof(bool)));
            capture->key_room = room;
        }
        const bool null = binding->nulls[state->key_attnum];
        capture->key_nulls[capture->captured] = null;
        if (!null) {
            MemoryContext old = MemoryContextSwitchTo(capture->memory);
            capture->key_values[capture->captured] = datumCopy(binding->values[state->key_attnum], state->key_byval, state->key_typlen);
            MemoryContextSwitchTo(old);
        }
    }
    capture->captured++;
    if (capture->rows->open_rows() == engine::CapturedRows::kChunkRows) {
        // A full chunk goes to the helper; the backend waits only when it is kChunksInFlight chunks ahead.
        seal_chunk(capture, background_worker());
        wait_for_background_work(kChunksInFlight);
    }
    return PointerGetDatum(tuple);
}

// The statement trigger closing a capture: the last chunk, then the actions on every captured row.
void score_capture(Capture* capture, Relation relation) {
    // The last (short) chunk runs where the others ran, after them: on the helper if there is one.
    if (capture->rows->open_rows() > 0) seal_chunk(capture, running_background_worker());
    wait_for_background_work(0);
    engine_call([&] { capture->rows->rethrow_error(); });

    GuardState* state = capture->state;
    MemoryContext chunk_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite guard batch", ALLOCSET_DEFAULT_SIZES);
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
        if (capture->statement == fcinfo->flinfo->fn_mcxt && capture->relation == RelationGetRelid(trigger->tg_relation) &&
            same_arguments(capture->nargs, capture->args, trigger->tg_trigger))
            return capture;
    return nullptr;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_guard) {
    check_trigger_context(fcinfo, "dendrite.guard", false);
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    GuardState* state = guard_state(fcinfo, trigger, "dendrite.guard", false);
    const bool inserting = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    HeapTuple tuple = inserting ? trigger->tg_trigtuple : trigger->tg_newtuple;

    // Score first: a rejected row must not join the history. Only a new row that passes is observed.
    load_row(&state->binding, tuple);
    featurize_loaded(state, state->x);
    const double score = dendrite::engine::score_one(state->version->scorer, state->x, state->scratch);
    const bool over = score >= state->threshold;
    if (over && state->reject) reject(state, score, key_text(state));
    if (inserting) observe_row(state);
    if (state->log) {
        char* key = key_text(state);
        float score_value = float(score);
        log_decisions(state, 1, &key, &score_value);
    }
    if (state->flag) {
        // The row is already deformed in the binding: form the flagged tuple from those values rather
        // than deforming it again (heap_modify_tuple would).
        Datum* values = state->binding.values;
        bool* nulls = state->binding.nulls;
        for (int i = 0; i < state->n_flag_columns; ++i) {
            values[state->flag_attnums[i]] = flag_value(state->flag_types[i], score, over);
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
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("dendrite.guard_batch fired FOR EACH STATEMENT has no rows to score"),
                        errdetail("It reads the statement's rows from REFERENCING NEW TABLE, or from a BEFORE INSERT ... FOR "
                                  "EACH ROW trigger calling dendrite.guard_batch with the same arguments."),
                        errhint("CREATE TRIGGER ... AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                                "EXECUTE FUNCTION dendrite.guard_batch(...)")));
    }
    // else: the row capture saw no row of this statement (none inserted, or its WHEN clause matched none)
    return PointerGetDatum(nullptr);
}
