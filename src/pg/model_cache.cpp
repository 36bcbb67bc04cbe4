#include "pg/model_cache.hpp"

#include <cmath>

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

namespace {

CachedVersion* cached_versions = nullptr;  // in TopMemoryContext

// An inconsistency between a version's parameter rows and its architecture (rows edited by hand).
[[noreturn]] void corrupted(const char* model, int version, const char* what) {
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("parameters of model \"%s\" version %d are inconsistent: %s", model, version, what),
                    errhint("Parameter rows of a trained version must not be edited; retrain the model.")));
    pg_unreachable();
}

const float* float4_values(Datum datum, int expected, const char* model, int version) {
    ArrayType* array = DatumGetArrayTypeP(datum);
    if (ARR_NDIM(array) != 1 || array_contains_nulls(array) || ARR_DIMS(array)[0] != expected)
        corrupted(model, version, "a tensor has the wrong number of values");
    return reinterpret_cast<const float*>(ARR_DATA_PTR(array));
}

// Loads a version into a context that becomes a child of TopMemoryContext only once it is complete, so an
// error halfway leaves nothing behind.
CachedVersion* load_version(const char* model, int64 version_id, int version) {
    MemoryContext entry_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite model version",
                                                        ALLOCSET_SMALL_SIZES);
    CachedVersion* entry = static_cast<CachedVersion*>(MemoryContextAllocZero(entry_context, sizeof(CachedVersion)));
    entry->version_id = version_id;
    entry->extension = extension_oid();
    entry->version = version;
    entry->model = MemoryContextStrdup(entry_context, model);

    connect_spi();
    Datum id[1] = {Int64GetDatum(version_id)};

    execute("SELECT threshold, featurizer_id FROM dendrite.model_versions WHERE version_id = $1", 1, oids({INT8OID}), id);
    int64 featurizer_id;
    {
        bool isnull;
        entry->threshold = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        featurizer_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    }
    entry->featurizer = featurizer_by_id(featurizer_id);
    const int n_features = entry->featurizer->n_outputs;
    entry->n_features = n_features;

    execute("SELECT (l.layer->>'dense')::int, l.layer->>'activation' FROM dendrite.model_versions v, "
            "jsonb_array_elements(v.configuration->'layers') WITH ORDINALITY AS l(layer, i) "
            "WHERE v.version_id = $1 ORDER BY l.i",
            1, oids({INT8OID}), id);
    const int n_layers = int(SPI_processed);
    if (n_layers == 0) corrupted(model, version, "its configuration has no layers");
    int* units = static_cast<int*>(MemoryContextAlloc(entry_context, sizeof(int) * n_layers));
    auto* activations = static_cast<engine::Activation*>(
        MemoryContextAlloc(entry_context, sizeof(engine::Activation) * n_layers));
    size_t n_parameters = 0;
    for (int l = 0; l < n_layers; ++l) {
        bool units_null, activation_null;
        HeapTuple row = SPI_tuptable->vals[l];
        const Datum units_datum = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &units_null);
        const char* activation = SPI_getvalue(row, SPI_tuptable->tupdesc, 2);
        (void)SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &activation_null);
        if (units_null || activation_null) corrupted(model, version, "a layer has no size or activation");
        units[l] = DatumGetInt32(units_datum);
        if (units[l] < 1 || units[l] > 65536) corrupted(model, version, "a layer has an invalid size");
        if (strcmp(activation, "relu") == 0) activations[l] = engine::Activation::Relu;
        else if (strcmp(activation, "tanh") == 0) activations[l] = engine::Activation::Tanh;
        else if (strcmp(activation, "sigmoid") == 0) activations[l] = engine::Activation::Sigmoid;
        else if (strcmp(activation, "identity") == 0) activations[l] = engine::Activation::Identity;
        else corrupted(model, version, "a layer has an unknown activation");
        n_parameters += size_t(units[l]) * ((l == 0 ? n_features : units[l - 1]) + 1);
    }
    if (units[n_layers - 1] != 1) corrupted(model, version, "the output layer does not have one unit");

    // 64-byte aligned: Eigen's matrix-vector kernels sum in an order that depends on alignment, and a
    // score must not change with where a backend happened to put the parameters.
    char* unaligned = static_cast<char*>(MemoryContextAllocHuge(entry_context, sizeof(float) * n_parameters + 64));
    float* parameters = reinterpret_cast<float*>(TYPEALIGN(64, unaligned));
    execute("SELECT layer_index, name, shape, value FROM dendrite.parameters WHERE version_id = $1 "
            "ORDER BY layer_index, name DESC",  // kernel before bias, the flat buffer's order
            1, oids({INT8OID}), id);
    if (SPI_processed != uint64(2 * n_layers)) corrupted(model, version, "it does not have a kernel and a bias per layer");
    float* cursor = parameters;
    for (int l = 0; l < n_layers; ++l) {
        const int inputs = l == 0 ? n_features : units[l - 1];
        for (int k = 0; k < 2; ++k) {
            HeapTuple row = SPI_tuptable->vals[2 * l + k];
            bool isnull;
            const int layer_index = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
            const char* name = SPI_getvalue(row, SPI_tuptable->tupdesc, 2);
            if (layer_index != l || strcmp(name, k == 0 ? "kernel" : "bias") != 0)
                corrupted(model, version, "a layer's kernel or bias is missing");
            const int count = k == 0 ? inputs * units[l] : units[l];
            const float* values = float4_values(SPI_getbinval(row, SPI_tuptable->tupdesc, 4, &isnull), count, model, version);
            for (int i = 0; i < count; ++i) {
                if (!std::isfinite(values[i])) corrupted(model, version, "a parameter is not finite");
                cursor[i] = values[i];
            }
            cursor += count;
        }
    }
    finish_spi();

    entry->network = engine::NetworkView{n_features, n_layers, units, activations, parameters};
    entry->scratch_floats = engine::scratch_floats(entry->network);
    MemoryContextSetParent(entry_context, TopMemoryContext);
    entry->next = cached_versions;
    cached_versions = entry;
    return entry;
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
        if (strcmp(entry->model, model) == 0) return entry->version;

    connect_spi();
    Datum name[1] = {CStringGetTextDatum(model)};
    execute("SELECT version_id, version FROM dendrite.serving_version($1)", 1, oids({TEXTOID}), name);
    bool isnull;
    if (SPI_processed == 0 || (SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), isnull))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", model),
                        errhint("Train it first with dendrite.train.")));
    const int64 version_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    const int version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    finish_spi();
    const CachedVersion* found = nullptr;
    const Oid extension = extension_oid();
    for (CachedVersion* entry = cached_versions; entry && !found; entry = entry->next)
        if (entry->version_id == version_id && entry->extension == extension) found = entry;
    if (!found) found = load_version(model, version_id, version);

    // The SPI queries above may have processed invalidations (which reset serving_context): allocate after.
    watch_catalog();
    auto* entry = static_cast<ServingEntry*>(MemoryContextAlloc(serving_context, sizeof(ServingEntry)));
    entry->model = MemoryContextStrdup(serving_context, model);
    entry->version = found;
    entry->next = serving_entries;
    serving_entries = entry;
    return found;
}

}  // namespace dendrite::pg

// The statement trigger on dendrite.models, model_versions and deployments: every backend forgets which
// versions serve its models (at commit for other backends, at the next command for this one).
DENDRITE_FUNCTION(dendrite_catalog_changed) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("dendrite.catalog_changed must be called as a trigger")));
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    CacheInvalidateRelcache(trigger->tg_relation);
    return PointerGetDatum(nullptr);
}
