#include "pg/model_cache.hpp"

#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/model_rows.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "access/xact.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

namespace {

CachedVersion* cached_versions = nullptr;  // in TopMemoryContext
constexpr int kCachedVersions = 8;
uint64 load_serials = 0;

void forget_all_serving_versions();

// The catalog tables that cached versions and featurizers are read from. An invalidation of one of them (or
// a cache reset) makes the cached rows suspect: the next lookup checks them (check_cached_rows).
constexpr int kRowTables = 8;
const char* const kRowTableNames[kRowTables] = {"model_versions",     "parameters",     "trees",
                                                "feature_baselines",  "featurizers",    "feature_columns",
                                                "feature_categories", "feature_history"};
Oid row_relations[kRowTables] = {};
bool row_relations_known = false;
bool row_callback_registered = false;
bool cached_rows_suspect = false;
// Under REPEATABLE READ or SERIALIZABLE the check's and a load's queries see the transaction's snapshot,
// which may predate an edit whose invalidation this backend has already taken: such a transaction keeps
// what its snapshot shows, and the first lookup of a later transaction checks again.
LocalTransactionId check_again_after = InvalidLocalTransactionId;

void suspect_cached_rows(Datum, Oid relation) {
    if (relation == InvalidOid || !row_relations_known) {
        cached_rows_suspect = true;
        row_relations_known = false;  // looked up again: the extension may have been recreated
        return;
    }
    for (Oid r : row_relations)
        if (r == relation) cached_rows_suspect = true;
}

// The digest of a version's rows as they are now, in context; NULL when its row is gone. Of the version's
// row, the columns the cache reads (its status changes with every deploy; that is no edit).
char* version_fingerprint(int64 version_id, MemoryContext context) {
    const char* trees = catalog_has_table("trees") ? catalog_rows_digest_sql("trees", "version_id") : "NULL";
    const char* baselines =
        catalog_has_table("feature_baselines") ? catalog_rows_digest_sql("feature_baselines", "version_id") : "NULL";
    connect_spi();
    Datum id[1] = {Int64GetDatum(version_id)};
    execute_as_owner(
        psprintf("SELECT pg_catalog.md5(pg_catalog.concat_ws('/', v.threshold, v.featurizer_id, v.algorithm, "
                 "v.configuration, %s, %s, %s)) FROM dendrite.model_versions v WHERE v.version_id = $1",
                 catalog_rows_digest_sql("parameters", "version_id"), trees, baselines),
        1, oids({INT8OID}), id);
    char* digest = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    char* kept = digest ? MemoryContextStrdup(context, digest) : nullptr;
    finish_spi();
    return kept;
}

void check_cached_rows();

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
    entry->load_serial = ++load_serials;
    // Before the rows are read: an edit that commits in between makes the digest differ at the next check.
    entry->fingerprint = version_fingerprint(version_id, entry_context);
    note_kept_rows_read();

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
        if (!entry->stale && entry->version_id == version_id && entry->extension == extension) {
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

// A version whose rows (or whose featurizer's) changed: lookups skip it, and the serving lookups, which
// may name it, are forgotten at once.
void mark_version_stale(CachedVersion* entry) {
    entry->stale = true;
    forget_all_serving_versions();
}

// Checks every cached featurizer and version against its rows now, when an invalidation made them suspect.
// A version is stale when its rows changed or its featurizer is stale; a featurizer when its rows changed or
// one of its anomaly versions is stale: marked until nothing more changes.
void check_cached_rows_now() {
    mark_edited_featurizers_stale(true);
    const Oid extension = extension_oid();
    for (CachedVersion* entry = cached_versions; entry; entry = entry->next) {
        if (entry->stale || entry->extension != extension) continue;  // another extension's: never found
        const char* now = version_fingerprint(entry->version_id, CurrentMemoryContext);
        if (!now || !entry->fingerprint || strcmp(now, entry->fingerprint) != 0) mark_version_stale(entry);
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (CachedVersion* entry = cached_versions; entry; entry = entry->next)
            if (!entry->stale && entry->featurizer->stale) {
                mark_version_stale(entry);
                changed = true;
            }
        if (mark_edited_featurizers_stale(false) > 0) changed = true;
    }
    evict_versions(nullptr);  // the stale ones nothing points to (unpinning their featurizers)
    evict_stale_featurizers();
}

void check_cached_rows() {
    cached_rows_suspect = false;  // an invalidation processed during the check sets it again
    note_kept_rows_read();
    PG_TRY();
    { check_cached_rows_now(); }
    PG_CATCH();
    {
        cached_rows_suspect = true;  // a check cut short (a cancel, a timeout) is done again at the next lookup
        PG_RE_THROW();
    }
    PG_END_TRY();
}

}  // namespace

void watch_cached_rows() {
    if (!row_callback_registered) {
        CacheRegisterRelcacheCallback(suspect_cached_rows, Datum(0));
        row_callback_registered = true;
    }
    if (row_relations_known) return;
    const Oid schema = get_namespace_oid("dendrite", true);
    for (int i = 0; i < kRowTables; ++i)
        row_relations[i] = OidIsValid(schema) ? get_relname_relid(kRowTableNames[i], schema) : InvalidOid;
    row_relations_known = true;
}

void check_cached_rows_if_suspect() {
    watch_cached_rows();
    if (check_again_after != InvalidLocalTransactionId && check_again_after != current_local_transaction()) {
        check_again_after = InvalidLocalTransactionId;
        cached_rows_suspect = true;
    }
    if (cached_rows_suspect) check_cached_rows();
}

void note_kept_rows_read() {
    if (IsolationUsesXactSnapshot()) check_again_after = current_local_transaction();
}

void catalog_changed_here(Oid relation) {
    forget_serving_versions(Datum(0), relation);
    suspect_cached_rows(Datum(0), relation);
}

const CachedVersion* serving_version(const char* model) {
    check_cached_rows_if_suspect();
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

void report_unscorable(const CachedVersion* version, const float* x) {
    const char* why =
        "Features far outside the training rows' range, or parameters edited by hand, overflow the "
        "model's 32-bit arithmetic.";
    const char* detail = why;
    const char* hint = "Leave such rows out, or bound the column (a CHECK constraint), before scoring them.";
    if (x && version->n_features > 0) {
        int largest = 0;
        for (int j = 1; j < version->n_features; ++j)
            if (!(std::fabs(x[j]) <= std::fabs(x[largest]))) largest = j;
        const auto& names = version->featurizer->featurizer->output_names();
        const char* name = size_t(largest) < names.size() ? names[size_t(largest)].c_str() : "?";
        // Trained parameters cannot overflow on ordinary features; parameters edited by hand can.
        if (std::fabs(x[largest]) <= 1e6f) {
            detail = psprintf(
                "The row's features are ordinary (the largest, \"%s\", is %g after the featurizer's "
                "scaling): the version's parameters overflow its 32-bit arithmetic. Were they edited "
                "by hand?",
                name, double(x[largest]));
            hint = "Retrain the model, or deploy another version.";
        } else {
            detail = psprintf("The row's largest feature, \"%s\", is %g after the featurizer's scaling. %s", name,
                              double(x[largest]), why);
        }
    }
    ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                    errmsg("model \"%s\" version %d cannot score a row: its arithmetic overflowed", version->model,
                           version->version),
                    errdetail("%s", detail), errhint("%s", hint)));
    pg_unreachable();
}

void check_scores(const CachedVersion* version, const float* scores, int n, const float* x) {
    for (int i = 0; i < n; ++i)
        if (unlikely(std::isnan(scores[i]))) report_unscorable(version, x ? x + size_t(i) * version->n_features : x);
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
    check_cached_rows_if_suspect();
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
    const Oid relation = RelationGetRelid(trigger->tg_relation);
    // Once per table and (sub)transaction: a training writes thousands of rows, a statement each, and every
    // message would go to every backend at commit (a flood of them overflows the queue, and every backend
    // then resets all its caches). A subtransaction that aborts takes its messages with it: the next one
    // sends again.
    static LocalTransactionId sent_in = InvalidLocalTransactionId;
    static SubTransactionId sent_in_subtransaction = InvalidSubTransactionId;
    static Oid sent[16];
    static int n_sent = 0;
    if (sent_in != dendrite::pg::current_local_transaction() ||
        sent_in_subtransaction != GetCurrentSubTransactionId()) {
        sent_in = dendrite::pg::current_local_transaction();
        sent_in_subtransaction = GetCurrentSubTransactionId();
        n_sent = 0;
    }
    bool already = false;
    for (int i = 0; i < n_sent; ++i) already = already || sent[i] == relation;
    if (!already) {
        CacheInvalidateRelcache(trigger->tg_relation);
        if (n_sent < 16) sent[n_sent++] = relation;
    }
    dendrite::pg::catalog_changed_here(relation);  // this backend: at once, whether or not a message was sent
    return PointerGetDatum(nullptr);
}
