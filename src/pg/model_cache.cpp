#include "pg/model_cache.hpp"

#include <cmath>

#include "pg/catalog.hpp"

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

}  // namespace

const CachedVersion* latest_version(const char* model) {
    connect_spi();
    Datum name[1] = {CStringGetTextDatum(model)};
    execute("SELECT v.version_id, v.version FROM dendrite.models m JOIN dendrite.model_versions v USING (model_id) "
            "WHERE m.name = $1 ORDER BY v.version DESC LIMIT 1",
            1, oids({TEXTOID}), name);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", model),
                        errhint("Train it first with dendrite.train.")));
    bool isnull;
    const int64 version_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    const int version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    finish_spi();
    for (CachedVersion* entry = cached_versions; entry; entry = entry->next)
        if (entry->version_id == version_id) return entry;
    return load_version(model, version_id, version);
}


}  // namespace dendrite::pg
