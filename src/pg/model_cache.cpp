#include "pg/model_cache.hpp"

#include <cmath>

#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
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
constexpr int kCachedVersions = 8;

// The row being validated, for the error's detail: which catalog table and which of its rows.
struct RowInQuestion {
    const char* table;
    const char* row;  // e.g. "layer_index 0, name kernel"; NULL: the version's rows as a whole
};

// An inconsistency between a version's rows and its architecture (rows edited by hand, or a bad import):
// XX001 naming the model, version, table and row. Never a crash, never a score.
[[noreturn]] void corrupted(const char* model, int version, const char* what, RowInQuestion where = {nullptr, nullptr}) {
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("parameters of model \"%s\" version %d are inconsistent: %s", model, version, what),
                    where.table ? (where.row ? errdetail("Table %s, row (%s).", where.table, where.row)
                                             : errdetail("Table %s.", where.table))
                                : 0,
                    errhint("Parameter rows of a trained version must not be edited; retrain the model.")));
    pg_unreachable();
}

const float* float4_values(Datum datum, int expected, const char* model, int version, RowInQuestion where) {
    ArrayType* array = DatumGetArrayTypeP(datum);
    if (ARR_NDIM(array) != 1 || array_contains_nulls(array) || ARR_DIMS(array)[0] != expected ||
        ARR_ELEMTYPE(array) != FLOAT4OID)
        corrupted(model, version, "a tensor has the wrong number of values", where);
    return reinterpret_cast<const float*>(ARR_DATA_PTR(array));
}

// A tensor's shape column against the shape its layer needs: {first} or {first, second} (second < 0: 1-D).
void check_shape(Datum datum, bool isnull, int first, int second, const char* model, int version, RowInQuestion where) {
    if (isnull) corrupted(model, version, "a tensor has no shape", where);
    ArrayType* array = DatumGetArrayTypeP(datum);
    const int dims = second < 0 ? 1 : 2;
    const int length = ARR_NDIM(array) == 1 ? ARR_DIMS(array)[0] : 0;
    if (ARR_ELEMTYPE(array) != INT4OID || array_contains_nulls(array) || length != dims)
        corrupted(model, version, "a tensor's shape does not match its layer", where);
    const int32* shape = reinterpret_cast<const int32*>(ARR_DATA_PTR(array));
    if (shape[0] != first || (dims == 2 && shape[1] != second))
        corrupted(model, version, "a tensor's shape does not match its layer", where);
}

// A network version: its layers from the configuration, its tensors from dendrite.parameters (kernel and
// bias per layer, norm_scale and norm_shift for a layer with layer normalization), into one flat buffer.
void load_network(CachedVersion* entry, MemoryContext entry_context, const char* model, int version, Datum* id) {
    const int n_features = entry->n_features;
    execute_as_owner("SELECT (l.layer->>'dense')::int, l.layer->>'activation', coalesce((l.layer->>'layer_norm')::boolean, false) "
            "FROM dendrite.model_versions v, "
            "jsonb_array_elements(v.configuration->'layers') WITH ORDINALITY AS l(layer, i) "
            "WHERE v.version_id = $1 ORDER BY l.i",
            1, oids({INT8OID}), id);
    const int n_layers = int(SPI_processed);
    if (n_layers == 0) corrupted(model, version, "its configuration has no layers");
    int* units = static_cast<int*>(MemoryContextAlloc(entry_context, sizeof(int) * n_layers));
    auto* activations = static_cast<engine::Activation*>(
        MemoryContextAlloc(entry_context, sizeof(engine::Activation) * n_layers));
    bool* layer_norm = static_cast<bool*>(MemoryContextAlloc(entry_context, sizeof(bool) * n_layers));
    for (int l = 0; l < n_layers; ++l) {
        bool units_null, activation_null, norm_null;
        HeapTuple row = SPI_tuptable->vals[l];
        const Datum units_datum = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &units_null);
        const char* activation = SPI_getvalue(row, SPI_tuptable->tupdesc, 2);
        (void)SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &activation_null);
        layer_norm[l] = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &norm_null));
        if (units_null || activation_null) corrupted(model, version, "a layer has no size or activation");
        units[l] = DatumGetInt32(units_datum);
        if (units[l] < 1 || units[l] > 65536) corrupted(model, version, "a layer has an invalid size");
        if (strcmp(activation, "relu") == 0) activations[l] = engine::Activation::Relu;
        else if (strcmp(activation, "leaky_relu") == 0) activations[l] = engine::Activation::LeakyRelu;
        else if (strcmp(activation, "gelu") == 0) activations[l] = engine::Activation::Gelu;
        else if (strcmp(activation, "tanh") == 0) activations[l] = engine::Activation::Tanh;
        else if (strcmp(activation, "sigmoid") == 0) activations[l] = engine::Activation::Sigmoid;
        else if (strcmp(activation, "identity") == 0) activations[l] = engine::Activation::Identity;
        else corrupted(model, version, "a layer has an unknown activation");
    }
    if (units[n_layers - 1] != 1 || layer_norm[n_layers - 1])
        corrupted(model, version, "the output layer is not one unit without layer normalization");

    // Embeddings of 'index' features (since 0.4.0): their tables come first in the flat buffer.
    execute_as_owner("SELECT (e.embedding->>'feature')::int, (e.embedding->>'rows')::int, (e.embedding->>'dim')::int "
            "FROM dendrite.model_versions v, "
            "jsonb_array_elements(coalesce(v.configuration->'embeddings', '[]')) WITH ORDINALITY AS e(embedding, i) "
            "WHERE v.version_id = $1 ORDER BY e.i",
            1, oids({INT8OID}), id);
    const int n_embeddings = int(SPI_processed);
    if (n_embeddings > engine::kMaxEmbeddings) corrupted(model, version, "it has too many embeddings");
    int* embedding_feature = static_cast<int*>(MemoryContextAlloc(entry_context, sizeof(int) * (n_embeddings + 1)));
    int* embedding_rows = static_cast<int*>(MemoryContextAlloc(entry_context, sizeof(int) * (n_embeddings + 1)));
    int* embedding_dim = static_cast<int*>(MemoryContextAlloc(entry_context, sizeof(int) * (n_embeddings + 1)));
    size_t* embedding_offset = static_cast<size_t*>(palloc(sizeof(size_t) * (n_embeddings + 1)));
    embedding_offset[0] = 0;
    int dense_inputs = n_features;
    for (int e = 0; e < n_embeddings; ++e) {
        bool null_feature, null_rows, null_dim;
        HeapTuple row = SPI_tuptable->vals[e];
        embedding_feature[e] = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &null_feature));
        embedding_rows[e] = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &null_rows));
        embedding_dim[e] = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &null_dim));
        if (null_feature || null_rows || null_dim || embedding_feature[e] < 0 || embedding_feature[e] >= n_features ||
            (e > 0 && embedding_feature[e] <= embedding_feature[e - 1]) || embedding_rows[e] < 1 ||
            embedding_rows[e] > 10000000 || embedding_dim[e] < 1 || embedding_dim[e] > 1024 ||
            long(embedding_rows[e]) * long(embedding_dim[e]) > engine::kMaxEmbeddingFloats)
            corrupted(model, version, "an embedding is malformed");
        embedding_offset[e + 1] = embedding_offset[e] + size_t(embedding_rows[e]) * size_t(embedding_dim[e]);
        dense_inputs += embedding_dim[e] - 1;
    }
    // Each layer's offset in the flat buffer (engine::NetworkSpec's layout, computed here without C++
    // objects: an ERROR below must not jump over a destructor).
    size_t* layer_offset = static_cast<size_t*>(palloc(sizeof(size_t) * (n_layers + 1)));
    layer_offset[0] = embedding_offset[n_embeddings];
    for (int l = 0; l < n_layers; ++l) {
        const size_t inputs = size_t(l == 0 ? dense_inputs : units[l - 1]);
        layer_offset[l + 1] = layer_offset[l] + size_t(units[l]) * (inputs + 1) + (layer_norm[l] ? 2 * size_t(units[l]) : 0);
    }
    const size_t n_parameters = layer_offset[n_layers];

    // 64-byte aligned: Eigen's matrix-vector kernels sum in an order that depends on alignment, and a
    // score must not change with where a backend happened to put the parameters.
    char* unaligned = static_cast<char*>(MemoryContextAllocHuge(entry_context, sizeof(float) * n_parameters + 64));
    float* parameters = reinterpret_cast<float*>(TYPEALIGN(64, unaligned));
    execute_as_owner("SELECT layer_index, name, value, shape FROM dendrite.parameters WHERE version_id = $1 "
                     "ORDER BY layer_index, name",
                     1, oids({INT8OID}), id);
    uint64 expected_rows = uint64(n_embeddings);
    for (int l = 0; l < n_layers; ++l) expected_rows += layer_norm[l] ? 4 : 2;
    if (SPI_processed != expected_rows)
        corrupted(model, version, "it does not have the tensors its layers need", {"dendrite.parameters", nullptr});
    // Which tensors were read: 4 per layer (kernel, bias, norm_scale, norm_shift) and 1 per embedding, so
    // that a duplicated row cannot stand in for a missing one.
    bool* seen = static_cast<bool*>(palloc0(sizeof(bool) * (size_t(n_layers) * 4 + size_t(n_embeddings) + 1)));
    for (uint64 r = 0; r < SPI_processed; ++r) {
        HeapTuple row = SPI_tuptable->vals[r];
        TupleDesc d = SPI_tuptable->tupdesc;
        bool index_null, value_null, shape_null;
        const int l = DatumGetInt32(SPI_getbinval(row, d, 1, &index_null));
        const char* name = SPI_getvalue(row, d, 2);
        const Datum value = SPI_getbinval(row, d, 3, &value_null);
        const Datum shape = SPI_getbinval(row, d, 4, &shape_null);
        const RowInQuestion where{"dendrite.parameters",
                                  psprintf("layer_index %s, name %s", index_null ? "NULL" : psprintf("%d", l),
                                           name ? name : "NULL")};
        if (index_null || !name) corrupted(model, version, "a tensor has no layer or name", where);
        if (value_null) corrupted(model, version, "a tensor has no values", where);
        if (l < 0 && -l <= n_embeddings && strcmp(name, "table") == 0) {
            const int e = -l - 1;
            if (seen[size_t(n_layers) * 4 + size_t(e)]) corrupted(model, version, "a tensor appears twice", where);
            seen[size_t(n_layers) * 4 + size_t(e)] = true;
            check_shape(shape, shape_null, embedding_rows[e], embedding_dim[e], model, version, where);
            const int count = embedding_rows[e] * embedding_dim[e];
            const float* values = float4_values(value, count, model, version, where);
            for (int i = 0; i < count; ++i) {
                if (!std::isfinite(values[i])) corrupted(model, version, "a parameter is not finite", where);
                parameters[embedding_offset[e] + size_t(i)] = values[i];
            }
            continue;
        }
        if (l < 0 || l >= n_layers) corrupted(model, version, "a tensor names a layer that does not exist", where);
        const int inputs = l == 0 ? dense_inputs : units[l - 1];
        const size_t bias_offset = layer_offset[l] + size_t(inputs) * size_t(units[l]);
        size_t offset;
        int count = units[l];
        int slot;
        if (strcmp(name, "kernel") == 0) {
            offset = layer_offset[l];
            count = inputs * units[l];
            slot = 0;
        } else if (strcmp(name, "bias") == 0) {
            offset = bias_offset;
            slot = 1;
        } else if (layer_norm[l] && strcmp(name, "norm_scale") == 0) {
            offset = bias_offset + size_t(units[l]);
            slot = 2;
        } else if (layer_norm[l] && strcmp(name, "norm_shift") == 0) {
            offset = bias_offset + 2 * size_t(units[l]);
            slot = 3;
        } else {
            corrupted(model, version, "a tensor has an unknown name", where);
        }
        if (seen[size_t(l) * 4 + size_t(slot)]) corrupted(model, version, "a tensor appears twice", where);
        seen[size_t(l) * 4 + size_t(slot)] = true;
        // kernel: {inputs, units} (row-major); bias and the layer norm's vectors: {units}.
        check_shape(shape, shape_null, slot == 0 ? inputs : units[l], slot == 0 ? units[l] : -1, model, version, where);
        const float* values = float4_values(value, count, model, version, where);
        for (int i = 0; i < count; ++i) {
            if (!std::isfinite(values[i])) corrupted(model, version, "a parameter is not finite", where);
            parameters[offset + size_t(i)] = values[i];
        }
    }
    entry->scorer.kind = engine::ModelView::Kind::Network;
    entry->scorer.network = engine::NetworkView{n_features,    n_layers,          units,          activations,
                                                parameters,    layer_norm,        n_embeddings,   embedding_feature,
                                                embedding_rows, embedding_dim};
}

// Copies a one-dimensional array of exactly expected elements of element_type into out.
template <typename T>
void copy_array(T* out, Datum datum, Oid element_type, int expected, const char* model, int version) {
    ArrayType* array = DatumGetArrayTypeP(datum);
    if (ARR_NDIM(array) != 1 || array_contains_nulls(array) || ARR_DIMS(array)[0] != expected ||
        ARR_ELEMTYPE(array) != element_type)
        corrupted(model, version, "a tree's arrays differ in length");
    if (element_type == BOOLOID) {
        const bool* values = reinterpret_cast<const bool*>(ARR_DATA_PTR(array));
        for (int i = 0; i < expected; ++i) out[i] = T(values[i]);
    } else {
        memcpy(out, ARR_DATA_PTR(array), sizeof(T) * size_t(expected));
    }
}

// A gbdt version: its trees from dendrite.trees, validated (indices in range) before anything scores.
void load_trees(CachedVersion* entry, MemoryContext entry_context, const char* model, int version, Datum* id) {
    execute_as_owner("SELECT (configuration->>'base_margin')::real FROM dendrite.model_versions WHERE version_id = $1", 1,
            oids({INT8OID}), id);
    bool isnull = true;
    const Datum margin = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : Datum(0);
    if (isnull || !std::isfinite(DatumGetFloat4(margin)))
        corrupted(model, version, "its configuration has no finite base_margin", {"dendrite.model_versions", nullptr});
    execute_as_owner("SELECT cardinality(left_child), left_child, right_child, feature, threshold, value, default_left "
            "FROM dendrite.trees WHERE version_id = $1 ORDER BY tree_index",
            1, oids({INT8OID}), id);
    const int n_trees = int(SPI_processed);
    if (n_trees == 0) corrupted(model, version, "it has no trees");
    TupleDesc d = SPI_tuptable->tupdesc;
    // Node arrays of all trees, concatenated (plain palloc'd memory: an ERROR must not jump over a destructor).
    int32* offsets = static_cast<int32*>(MemoryContextAlloc(entry_context, sizeof(int32) * (n_trees + 1)));
    offsets[0] = 0;
    for (int t = 0; t < n_trees; ++t) {
        const Datum size_datum = SPI_getbinval(SPI_tuptable->vals[t], d, 1, &isnull);
        if (isnull || DatumGetInt32(size_datum) < 1) corrupted(model, version, "a tree has no nodes");
        if (offsets[t] > PG_INT32_MAX - DatumGetInt32(size_datum)) corrupted(model, version, "it has too many nodes");
        offsets[t + 1] = offsets[t] + DatumGetInt32(size_datum);
    }
    const size_t total = size_t(offsets[n_trees]);
    auto allocate = [&](size_t element) { return MemoryContextAllocHuge(entry_context, element * total); };
    int32* left = static_cast<int32*>(allocate(sizeof(int32)));
    int32* right = static_cast<int32*>(allocate(sizeof(int32)));
    int32* feature = static_cast<int32*>(allocate(sizeof(int32)));
    float* threshold = static_cast<float*>(allocate(sizeof(float)));
    float* value = static_cast<float*>(allocate(sizeof(float)));
    uint8* default_left = static_cast<uint8*>(allocate(sizeof(uint8)));
    for (int t = 0; t < n_trees; ++t) {
        HeapTuple row = SPI_tuptable->vals[t];
        const int nodes = offsets[t + 1] - offsets[t];
        Datum columns[6];
        for (int c = 0; c < 6; ++c) {
            columns[c] = SPI_getbinval(row, d, c + 2, &isnull);
            if (isnull) corrupted(model, version, "a tree has a null array");
        }
        copy_array(left + offsets[t], columns[0], INT4OID, nodes, model, version);
        copy_array(right + offsets[t], columns[1], INT4OID, nodes, model, version);
        copy_array(feature + offsets[t], columns[2], INT4OID, nodes, model, version);
        copy_array(threshold + offsets[t], columns[3], FLOAT4OID, nodes, model, version);
        copy_array(value + offsets[t], columns[4], FLOAT4OID, nodes, model, version);
        copy_array(default_left + offsets[t], columns[5], BOOLOID, nodes, model, version);
    }
    engine::TreeEnsembleView view;
    view.features = entry->n_features;
    view.trees = n_trees;
    view.base_margin = DatumGetFloat4(margin);
    view.offsets = offsets;
    view.left = left;
    view.right = right;
    view.feature = feature;
    view.threshold = threshold;
    view.value = value;
    view.default_left = default_left;
    bool valid = true;
    engine_call([&] { valid = engine::well_formed(view); });
    if (!valid)
        corrupted(model, version, "its trees are not well formed (a child index, a feature or a value out of range)",
                  {"dendrite.trees", nullptr});
    entry->scorer.kind = engine::ModelView::Kind::Trees;
    entry->scorer.trees = view;
}

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
    MemoryContext entry_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite model version",
                                                        ALLOCSET_SMALL_SIZES);
    CachedVersion* entry = static_cast<CachedVersion*>(MemoryContextAllocZero(entry_context, sizeof(CachedVersion)));
    entry->version_id = version_id;
    entry->extension = extension_oid();
    entry->version = version;
    entry->model = MemoryContextStrdup(entry_context, model);

    connect_spi();
    Datum id[1] = {Int64GetDatum(version_id)};

    execute_as_owner("SELECT threshold, featurizer_id, algorithm = 'gbdt', algorithm FROM dendrite.model_versions "
                     "WHERE version_id = $1",
                     1, oids({INT8OID}), id);
    const RowInQuestion version_row{"dendrite.model_versions", psprintf("version_id " INT64_FORMAT, version_id)};
    if (SPI_processed != 1) corrupted(model, version, "its version row is missing", version_row);
    int64 featurizer_id;
    bool trees;
    {
        bool threshold_null, featurizer_null, algorithm_null;
        entry->threshold = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &threshold_null));
        featurizer_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &featurizer_null));
        trees = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &algorithm_null));
        const char* algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
        if (threshold_null || !std::isfinite(entry->threshold))
            corrupted(model, version, "its threshold is not a finite number", version_row);
        if (featurizer_null) corrupted(model, version, "it has no featurizer", version_row);
        if (algorithm_null || !(trees || strcmp(algorithm, "mlp") == 0 || strcmp(algorithm, "logistic_regression") == 0))
            corrupted(model, version, "its algorithm is unknown", version_row);
    }
    entry->featurizer = featurizer_by_id(featurizer_id);
    const int n_features = entry->featurizer->n_outputs;
    entry->n_features = n_features;

    if (trees)
        load_trees(entry, entry_context, model, version, id);
    else
        load_network(entry, entry_context, model, version, id);
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

const CachedVersion* model_version(const char* model, int version) {
    if (version == 0) return serving_version(model);
    connect_spi();
    Datum values[2] = {CStringGetTextDatum(model), Int32GetDatum(version)};
    execute_as_owner("SELECT v.version_id FROM dendrite.models m LEFT JOIN dendrite.model_versions v "
            "ON v.model_id = m.model_id AND v.version = $2 WHERE m.name = $1",
            2, oids({TEXTOID, INT4OID}), values);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", model),
                        errhint("Train it first with dendrite.train.")));
    bool isnull;
    const Datum id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" has no version %d", model, version),
                        errhint("SELECT version FROM dendrite.model_versions lists them.")));
    const int64 version_id = DatumGetInt64(id);
    finish_spi();
    return cached_or_loaded(model, version_id, version);
}

void pin_version(const CachedVersion* version, MemoryContext holder) { pin_entry(version, holder); }

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
