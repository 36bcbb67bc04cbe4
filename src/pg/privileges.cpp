#include "pg/boundary.hpp"  // engine headers (through boundary.hpp) come before postgres.h
#include "pg/catalog.hpp"
#include "pg/model_cache.hpp"
#include "pg/privileges.hpp"

#include <cstring>

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
}

namespace dendrite::pg {

Oid extension_owner() {
    // Looked up once per transaction: the owner changes only through REASSIGN OWNED.
    static LocalTransactionId cached_in = InvalidLocalTransactionId;
    static Oid cached_owner = InvalidOid;
    if (cached_in == current_local_transaction() && OidIsValid(cached_owner)) return cached_owner;
    const Oid extension = extension_oid();
    if (!OidIsValid(extension))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("extension \"dendrite\" is not installed"), errhint("Run CREATE EXTENSION dendrite.")));
    Relation relation = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(extension));
    SysScanDesc scan = systable_beginscan(relation, ExtensionOidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    const Oid owner =
        HeapTupleIsValid(tuple) ? reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple))->extowner : InvalidOid;
    systable_endscan(scan);
    table_close(relation, AccessShareLock);
    if (!OidIsValid(owner))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("extension \"dendrite\" has no owner")));
    cached_owner = owner;
    cached_in = current_local_transaction();
    return owner;
}

bool may_manage(const char* owner) { return may_manage_as(GetUserId(), owner); }

bool may_manage_as(Oid user, const char* owner) {
    if (superuser_arg(user) || user == extension_owner()) return true;
    const Oid owner_id = owner ? get_role_oid(owner, true) : InvalidOid;
    if (OidIsValid(owner_id) && has_privs_of_role(user, owner_id)) return true;
    const Oid admin = get_role_oid("dendrite_admin", true);
    return OidIsValid(admin) && has_privs_of_role(user, admin);
}

void require_manager(const char* kind, const char* name, const char* owner) {
    if (may_manage(owner)) return;
    ereport(
        ERROR,
        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("must be owner of %s \"%s\"", kind, name),
         errdetail("It belongs to role \"%s\".", owner ? owner : "?"),
         strcmp(kind, "model") == 0
             ? errhint(
                   "Only a member of its owner role or of dendrite_admin may retrain, deploy, roll back or drop it.")
             : errhint("Only a member of its owner role or of dendrite_admin may refit or drop it.")));
}

namespace {

// The owner of the named model or featurizer, or NULL when there is none. Needs an SPI connection.
char* owner_of(const char* sql, const char* name) {
    Datum values[1] = {CStringGetTextDatum(name)};
    execute_as_owner(sql, 1, oids({TEXTOID}), values);
    if (SPI_processed == 0) return nullptr;
    return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

}  // namespace

void require_model_manager(const char* model) {
    const char* owner = owner_of("SELECT owner FROM dendrite.models WHERE name = $1", model);
    if (owner) require_manager("model", model, owner);
}

bool featurizers_have_owners() {
    static LocalTransactionId checked_in = InvalidLocalTransactionId;
    static bool has_owners = false;
    if (checked_in == current_local_transaction()) return has_owners;
    const Oid schema = get_namespace_oid("dendrite", true);
    const Oid featurizers = OidIsValid(schema) ? get_relname_relid("featurizers", schema) : InvalidOid;
    has_owners = OidIsValid(featurizers) && get_attnum(featurizers, "owner") != InvalidAttrNumber;
    checked_in = current_local_transaction();
    return has_owners;
}

void require_featurizer_manager(const char* featurizer) {
    if (!featurizers_have_owners()) return;
    // Every version carries its creator; the first version's decides.
    const char* owner =
        owner_of("SELECT owner FROM dendrite.featurizers WHERE name = $1 ORDER BY version LIMIT 1", featurizer);
    if (owner) require_manager("featurizer", featurizer, owner);
}

char* current_user_name() { return pstrdup(GetUserNameFromId(GetUserId(), false)); }

namespace {

// deploy, rollback, drop_model and drop_featurizer change rows that their callers cannot write. Each is
// declared in SQL with this C entry point: it checks that the caller may manage the object named by the
// first argument, then calls dendrite.internal_<name>(the same arguments..., caller name) as the extension
// owner. Those PL/pgSQL functions pin search_path and are not executable by PUBLIC.
struct InternalCall {
    FmgrInfo function;
    int nargs;  // the wrapper's; the internal function has one more (the caller)
};

InternalCall* internal_call(FunctionCallInfo fcinfo) {
    if (fcinfo->flinfo->fn_extra) return static_cast<InternalCall*>(fcinfo->flinfo->fn_extra);
    const Oid self = fcinfo->flinfo->fn_oid;
    Oid* types;
    int nargs;
    get_func_signature(self, &types, &nargs);
    Oid internal_types[FUNC_MAX_ARGS];
    if (nargs + 1 > FUNC_MAX_ARGS)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("too many arguments for an internal call")));
    for (int i = 0; i < nargs; ++i) internal_types[i] = types[i];
    internal_types[nargs] = NAMEOID;
    List* name = list_make2(makeString(pstrdup("dendrite")), makeString(psprintf("internal_%s", get_func_name(self))));
    const Oid internal = LookupFuncName(name, nargs + 1, internal_types, true);
    if (!OidIsValid(internal))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                        errmsg("function %s has no internal counterpart", get_func_name(self)),
                        errhint("Run ALTER EXTENSION dendrite UPDATE.")));
    auto* call = static_cast<InternalCall*>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(InternalCall)));
    fmgr_info_cxt(internal, &call->function, fcinfo->flinfo->fn_mcxt);
    call->nargs = nargs;
    fcinfo->flinfo->fn_extra = call;
    return call;
}

Datum call_as_extension_owner(FunctionCallInfo fcinfo, void (*require)(const char*)) {
    InternalCall* call = internal_call(fcinfo);
    if (require && !PG_ARGISNULL(0)) {
        connect_spi();
        require(text_to_cstring(PG_GETARG_TEXT_PP(0)));
        finish_spi();
    }
    LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
    InitFunctionCallInfoData(*inner, &call->function, call->nargs + 1, fcinfo->fncollation, nullptr, nullptr);
    for (int i = 0; i < call->nargs; ++i) inner->args[i] = fcinfo->args[i];
    NameData* caller = static_cast<NameData*>(palloc0(sizeof(NameData)));
    namestrcpy(caller, current_user_name());
    inner->args[call->nargs].value = PointerGetDatum(caller);
    inner->args[call->nargs].isnull = false;
    Datum result = (Datum)0;
    with_owner_rights([&] { result = FunctionCallInvoke(inner); });
    fcinfo->isnull = inner->isnull;
    return result;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_manage_model) { return call_as_extension_owner(fcinfo, require_model_manager); }

DENDRITE_FUNCTION(dendrite_manage_featurizer) { return call_as_extension_owner(fcinfo, require_featurizer_manager); }

// import_model: the internal function finds the names in the document and checks them itself.
DENDRITE_FUNCTION(dendrite_as_extension_owner) { return call_as_extension_owner(fcinfo, nullptr); }

// import_model since 0.5.0: the same, then the version it added is loaded as the cache loader loads every
// version, with every check of its rows (model_cache.hpp): a document with wrong shapes, counts, indices or
// statistics is an error (XX001) and the import's transaction keeps nothing of it.
DENDRITE_FUNCTION(dendrite_import_model) {
    refuse_on_replica_catalog("import a model");
    const Datum result = call_as_extension_owner(fcinfo, nullptr);
    if (fcinfo->isnull) return result;
    MemoryContext outer = CurrentMemoryContext;
    connect_spi();
    Datum values[2] = {PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? Datum(0) : PG_GETARG_DATUM(1)};
    const char nulls[2] = {' ', PG_ARGISNULL(1) ? 'n' : ' '};
    execute_as_owner("SELECT coalesce($2, $1->'model'->>'name')", 2, oids({JSONBOID, TEXTOID}), values, nulls);
    char* model = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    if (!model) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not name the imported model")));
    model = MemoryContextStrdup(outer, model);  // SPI's memory goes with finish_spi
    finish_spi();
    (void)model_version(model, DatumGetInt32(result));
    return result;
}

DENDRITE_FUNCTION(dendrite_may_manage) { PG_RETURN_BOOL(may_manage(NameStr(*PG_GETARG_NAME(0)))); }

// internal_may_manage(caller, owner): may_manage for the caller an internal_ function was given.
DENDRITE_FUNCTION(dendrite_internal_may_manage) {
    const Oid caller = get_role_oid(NameStr(*PG_GETARG_NAME(0)), true);
    PG_RETURN_BOOL(OidIsValid(caller) && may_manage_as(caller, NameStr(*PG_GETARG_NAME(1))));
}
