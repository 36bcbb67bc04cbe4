#include "pg/model_cache.hpp"

#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/model_rows.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

namespace {

CachedVersion* cached_versions = nullptr;  // in TopMemoryContext
constexpr int kCachedVersions = 8;

void forget_all_serving_versions();

// Evicts the oldest versions beyond kCachedVersions that nothing can point to (see model_cache.hpp), and
// with them the serving lookups, which may name them.
void evict_versions(const CachedVersion* keep) {
    if (evict_unused(&cached_versions, keep, kCachedVersions,
                     [](CachedVersion* entry) { unpin_featurizer(entry->featurizer); }))
        forget_all_serving_versions();
}

// Loads a version into a context that becomes a child of TopMemoryContext only once it is complete, so an
// error halfway leaves nothing behind.
CachedVersion* load_version(const char* model, int64 version_id, int version) {
    MemoryContext entry_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite model version", ALLOCSET_SMALL_SIZES);
    CachedVersion* entry = static_cast<CachedVersion*>(MemoryContextAllocZero(entry_context, sizeof(CachedVersion)));
    entry->version_id = version_id;
    entry->extension = extension_oid();
    entry->version = version;
    entry->model = MemoryContextStrdup(entry_context, model);

    connect_spi();
    const VersionName name{model, version};
    const VersionRow row = read_version_row(name, version_id);
    entry->threshold = row.threshold;
    entry->featurizer = featurizer_by_id(row.featurizer_id);
    entry->n_features = entry->featurizer->n_outputs;
    entry->scorer = read_model_rows(name, version_id, row, entry->n_features, entry_context);
    finish_spi();
    entry->scratch_floats = engine::model_scratch_floats(entry->scorer);
    MemoryContextSetParent(entry_context, TopMemoryContext);
    entry->context = entry_context;
    mark_used(entry);
    pin_featurizer(entry->featurizer, nullptr);  // until the version is evicted
    entry->next = cached_versions;
    cached_versions = entry;
    evict_versions(entry);
    return entry;
}

// The cached entry of a version (stamped as used), or the version loaded now.
CachedVersion* cached_or_loaded(const char* model, int64 version_id, int version) {
    const Oid extension = extension_oid();
    for (CachedVersion* entry = cached_versions; entry; entry = entry->next)
        if (entry->version_id == version_id && entry->extension == extension) {
            mark_used(entry);
            return entry;
        }
    return load_version(model, version_id, version);
}

// Model name -> serving version, per backend. Entries live in serving_context, which is reset whenever a
// watched catalog table changes (or on a full relcache reset).
struct ServingEntry {
    char* model;
    const CachedVersion* version;
    ServingEntry* next;
};
MemoryContext serving_context = nullptr;
ServingEntry* serving_entries = nullptr;
Oid watched_relations[3] = {InvalidOid, InvalidOid, InvalidOid};  // models, model_versions, deployments

void forget_serving_versions(Datum, Oid relation) {
    bool watched = relation == InvalidOid;
    for (Oid r : watched_relations) watched = watched || (r != InvalidOid && r == relation);
    if (!watched) return;
    serving_entries = nullptr;
    for (Oid& r : watched_relations) r = InvalidOid;  // looked up again: the extension may have been recreated
    if (serving_context) MemoryContextReset(serving_context);
}

void forget_all_serving_versions() { forget_serving_versions(Datum(0), InvalidOid); }

void watch_catalog() {
    if (!serving_context) {
        serving_context = AllocSetContextCreate(TopMemoryContext, "dendrite serving versions", ALLOCSET_SMALL_SIZES);
        CacheRegisterRelcacheCallback(forget_serving_versions, Datum(0));
    }
    if (watched_relations[0] != InvalidOid) return;
    const Oid schema = get_namespace_oid("dendrite", false);
    const char* names[3] = {"models", "model_versions", "deployments"};
    for (int i = 0; i < 3; ++i) watched_relations[i] = get_relname_relid(names[i], schema);
}

}  // namespace

const CachedVersion* serving_version(const char* model) {
    watch_catalog();
    for (ServingEntry* entry = serving_entries; entry; entry = entry->next)
        if (strcmp(entry->model, model) == 0) {
            mark_used(entry->version);
            return entry->version;
        }

    connect_spi();
    Datum name[1] = {CStringGetTextDatum(model)};
    execute_as_owner("SELECT version_id, version FROM dendrite.serving_version($1)", 1, oids({TEXTOID}), name);
    bool isnull;
    if (SPI_processed == 0 || (SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), isnull))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", model),
                        errhint("Train it first with dendrite.train.")));
    const int64 version_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    const int version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    finish_spi();
    const CachedVersion* found = cached_or_loaded(model, version_id, version);

    // The SPI queries above may have processed invalidations (which reset serving_context): allocate after.
    watch_catalog();
    auto* entry = static_cast<ServingEntry*>(MemoryContextAlloc(serving_context, sizeof(ServingEntry)));
    entry->model = MemoryContextStrdup(serving_context, model);
    entry->version = found;
    entry->next = serving_entries;
    serving_entries = entry;
    return found;
}

int version_argument(FunctionCallInfo fcinfo, int argument) {
    if (PG_ARGISNULL(argument)) return 0;  // the serving version
    const int version = PG_GETARG_INT32(argument);
    if (version <= 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("version must be positive, got %d", version),
                        errhint("Leave it NULL for the version that serves the model.")));
    return version;
}

void model_catalog_relations(Oid relations[3]) {
    watch_catalog();
    for (int i = 0; i < 3; ++i) relations[i] = watched_relations[i];
}

const CachedVersion* model_version(const char* model, int version, bool missing_ok) {
    if (version == 0) return serving_version(model);
    connect_spi();
    Datum values[2] = {CStringGetTextDatum(model), Int32GetDatum(version)};
    execute_as_owner(
        "SELECT v.version_id FROM dendrite.models m LEFT JOIN dendrite.model_versions v "
        "ON v.model_id = m.model_id AND v.version = $2 WHERE m.name = $1",
        2, oids({TEXTOID, INT4OID}), values);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", model),
                        errhint("Train it first with dendrite.train.")));
    bool isnull;
    const Datum id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull && missing_ok) {
        finish_spi();
        return nullptr;
    }
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" has no version %d", model, version),
                        errhint("SELECT version FROM dendrite.model_versions lists them.")));
    const int64 version_id = DatumGetInt64(id);
    finish_spi();
    return cached_or_loaded(model, version_id, version);
}

void pin_version(const CachedVersion* version, MemoryContext holder) { pin_entry(version, holder); }

}  // namespace dendrite::pg

// The statement trigger on dendrite.models, model_versions and deployments (and on a shard the row trigger
// that the logical replication worker fires): every backend forgets which versions serve its models (at
// commit for other backends, at the next command for this one).
DENDRITE_FUNCTION(dendrite_catalog_changed) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("dendrite.catalog_changed must be called as a trigger")));
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    CacheInvalidateRelcache(trigger->tg_relation);
    return PointerGetDatum(nullptr);
}
