// Thin SPI helpers for the catalog in schema dendrite. Every statement passes values as parameters:
// no name or value is ever spliced into SQL text. Every statement runs as the extension's owner with
// search_path pinned to pg_catalog, pg_temp (with_owner_rights): the catalog tables are not writable, and
// mostly not readable, by the roles that train and score (see privileges.hpp). Users' queries never go
// through these helpers.
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


// Runs statement() as the extension's owner, in a security-restricted operation, with search_path pinned.
// The caller's identity and search_path come back when it returns or raises. statement() must own no
// object with a destructor (it may longjmp).
struct OwnerRights {
    Oid user;
    int security_context;
    int guc_level;
};
OwnerRights enter_owner_rights();
void leave_owner_rights(const OwnerRights& rights, bool completed);
template <typename F>
void with_owner_rights(F&& statement) {
    const OwnerRights rights = enter_owner_rights();
    PG_TRY();
    {
        statement();
    }
    PG_CATCH();
    {
        leave_owner_rights(rights, false);
        PG_RE_THROW();
    }
    PG_END_TRY();
    leave_owner_rights(rights, true);
}

// Whether schema dendrite has this table: a new library may run on a catalog that ALTER EXTENSION UPDATE
// has not brought to its version yet, and then stores only what the old catalog has room for.
bool catalog_has_table(const char* name);

void connect_spi();
void finish_spi();

// Runs a statement; raises on failure. nulls: SPI's ' '/'n' per value, or NULL for none.
void execute(const char* sql, int nargs, const Oid* types, Datum* values, const char* nulls = nullptr);
// Runs a statement that returns exactly one non-NULL bigint/int value in its first column.
int64 query_int64(const char* sql, int nargs, const Oid* types, Datum* values);
// A plan kept for the rest of the SPI connection, and its execution (no NULL values). The plan is generic,
// planned once: these statements run many times with parameters that never change the best plan (a row
// insert, an update by key), and SPI's default would plan each of the first five executions again.
SPIPlanPtr prepare(const char* sql, int nargs, const Oid* types);
void execute_plan(SPIPlanPtr plan, Datum* values);

}  // namespace dendrite::pg
