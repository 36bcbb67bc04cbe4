// boundary.hpp first: it includes engine headers, which must come before postgres.h.
#include "pg/boundary.hpp"

#include "pg/catalog.hpp"
#include "pg/privileges.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace dendrite::pg {

Oid extension_oid() { return get_extension_oid("dendrite", true); }

bool catalog_has_table(const char* name) {
    const Oid schema = get_namespace_oid("dendrite", true);
    return OidIsValid(schema) && OidIsValid(get_relname_relid(name, schema));
}

bool catalog_has_column(const char* table, const char* column) {
    const Oid schema = get_namespace_oid("dendrite", true);
    const Oid relation = OidIsValid(schema) ? get_relname_relid(table, schema) : InvalidOid;
    return OidIsValid(relation) && get_attnum(relation, column) != InvalidAttrNumber;
}

LocalTransactionId current_local_transaction() { return MyProc->lxid; }  // vxid.lxid from PostgreSQL 17

void refuse_on_replica_catalog(const char* action) {
    if (catalog_role != int(CatalogRole::Replica)) return;
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("cannot %s: dendrite's catalog in this database is a replica", action),
             errdetail("dendrite.catalog is 'replica': models, featurizers and deployments arrive by logical "
                       "replication from the coordinator, whose ids they keep."),
             errhint("Train, deploy, roll back and import on the coordinator; every shard serves what it deploys.")));
}

Oid extension_owner_id() { return extension_owner(); }

SavedRights enter_role_rights(Oid role, const char* search_path) {
    SavedRights rights;
    GetUserIdAndSecContext(&rights.user, &rights.security_context);
    rights.guc_level = NewGUCNestLevel();
    (void)set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    SetUserIdAndSecContext(role,
                           rights.security_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    return rights;
}

void leave_role_rights(const SavedRights& rights, bool completed) {
    SetUserIdAndSecContext(rights.user, rights.security_context);
    AtEOXact_GUC(completed, rights.guc_level);
}

void connect_spi() {
    if (SPI_connect() != SPI_OK_CONNECT)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not connect to SPI")));
}

void finish_spi() {
    if (SPI_finish() != SPI_OK_FINISH)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not disconnect from SPI")));
}

// In a parallel worker (dendrite.score is PARALLEL SAFE) a catalog read must not start a command of its own:
// a worker of a statement that already wrote (CREATE TABLE ... AS SELECT dendrite.score(...)) inherits
// "command id used", and a read-write SPI call would then fail with "cannot start commands during a
// parallel operation". Read-only there; nothing can write in parallel mode anyway.
static bool read_only_here() { return IsInParallelMode(); }

void execute_as_owner(const char* sql, int nargs, const Oid* types, Datum* values, const char* nulls) {
    int rc = 0;
    with_owner_rights(
        [&] { rc = SPI_execute_with_args(sql, nargs, const_cast<Oid*>(types), values, nulls, read_only_here(), 0); });
    if (rc < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR), errmsg("catalog statement failed: %s", SPI_result_code_string(rc)),
                 errdetail("Statement: %s", sql)));
}

int64 query_int64_as_owner(const char* sql, int nargs, const Oid* types, Datum* values) {
    execute_as_owner(sql, nargs, types, values);
    if (SPI_processed != 1 || SPI_tuptable == nullptr)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("catalog statement returned %lu rows, expected one", (unsigned long)SPI_processed),
                        errdetail("Statement: %s", sql)));
    bool isnull = false;
    const Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("catalog statement returned NULL"),
                        errdetail("Statement: %s", sql)));
    const Oid type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
    return type == INT4OID ? DatumGetInt32(value) : DatumGetInt64(value);
}

SPIPlanPtr prepare_as_owner(const char* sql, int nargs, const Oid* types) {
    SPIPlanPtr plan = nullptr;
    with_owner_rights([&] { plan = SPI_prepare_cursor(sql, nargs, const_cast<Oid*>(types), CURSOR_OPT_GENERIC_PLAN); });
    if (!plan)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not prepare a catalog statement: %s", SPI_result_code_string(SPI_result)),
                        errdetail("Statement: %s", sql)));
    return plan;
}

void execute_plan_as_owner(SPIPlanPtr plan, Datum* values, const char* nulls) {
    int rc = 0;
    with_owner_rights([&] { rc = SPI_execute_plan(plan, values, nulls, read_only_here(), 0); });
    if (rc < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR), errmsg("catalog statement failed: %s", SPI_result_code_string(rc))));
}

char* catalog_rows_digest_sql(const char* table, const char* key) {
    return psprintf(
        "(SELECT pg_catalog.md5(pg_catalog.string_agg(ctid::text || xmin::text, ',' ORDER BY ctid)) "
        "FROM dendrite.%s WHERE %s = $1)",
        table, key);
}

}  // namespace dendrite::pg

// BEFORE ... FOR EACH STATEMENT on every table of the catalog publication. It fires for sessions only: a
// logical replication worker applies changes with session_replication_role = replica, which skips it.
DENDRITE_FUNCTION(dendrite_refuse_replica_catalog_write) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("dendrite.refuse_replica_catalog_write must be called as a trigger")));
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    dendrite::pg::refuse_on_replica_catalog(
        psprintf("write to dendrite.%s", RelationGetRelationName(trigger->tg_relation)));
    return PointerGetDatum(nullptr);
}
