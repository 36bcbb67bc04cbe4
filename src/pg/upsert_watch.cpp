#include "pg/upsert_watch.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/partition.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

namespace {

ExecutorStart_hook_type previous_start = nullptr;
ExecutorEnd_hook_type previous_end = nullptr;

// The running statements' ON CONFLICT inserts (nested statements push theirs on top): which table, and
// whether a trigger already warned. A statement that ends in an error never reaches ExecutorEnd: the
// (sub)transaction's end drops its entries.
struct Upsert {
    QueryDesc* query;
    Oid relation;
    int nest_level;
    bool warned;
    ModifyTableState* state;  // the statement's node (or its WITH clause's), its result relation's indexes open
    TupleTableSlot* slot;     // the conflict check's, made at first use in the statement's memory; its
                              // descriptor is the checked relation's (a partition's may differ)
};
constexpr int kWatched = 32;  // nesting deeper than this goes unwatched (it only costs the warning)
Upsert upserts[kWatched];
int n_upserts = 0;
bool callbacks_registered = false;

void note(QueryDesc* query, const Plan* plan, ModifyTableState* state) {
    if (!plan || !IsA(plan, ModifyTable)) return;
    const auto* modify = reinterpret_cast<const ModifyTable*>(plan);
    if (modify->operation != CMD_INSERT || modify->onConflictAction == ONCONFLICT_NONE || !modify->resultRelations)
        return;
    if (n_upserts == kWatched) return;
    const Oid relation = rt_fetch(Index(linitial_int(modify->resultRelations)), query->plannedstmt->rtable)->relid;
    upserts[n_upserts++] = {query, relation, GetCurrentTransactionNestLevel(), false, state, nullptr};
}

void executor_start(QueryDesc* query, int eflags) {
    if (previous_start)
        previous_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
    const PlannedStmt* statement = query->plannedstmt;
    if (!statement || (statement->commandType != CMD_INSERT && !statement->hasModifyingCTE)) return;
    ModifyTableState* top = query->planstate && IsA(query->planstate, ModifyTableState)
                                ? reinterpret_cast<ModifyTableState*>(query->planstate)
                                : nullptr;
    note(query, statement->planTree, top);
    // An INSERT in a WITH clause: its node is one of the statement's secondary ModifyTableStates.
    ListCell* cell;
    foreach (cell, query->estate->es_auxmodifytables) {
        auto* state = static_cast<ModifyTableState*>(lfirst(cell));
        note(query, state->ps.plan, state);
    }
}

void forget(QueryDesc* query) {
    int kept = 0;
    for (int i = 0; i < n_upserts; ++i)
        if (upserts[i].query != query) upserts[kept++] = upserts[i];
    n_upserts = kept;
}

void executor_end(QueryDesc* query) {
    forget(query);
    if (previous_end)
        previous_end(query);
    else
        standard_ExecutorEnd(query);
}

void at_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_COMMIT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
        n_upserts = 0;
}

void at_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event != SUBXACT_EVENT_ABORT_SUB) return;
    const int level = GetCurrentTransactionNestLevel();
    int kept = 0;
    for (int i = 0; i < n_upserts; ++i)
        if (upserts[i].nest_level < level) upserts[kept++] = upserts[i];
    n_upserts = kept;
}

// The ResultRelInfo a partitioned table's INSERT routed rows to partition id through (its arbiter indexes
// mapped to the partition's own), or NULL.
ResultRelInfo* routed_partition(ModifyTableState* state, Oid id) {
    ListCell* cell;
    foreach (cell, state->ps.state->es_tuple_routing_result_relations) {
        auto* info = static_cast<ResultRelInfo*>(lfirst(cell));
        if (RelationGetRelid(info->ri_RelationDesc) == id) return info;
    }
    return nullptr;
}

// A WARNING, once per statement, when the running statement inserts into relation (or, for a partition, its
// partitioned table) with ON CONFLICT: row_will_be_inserted's answer where the statement's state is not at
// hand. what: the trigger function's name.
void warn_if_upsert(Relation relation, const char* what) {
    if (n_upserts == 0) return;  // the common case: one test
    const Oid id = RelationGetRelid(relation);
    List* ancestors = relation->rd_rel->relispartition ? get_partition_ancestors(id) : NIL;
    for (int i = n_upserts - 1; i >= 0; --i) {  // the innermost statement first
        Upsert& upsert = upserts[i];
        if (upsert.relation != id && !list_member_oid(ancestors, upsert.relation)) continue;
        if (upsert.warned) return;
        upsert.warned = true;
        ereport(WARNING,
                (errcode(ERRCODE_WARNING),
                 errmsg("%s counts this INSERT ... ON CONFLICT's rows in its inline history before the conflict is "
                        "checked",
                        what),
                 errdetail("PostgreSQL fires BEFORE ROW triggers first: a row that ON CONFLICT skips or turns into "
                           "an update still counts in this backend's entity history (a retried payment twice in its "
                           "card's velocity) until the state is rebuilt."),
                 errhint("Guard upserts with dendrite.guard_batch over a transition table (AFTER INSERT ... "
                         "REFERENCING NEW TABLE ... FOR EACH STATEMENT), which sees only the inserted rows.")));
        return;
    }
}

}  // namespace

void watch_upserts() {
    previous_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
    previous_end = ExecutorEnd_hook;
    ExecutorEnd_hook = executor_end;
    if (!callbacks_registered) {
        RegisterXactCallback(at_transaction_end, nullptr);
        RegisterSubXactCallback(at_subtransaction_end, nullptr);
        callbacks_registered = true;
    }
}

bool row_will_be_inserted(Relation relation, HeapTuple tuple, const char* what) {
    if (n_upserts == 0) return true;  // the common case: one test
    const Oid id = RelationGetRelid(relation);
    for (int i = n_upserts - 1; i >= 0; --i) {  // the innermost statement first
        Upsert& upsert = upserts[i];
        ModifyTableState* state = upsert.state;
        ResultRelInfo* info = nullptr;
        if (upsert.relation == id) {
            info = state ? state->resultRelInfo : nullptr;
            if (!info || RelationGetRelid(info->ri_RelationDesc) != id) break;  // not at hand: the warning
        } else if (state && relation->rd_rel->relispartition) {
            info = routed_partition(state, id);
            if (!info) continue;  // not a partition this statement routed a row to
        } else {
            continue;
        }
        // What ExecInsert checks right after the BEFORE triggers (its speculative insertion's pre-check):
        // whether an arbiter index (any unique one when ON CONFLICT names none; a partition's, as
        // ExecInitPartitionInfo mapped them) already holds the row's key.
        EState* estate = state->ps.state;
        if (!upsert.slot) {
            MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
            // A heap tuple's slot (the trigger holds a HeapTuple), dropped with the statement's tuple table;
            // made without a fixed descriptor, so that partitions of other row types can take it in turn.
            upsert.slot = ExecAllocTableSlot(&estate->es_tupleTable, nullptr, &TTSOpsHeapTuple);
            MemoryContextSwitchTo(old);
        }
        if (upsert.slot->tts_tupleDescriptor != RelationGetDescr(relation))
            ExecSetSlotDescriptor(upsert.slot, RelationGetDescr(relation));
        ExecStoreHeapTuple(tuple, upsert.slot, false);
        ItemPointerData conflicting;
        const bool inserted =
            ExecCheckIndexConstraints(info, upsert.slot, estate, &conflicting, info->ri_onConflictArbiterIndexes);
        ExecClearTuple(upsert.slot);
        return inserted;
    }
    warn_if_upsert(relation, what);
    return true;
}

}  // namespace dendrite::pg
