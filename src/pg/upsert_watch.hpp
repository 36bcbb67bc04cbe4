// INSERT ... ON CONFLICT under a row trigger that keeps history. PostgreSQL fires BEFORE ROW triggers before it
// checks the conflict, so dendrite.guard (and guard_batch's row capture) observe into the backend's inline
// history rows that ON CONFLICT then skips or turns into updates: a retried payment counts twice in its
// card's velocity. The trigger cannot tell from its arguments; executor hooks note which statements insert
// with ON CONFLICT into which tables, and the trigger says so once per statement (a WARNING, not silence).
#pragma once

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Installs the executor hooks (from _PG_init). A backend that loads dendrite during a statement watches from
// its next statement on (shared_preload_libraries: from the first).
void watch_upserts();
// A WARNING, once per statement, when the running statement inserts into relation (or, for a partition, its
// partitioned table) with ON CONFLICT. what: the trigger function's name.
void warn_if_upsert(Relation relation, const char* what);

}  // namespace dendrite::pg
