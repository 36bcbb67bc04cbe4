#include "pg/upsert_watch.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/partition.h"
#include "executor/executor.h"
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
};
constexpr int kWatched = 32;  // nesting deeper than this goes unwatched (it only costs the warning)
Upsert upserts[kWatched];
int n_upserts = 0;
bool callbacks_registered = false;

void note(QueryDesc* query, const Plan* plan) {
    if (!plan || !IsA(plan, ModifyTable)) return;
    const auto* modify = reinterpret_cast<const ModifyTable*>(plan);
    if (modify->operation != CMD_INSERT || modify->onConflictAction == ONCONFLICT_NONE || !modify->resultRelations)
        return;
    if (n_upserts == kWatched) return;
    const Oid relation = rt_fetch(Index(linitial_int(modify->resultRelations)), query->plannedstmt->rtable)->relid;
    upserts[n_upserts++] = {query, relation, GetCurrentTransactionNestLevel(), false};
}

void executor_start(QueryDesc* query, int eflags) {
    if (previous_start)
        previous_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
    const PlannedStmt* statement = query->plannedstmt;
    if (!statement || (statement->commandType != CMD_INSERT && !statement->hasModifyingCTE)) return;
    note(query, statement->planTree);
    ListCell* cell;
    foreach (cell, statement->subplans)  // an INSERT in a WITH clause
        note(query, static_cast<const Plan*>(lfirst(cell)));
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

}  // namespace dendrite::pg
