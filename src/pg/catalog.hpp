// Thin SPI helpers for the catalog in schema dendrite. Every statement passes values as parameters:
// no name or value is ever spliced into SQL text.
#pragma once

#include <initializer_list>

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// A parameter-type list for the helpers below: oids({INT8OID, TEXTOID}). The array lives until the end of
// the full expression, which covers the call.
inline const Oid* oids(std::initializer_list<Oid> types) { return types.begin(); }

// The OID of the dendrite extension in this database (InvalidOid when it is not installed). Cached
// entries remember it: after DROP EXTENSION and CREATE EXTENSION in one backend, ids restart and an entry
// of the old extension must not answer for a new row with the same id.
Oid extension_oid();

// The backend's local transaction id: changes with every transaction, also inside a procedure that commits.
LocalTransactionId current_local_transaction();


void connect_spi();
void finish_spi();

// Runs a statement; raises on failure.
void execute(const char* sql, int nargs, const Oid* types, Datum* values);
// Runs a statement that returns exactly one non-NULL bigint/int value in its first column.
int64 query_int64(const char* sql, int nargs, const Oid* types, Datum* values);
// A plan kept for the rest of the SPI connection, and its execution (no NULL values).
SPIPlanPtr prepare(const char* sql, int nargs, const Oid* types);
void execute_plan(SPIPlanPtr plan, Datum* values);

}  // namespace dendrite::pg
