// INSERT ... ON CONFLICT under a row trigger that keeps history. PostgreSQL fires BEFORE ROW triggers before it
// checks the conflict, so dendrite.guard (and guard_batch's row capture) observe into the backend's inline
// history rows that ON CONFLICT then skips or turns into updates: a retried payment counts twice in its
// card's velocity. The trigger cannot tell from its arguments; executor hooks note which statements insert
// with ON CONFLICT into which tables (and their executor state), so that both row triggers can ask PostgreSQL's
// own conflict check before it observes a row, and otherwise says so once per statement (a WARNING).
#pragma once

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Installs the executor hooks (from _PG_init). A backend that loads dendrite during a statement watches from
// its next statement on (shared_preload_libraries: from the first).
void watch_upserts();
// For a BEFORE ROW trigger about to let tuple into relation: false when the running statement inserts with ON
// CONFLICT and an arbiter index already holds the row's key (PostgreSQL will skip the row, or update the row
// it conflicts with), checked as ExecInsert checks right after the triggers (for a partition, against the
// arbiter indexes routing mapped to it; an INSERT in a WITH clause as its own node); true otherwise. Should
// the statement's state not be at hand, it warns (a WARNING, once per statement) and answers true. (A concurrent insert of
// the same key after the check can still make PostgreSQL skip the row.)
bool row_will_be_inserted(Relation relation, HeapTuple tuple, const char* what);

}  // namespace dendrite::pg
