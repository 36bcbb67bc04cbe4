#include "pg/guard_actions.hpp"

#include <algorithm>

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/values.hpp"

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
#include "utils/syscache.h"
#include "catalog/pg_operator.h"
}

namespace dendrite::pg {

namespace {

// The batch trigger's 'flag': one UPDATE for flagged rows, and its parameter types,
//   UPDATE <table> AS t SET <flag column> = v.f1[, <flag column> = v.f2]
//     FROM unnest($1::<key type>[], $2::<type>[][, $3::<type>[]]) AS v(k, f1[, f2])
//     WHERE t.<key> OPERATOR(<schema>.=) v.k
// The keys travel as values of their own type, compared with the type's default equality (check_flag_key),
// so the key's index is used and a key finds its row exactly. own_rows_only adds "AND t.xmin = $m::xid" (the
// current transaction's id): a captured row that INSERT ... ON CONFLICT did not insert must not flag the
// existing row that has its key.
char* flag_update_sql(const GuardState* state, TupleDesc descriptor, Oid* types, bool own_rows_only) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "UPDATE %s AS t SET ", state->table_name);
    for (int i = 0; i < state->n_flag_columns; ++i)
        appendStringInfo(&sql, "%s%s = v.f%d", i ? ", " : "",
                         quote_identifier(NameStr(TupleDescAttr(descriptor, state->flag_attnums[i])->attname)), i + 1);
    appendStringInfoString(&sql, " FROM unnest($1");
    types[0] = get_array_type(state->key_type);
    for (int i = 0; i < state->n_flag_columns; ++i) {
        appendStringInfo(&sql, ", $%d", i + 2);
        types[i + 1] = get_array_type(state->flag_types[i]);
    }
    appendStringInfoString(&sql, ") AS v(k");
    for (int i = 0; i < state->n_flag_columns; ++i) appendStringInfo(&sql, ", f%d", i + 1);
    // The operator schema-qualified: the update runs with search_path pinned to pg_catalog.
    HeapTuple equality = SearchSysCache1(OPEROID, ObjectIdGetDatum(state->key_equality));
    if (!HeapTupleIsValid(equality)) elog(ERROR, "cache lookup failed for operator %u", state->key_equality);
    const auto* op = reinterpret_cast<Form_pg_operator>(GETSTRUCT(equality));
    appendStringInfo(&sql, ") WHERE t.%s OPERATOR(%s.%s) v.k",
                     quote_identifier(NameStr(TupleDescAttr(descriptor, state->key_attnum)->attname)),
                     quote_identifier(get_namespace_name(op->oprnamespace)), NameStr(op->oprname));
    ReleaseSysCache(equality);
    if (own_rows_only) {
        appendStringInfo(&sql, " AND t.xmin = $%d::xid", state->n_flag_columns + 2);
        types[state->n_flag_columns + 1] = TEXTOID;
    }
    return sql.data;
}

// The flag write-back is an UPDATE of the user's table: its triggers, row security policies and the
// functions they call are the table owner's code. They run as the table owner, in a security-restricted
// operation with search_path pinned (as VACUUM, ANALYZE and REINDEX run a table's index expressions): never
// as the extension's owner, and never with the rights of whoever inserts.
void flag_rows_as_table_owner(const RowActions* actions, Datum* values) {
    int rc = 0;
    with_table_owner_rights(actions->table_owner,
                            [&] { rc = SPI_execute_plan(actions->flag_plan, values, nullptr, false, 0); });
    if (rc < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR), errmsg("the flag update failed: %s", SPI_result_code_string(rc))));
}

// One UPDATE for the flagged rows waiting in actions, then their values' memory goes.
void write_waiting_flags(RowActions* actions) {
    if (actions->flag_rows == 0) return;
    const GuardState* state = actions->state;
    MemoryContext old = MemoryContextSwitchTo(actions->flag_datums);
    Datum values[4];
    values[0] = PointerGetDatum(construct_array(actions->flag_keys, actions->flag_rows, state->key_type,
                                                state->key_typlen, state->key_byval, state->key_align));
    for (int c = 0; c < state->n_flag_columns; ++c) {
        int16 length;
        bool by_value;
        char align;
        get_typlenbyvalalign(state->flag_types[c], &length, &by_value, &align);
        values[c + 1] = PointerGetDatum(construct_array(actions->flag_values[c], actions->flag_rows,
                                                        state->flag_types[c], length, by_value, align));
    }
    values[state->n_flag_columns + 1] = actions->own_transaction;  // unused without own_rows_only
    MemoryContextSwitchTo(old);
    flag_rows_as_table_owner(actions, values);
    actions->flag_rows = 0;
    MemoryContextReset(actions->flag_datums);
}

// Room for one more waiting flagged row: the arrays double (from a chunk's rows) up to kFlagRowsPerUpdate,
// and when that many wait they are written first.
void make_room_for_a_flag(RowActions* actions) {
    if (actions->flag_rows == kFlagRowsPerUpdate) write_waiting_flags(actions);
    if (actions->flag_rows < actions->flag_capacity) return;
    const int capacity = actions->flag_capacity ? std::min(2 * actions->flag_capacity, kFlagRowsPerUpdate) : kBatchRows;
    auto grown = [&](Datum* array) {
        return static_cast<Datum*>(array ? repalloc(array, sizeof(Datum) * capacity)
                                         : MemoryContextAlloc(actions->flag_memory, sizeof(Datum) * capacity));
    };
    actions->flag_keys = grown(actions->flag_keys);
    for (int c = 0; c < actions->state->n_flag_columns; ++c) actions->flag_values[c] = grown(actions->flag_values[c]);
    actions->flag_capacity = capacity;
}

}  // namespace

[[noreturn]] void reject(const GuardState* state, double score, const char* key, const char* reasons) {
    ereport(ERROR,
            (errcode(kRejectedByModel),
             errmsg("%s rejected by model \"%s\" version %d: score %.4f is at or above the threshold %.4f",
                    key ? psprintf("row %s of %s", key, state->table_name) : psprintf("a row of %s", state->table_name),
                    state->model, state->version->version, score, state->threshold),
             reasons && reasons[0] ? errdetail("Top reasons: %s.", reasons) : 0,
             errhint("The transaction is rolled back; nothing of it is written.")));
    pg_unreachable();
}

// Logs decisions, n rows (keys may hold NULLs), straight into dendrite.predictions: a heap insert and its
// index entries per row, as the executor would make them, without planning and starting an INSERT per row
// (that cost about 20 us a row, 7 times the guarded insert itself). dendrite owns the table and writes only
// values it computed: no permission, CHECK or trigger of the table applies (0.4.0 dropped its foreign key;
// rows of dropped versions are deleted by a trigger on dendrite.model_versions instead). The rows belong to
// the current (sub)transaction like any other write.
void log_decisions(const GuardState* state, int n, char** keys, const float* scores, const Datum* reasons,
                   bool shadow) {
    const CachedVersion* version = shadow ? state->shadow : state->version;
    const double threshold = shadow ? state->shadow_threshold : state->threshold;
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
    const Datum table_name = CStringGetTextDatum(state->logged_table_name);
    const Datum flag = CStringGetTextDatum("flag"), pass = CStringGetTextDatum("pass");
    const Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    for (int i = 0; i < n; ++i) {
        if (std::isnan(scores[i])) {
            // The serving version's scores were checked (a NaN is an error there); a shadow never acts, and
            // its NaN is no decision to log.
            if (!shadow) report_unscorable(version, nullptr);
            ereport(WARNING, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                              errmsg("shadow version %d of model \"%s\" cannot score a row of %s: its arithmetic "
                                     "overflowed",
                                     version->version, version->model, state->table_name),
                              errdetail("Its decision on the row%s%s is not logged; the serving version's is.",
                                        keys[i] ? " with key " : "", keys[i] ? keys[i] : "")));
            continue;
        }
        ExecClearTuple(slot);
        for (int a = 0; a < descriptor->natts; ++a) slot->tts_isnull[a] = true;  // any other column: NULL
        const auto set = [&](int c, Datum value, bool null = false) {
            slot->tts_values[attribute[c]] = value;
            slot->tts_isnull[attribute[c]] = null;
        };
        set(0, Int64GetDatum(version->version_id));
        set(1, table_name);
        const Datum key = keys[i] ? CStringGetTextDatum(keys[i]) : Datum(0);
        set(2, key, keys[i] == nullptr);
        set(3, Float8GetDatum(scores[i]));
        set(4, Float8GetDatum(threshold));
        set(5, double(scores[i]) >= threshold ? flag : pass);
        set(6, now);
        if (reasons && reasons[i]) set(7, reasons[i]);
        if (attribute[8] >= 0) set(8, BoolGetDatum(shadow));
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

Datum flag_value(Oid type, int32 typmod, double score, bool over) {
    switch (type) {
        case BOOLOID:
            return BoolGetDatum(over);
        case FLOAT4OID:
            return Float4GetDatum(float(score));
        case NUMERICOID: {
            // A BEFORE trigger's tuple is stored as it is returned: PostgreSQL applies no column typmod to it
            // (as it does to an INSERT's values), so a numeric(5, 4) column would keep all of the score's digits.
            const Datum value = DirectFunctionCall1(float8_numeric, Float8GetDatum(score));
            return typmod >= 0 ? DirectFunctionCall2(numeric, value, Int32GetDatum(typmod)) : value;
        }
        default:
            return Float8GetDatum(score);
    }
}

void begin_actions(RowActions* actions, GuardState* state, Relation relation, bool own_rows_only) {
    actions->state = state;
    actions->flag_plan = nullptr;
    actions->own_transaction =
        own_rows_only ? CStringGetTextDatum(psprintf("%u", GetCurrentTransactionId())) : Datum(0);
    actions->keys = static_cast<char**>(palloc0(sizeof(char*) * kBatchRows));
    actions->flag_memory = actions->flag_datums = nullptr;
    actions->flag_keys = actions->flag_values[0] = actions->flag_values[1] = nullptr;
    actions->flag_rows = actions->flag_capacity = 0;
    actions->flagged_without_key = 0;
    if (state->flag) {
        // A child of the statement's context (the trigger's caller's), so that it goes with it on an error too.
        actions->flag_memory =
            AllocSetContextCreate(CurrentMemoryContext, "dendrite guard batch flags", ALLOCSET_DEFAULT_SIZES);
        actions->flag_datums =
            AllocSetContextCreate(actions->flag_memory, "dendrite guard batch flag values", ALLOCSET_DEFAULT_SIZES);
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

// n <= kBatchRows rows; their keys as values (key_nulls[i]: none). Text allocated in the current context.
void act_on_rows(RowActions* actions, int n, const float* scores, const Datum* key_values, const bool* key_nulls,
                 const Datum* reasons) {
    const GuardState* state = actions->state;
    auto key_of = [&](int i) -> char* {
        if (state->key_attnum < 0 || key_nulls[i]) return nullptr;
        return key_as_text(state->key_output_function, state->key_blank_padded, key_values[i]);
    };
    if (state->reject)
        for (int i = 0; i < n; ++i)
            if (scores[i] >= state->threshold) reject(state, scores[i], key_of(i));
    if (state->log) {
        for (int i = 0; i < n; ++i) actions->keys[i] = key_of(i);
        log_decisions(state, n, actions->keys, scores, reasons);
    }
    if (state->flag) {
        // The flagged rows' keys and flag values wait for the next UPDATE (of many chunks' rows).
        for (int i = 0; i < n; ++i) {
            const bool over = scores[i] >= state->threshold;
            if (!over) continue;
            if (state->key_attnum < 0 || key_nulls[i]) {  // no key: no row to update (end_actions says so)
                ++actions->flagged_without_key;
                continue;
            }
            make_room_for_a_flag(actions);
            MemoryContext old = MemoryContextSwitchTo(actions->flag_datums);
            // A copy whole and uncompressed (an INSERT ... SELECT may hand on the source's compressed value).
            actions->flag_keys[actions->flag_rows] =
                state->key_typlen == -1 ? PointerGetDatum(PG_DETOAST_DATUM_COPY(key_values[i]))
                                        : datumCopy(key_values[i], state->key_byval, state->key_typlen);
            for (int c = 0; c < state->n_flag_columns; ++c)
                actions->flag_values[c][actions->flag_rows] =
                    flag_value(state->flag_types[c], state->flag_typmods[c], scores[i], over);
            MemoryContextSwitchTo(old);
            ++actions->flag_rows;
        }
    }
}

void end_actions(RowActions* actions) {
    if (!actions->flag_plan) return;
    write_waiting_flags(actions);
    finish_spi();
    if (actions->flagged_without_key > 0)
        ereport(WARNING,
                (errmsg("%s: %lld rows of %s at or above the threshold were not flagged: their key \"%s\" is NULL",
                        actions->state->function, static_cast<long long>(actions->flagged_without_key),
                        actions->state->table_name, actions->state->key_name),
                 errdetail("'flag' in the batch trigger finds its rows again by key; 'log' and 'reject' act on them."),
                 errhint("Give every row a key, or use dendrite.guard, which flags each row as it is inserted.")));
}

}  // namespace dendrite::pg
