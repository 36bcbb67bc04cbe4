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

// The role that owns the extension (privileges.hpp's extension_owner).
Oid extension_owner_id();

// The backend's local transaction id: changes with every transaction, also inside a procedure that commits.
LocalTransactionId current_local_transaction();

// Runs statement() as another role, in a security-restricted operation (no SET ROLE, no temporary objects,
// no deferred work), with search_path set to search_path. The caller's identity and search_path come back
// when it returns or raises. statement() must own no object with a destructor (it may longjmp). The three
// kinds of call site, each named for whose rights it lends (docs/sql.md, "Privileges"):
//   with_owner_rights        dendrite's own catalog statements, as the extension's owner (the helpers below);
//   with_table_owner_rights  guard_batch's write-back to a guarded table, as that table's owner (as
//                            VACUUM and REINDEX run a table's index expressions);
//   with_query_owner_rights  a stored query, as the owner of the object that stores it (as a view's query).
struct SavedRights {
    Oid user;
    int security_context;
    int guc_level;
};
SavedRights enter_role_rights(Oid role, const char* search_path);
void leave_role_rights(const SavedRights& rights, bool completed);
template <typename F>
void with_role_rights(Oid role, const char* search_path, F&& statement) {
    const SavedRights rights = enter_role_rights(role, search_path);
    PG_TRY();
    { statement(); }
    PG_CATCH();
    {
        leave_role_rights(rights, false);
        PG_RE_THROW();
    }
    PG_END_TRY();
    leave_role_rights(rights, true);
}

// The search_path of every elevated statement: nothing a caller created can stand in for pg_catalog's objects.
constexpr const char* kPinnedSearchPath = "pg_catalog, pg_temp";

template <typename F>
void with_owner_rights(F&& statement) {
    with_role_rights(extension_owner_id(), kPinnedSearchPath, statement);
}

template <typename F>
void with_table_owner_rights(Oid relation_owner, F&& statement) {
    with_role_rights(relation_owner, kPinnedSearchPath, statement);
}

// Whether schema dendrite has this table: a new library may run on a catalog that ALTER EXTENSION UPDATE
// has not brought to its version yet, and then stores only what the old catalog has room for.
bool catalog_has_table(const char* name);
// A scalar subquery: a digest of the rows of dendrite.<table> whose <key> column is $1, which tuples they are
// and which transaction wrote each. An INSERT, UPDATE or DELETE changes it: an updated row is a new tuple,
// at another ctid while the old one exists, and a slot that VACUUM frees is reused only by a later
// transaction. (VACUUM FULL changes it too.) What the caches compare their kept rows by (model_cache.hpp).
char* catalog_rows_digest_sql(const char* table, const char* key);
// The same for a column of one of its tables (checked once per transaction and column).
bool catalog_has_column(const char* table, const char* column);

// Raises 55000 when dendrite.catalog = replica (this database's models arrive by logical replication):
// action says what was refused ("train", ...). The statement trigger refuse_replica_catalog_write on every
// replicated table refuses the rest; long operations call this first, before any row is read.
void refuse_on_replica_catalog(const char* action);

void connect_spi();
void finish_spi();

// Runs a statement; raises on failure. nulls: SPI's ' '/'n' per value, or NULL for none.
void execute_as_owner(const char* sql, int nargs, const Oid* types, Datum* values, const char* nulls = nullptr);
// Runs a statement that returns exactly one non-NULL bigint/int value in its first column.
int64 query_int64_as_owner(const char* sql, int nargs, const Oid* types, Datum* values);
// A plan kept for the rest of the SPI connection, and its execution (nulls as execute_as_owner's). The plan is generic,
// planned once: these statements run many times with parameters that never change the best plan (a row
// insert, an update by key), and SPI's default would plan each of the first five executions again.
SPIPlanPtr prepare_as_owner(const char* sql, int nargs, const Oid* types);
void execute_plan_as_owner(SPIPlanPtr plan, Datum* values, const char* nulls = nullptr);

}  // namespace dendrite::pg
