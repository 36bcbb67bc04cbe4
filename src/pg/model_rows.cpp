#include "pg/model_rows.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/anomaly.hpp"
#include "engine/model_layout.hpp"
#include "engine/piecewise_encoding.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/values.hpp"

namespace dendrite::pg {

namespace {

// The row being validated, for the error's detail: which catalog table and which of its rows.
struct RowInQuestion {
    const char* table;
    const char* row;               // e.g. "layer_index 0, name kernel"; NULL: the version's rows as a whole
    const char* column = nullptr;  // the version row's column in question
};

// An inconsistency between a version's rows and its architecture (rows edited by hand, or a bad import):
// XX001 naming the model, version, table and row. Never a crash, never a score.
[[noreturn]] void corrupted(VersionName v, const char* what, RowInQuestion where = {nullptr, nullptr}) {
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("parameters of model \"%s\" version %d are inconsistent: %s", v.model, v.version, what),
                    where.column  ? errdetail("Table %s, column %s.", where.table, where.column)
                    : where.row   ? errdetail("Table %s, row (%s).", where.table, where.row)
                    : where.table ? errdetail("Table %s.", where.table)
                                  : 0,
                    errhint("Parameter rows of a trained version must not be edited; retrain the model.")));
    pg_unreachable();
}

const float* float4_values(Datum datum, size_t expected, VersionName v, RowInQuestion where) {
    ArrayType* array = DatumGetArrayTypeP(datum);
    if (ARR_NDIM(array) != 1 || array_contains_nulls(array) || size_t(ARR_DIMS(array)[0]) != expected ||
        ARR_ELEMTYPE(array) != FLOAT4OID)
        corrupted(v, "a tensor has the wrong number of values", where);
    return reinterpret_cast<const float*>(ARR_DATA_PTR(array));
}

// A tensor's shape column against the shape its slot has.
void check_shape(Datum datum, bool isnull, const engine::TensorSlot& slot, VersionName v, RowInQuestion where) {
    if (isnull) corrupted(v, "a tensor has no shape", where);
    ArrayType* array = DatumGetArrayTypeP(datum);
    const int length = ARR_NDIM(array) == 1 ? ARR_DIMS(array)[0] : 0;
    if (ARR_ELEMTYPE(array) != INT4OID || array_contains_nulls(array) || length != slot.dims)
        corrupted(v, "a tensor's shape does not match its layer", where);
    const int32* shape = reinterpret_cast<const int32*>(ARR_DATA_PTR(array));
    for (int d = 0; d < slot.dims; ++d)
        if (shape[d] != slot.shape[d]) corrupted(v, "a tensor's shape does not match its layer", where);
}

// The network a version's configuration describes, as plain data in context: the view's arrays, and the
// layout of its tensors (engine::tensor_layout). No engine object outlives the engine_call.
struct NetworkLayout {
    engine::NetworkView view;
    const engine::TensorSlot* slots;
    int n_slots;
    size_t n_parameters;  // the stored floats: the parameters, the encodings' edges, an autoencoder's quantiles
    size_t encoding_offset;
    int error_quantiles;  // an autoencoder's count, after the edges; 0 otherwise
    size_t quantile_offset;
};

NetworkLayout network_layout(VersionName v, const char* configuration, int n_features, MemoryContext context) {
    NetworkLayout layout{};
    char reason[256] = "";
    const MemoryContext caller = MemoryContextSwitchTo(context);
    engine_call([&] {
        engine::NetworkSpec spec;
        try {
            spec = engine::network_from_configuration(configuration, n_features);
        } catch (const engine::Error& e) {
            strlcpy(reason, e.what(), sizeof reason);
            return;
        }
        const size_t n_layers = spec.layers.size(), n_embeddings = spec.embeddings.size(),
                     n_encodings = spec.encodings.size();
        auto* units = static_cast<int*>(palloc_or_throw(sizeof(int) * n_layers));
        auto* activations = static_cast<engine::Activation*>(palloc_or_throw(sizeof(engine::Activation) * n_layers));
        auto* layer_norm = static_cast<bool*>(palloc_or_throw(sizeof(bool) * n_layers));
        for (size_t l = 0; l < n_layers; ++l) {
            units[l] = spec.layers[l].units;
            activations[l] = spec.layers[l].activation;
            layer_norm[l] = spec.layers[l].layer_norm;
        }
        auto* embedding_feature = static_cast<int*>(palloc_or_throw(sizeof(int) * (n_embeddings + 1)));
        auto* embedding_rows = static_cast<int*>(palloc_or_throw(sizeof(int) * (n_embeddings + 1)));
        auto* embedding_dim = static_cast<int*>(palloc_or_throw(sizeof(int) * (n_embeddings + 1)));
        for (size_t e = 0; e < n_embeddings; ++e) {
            embedding_feature[e] = spec.embeddings[e].feature;
            embedding_rows[e] = spec.embeddings[e].rows;
            embedding_dim[e] = spec.embeddings[e].dim;
        }
        auto* encoding_feature = static_cast<int*>(palloc_or_throw(sizeof(int) * (n_encodings + 1)));
        auto* encoding_bins = static_cast<int*>(palloc_or_throw(sizeof(int) * (n_encodings + 1)));
        for (size_t k = 0; k < n_encodings; ++k) {
            encoding_feature[k] = spec.encodings[k].feature;
            encoding_bins[k] = spec.encodings[k].bins;
        }
        const std::vector<engine::TensorSlot> slots = engine::tensor_layout(spec);
        auto* slot_copy = static_cast<engine::TensorSlot*>(palloc_or_throw(sizeof(engine::TensorSlot) * slots.size()));
        std::copy(slots.begin(), slots.end(), slot_copy);
        layout.view = engine::NetworkView{n_features,
                                          int(n_layers),
                                          units,
                                          activations,
                                          nullptr,
                                          layer_norm,
                                          int(n_embeddings),
                                          embedding_feature,
                                          embedding_rows,
                                          embedding_dim,
                                          int(n_encodings),
                                          encoding_feature,
                                          encoding_bins,
                                          nullptr};
        layout.slots = slot_copy;
        layout.n_slots = int(slots.size());
        layout.n_parameters = spec.stored_floats();
        layout.encoding_offset = spec.encoding_offset();
        layout.error_quantiles = spec.error_quantiles;
        layout.quantile_offset = spec.quantile_offset();
    });
    MemoryContextSwitchTo(caller);
    if (reason[0]) corrupted(v, reason, {"dendrite.model_versions", nullptr, "configuration"});
    return layout;
}

// A network version: its configuration's layout, and one dendrite.parameters row per slot of it, each
// checked (name, shape, count, finite values) and copied to its offset of one flat buffer. An encoding's
// edges are checked too (strictly increasing), as are an autoencoder's error quantiles (model->error_quantiles):
// non-negative and in order.
void read_network(VersionName v, Datum* id, int n_features, MemoryContext context, engine::ModelView* model) {
    execute_as_owner("SELECT configuration::text FROM dendrite.model_versions WHERE version_id = $1", 1,
                     oids({INT8OID}), id);
    const char* configuration =
        SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    if (!configuration)
        corrupted(v, "its configuration has no layers", {"dendrite.model_versions", nullptr, "configuration"});
    NetworkLayout layout = network_layout(v, configuration, n_features, context);

    // 64-byte aligned: Eigen's matrix-vector kernels sum in an order that depends on alignment, and a
    // score must not change with where a backend happened to put the parameters.
    char* unaligned = static_cast<char*>(MemoryContextAllocHuge(context, sizeof(float) * layout.n_parameters + 64));
    float* parameters = reinterpret_cast<float*>(TYPEALIGN(64, unaligned));
    execute_as_owner(
        "SELECT layer_index, name, value, shape FROM dendrite.parameters WHERE version_id = $1 "
        "ORDER BY layer_index, name",
        1, oids({INT8OID}), id);
    if (SPI_processed != uint64(layout.n_slots))
        corrupted(v, "it does not have the tensors its layers need", {"dendrite.parameters", nullptr});
    // Which slots were read, so that a duplicated row cannot stand in for a missing one.
    bool* seen = static_cast<bool*>(palloc0(sizeof(bool) * size_t(layout.n_slots)));
    for (uint64 r = 0; r < SPI_processed; ++r) {
        HeapTuple row = SPI_tuptable->vals[r];
        TupleDesc d = SPI_tuptable->tupdesc;
        bool index_null, value_null, shape_null;
        const int l = DatumGetInt32(SPI_getbinval(row, d, 1, &index_null));
        const char* name = SPI_getvalue(row, d, 2);
        const Datum value = SPI_getbinval(row, d, 3, &value_null);
        const Datum shape = SPI_getbinval(row, d, 4, &shape_null);
        const RowInQuestion where{
            "dendrite.parameters",
            psprintf("layer_index %s, name %s", index_null ? "NULL" : psprintf("%d", l), name ? name : "NULL")};
        if (index_null || !name) corrupted(v, "a tensor has no layer or name", where);
        if (value_null) corrupted(v, "a tensor has no values", where);
        int s = 0;
        while (s < layout.n_slots && !(layout.slots[s].layer_index == l && strcmp(layout.slots[s].name, name) == 0))
            ++s;
        if (s == layout.n_slots)
            corrupted(v,
                      l >= 0 && l < layout.view.layers ? "a tensor has an unknown name"
                                                       : "a tensor names a layer that does not exist",
                      where);
        if (seen[s]) corrupted(v, "a tensor appears twice", where);
        seen[s] = true;
        const engine::TensorSlot& slot = layout.slots[s];
        check_shape(shape, shape_null, slot, v, where);
        const float* values = float4_values(value, slot.count, v, where);
        for (size_t i = 0; i < slot.count; ++i) {
            if (!std::isfinite(values[i])) corrupted(v, "a parameter is not finite", where);
            parameters[slot.offset + i] = values[i];
        }
    }
    layout.view.parameters = parameters;
    layout.view.encoding_edges = parameters + layout.encoding_offset;
    for (int k = 0, offset = 0; k < layout.view.encodings; ++k) {
        const int count = layout.view.encoding_bins[k] + 1;
        bool valid = false;
        engine_call([&] { valid = engine::valid_bin_edges(layout.view.encoding_edges + offset, count); });
        if (!valid)
            corrupted(v, "an encoding's edges are not increasing",
                      {"dendrite.parameters", psprintf("layer encoding_%d, name edges", k)});
        offset += count;
    }
    model->network = layout.view;
    if (layout.error_quantiles > 0) {
        const float* quantiles = parameters + layout.quantile_offset;
        bool valid = false;
        engine_call([&] { valid = engine::valid_error_quantiles(quantiles, layout.error_quantiles); });
        if (!valid)
            corrupted(v, "its error quantiles are not non-negative numbers in order",
                      {"dendrite.parameters", "layer anomaly_score, name error_quantiles"});
        model->kind = engine::ModelView::Kind::Autoencoder;
        model->error_quantiles = quantiles;
        model->error_quantile_count = layout.error_quantiles;
    }
}

// Copies a one-dimensional array of exactly expected elements of element_type into out.
template <typename T>
void copy_array(T* out, Datum datum, Oid element_type, int expected, VersionName v) {
    ArrayType* array = DatumGetArrayTypeP(datum);
    if (ARR_NDIM(array) != 1 || array_contains_nulls(array) || ARR_DIMS(array)[0] != expected ||
        ARR_ELEMTYPE(array) != element_type)
        corrupted(v, "a tree's arrays differ in length");
    if (element_type == BOOLOID) {
        const bool* values = reinterpret_cast<const bool*>(ARR_DATA_PTR(array));
        for (int i = 0; i < expected; ++i) out[i] = T(values[i]);
    } else {
        memcpy(out, ARR_DATA_PTR(array), sizeof(T) * size_t(expected));
    }
}

// A gbdt version: its trees from dendrite.trees, validated (indices in range) before anything scores.
engine::TreeEnsembleView read_trees(VersionName v, Datum* id, int n_features, MemoryContext context) {
    execute_as_owner("SELECT (configuration->>'base_margin')::real FROM dendrite.model_versions WHERE version_id = $1",
                     1, oids({INT8OID}), id);
    bool isnull = true;
    const Datum margin =
        SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : Datum(0);
    if (isnull || !std::isfinite(DatumGetFloat4(margin)))
        corrupted(v, "its configuration has no finite base_margin",
                  {"dendrite.model_versions", nullptr, "configuration"});
    // The covers (explain) since 0.6.0: NULL for versions trained before, and on an older catalog.
    execute_as_owner(psprintf("SELECT cardinality(left_child), left_child, right_child, feature, threshold, value, "
                              "default_left, %s FROM dendrite.trees WHERE version_id = $1 ORDER BY tree_index",
                              catalog_has_column("trees", "cover") ? "cover" : "NULL::real[]"),
                     1, oids({INT8OID}), id);
    const int n_trees = int(SPI_processed);
    if (n_trees == 0) corrupted(v, "it has no trees");
    TupleDesc d = SPI_tuptable->tupdesc;
    // Node arrays of all trees, concatenated (plain palloc'd memory: an ERROR must not jump over a destructor).
    int32* offsets = static_cast<int32*>(MemoryContextAlloc(context, sizeof(int32) * (n_trees + 1)));
    offsets[0] = 0;
    for (int t = 0; t < n_trees; ++t) {
        const Datum size_datum = SPI_getbinval(SPI_tuptable->vals[t], d, 1, &isnull);
        if (isnull || DatumGetInt32(size_datum) < 1) corrupted(v, "a tree has no nodes");
        if (offsets[t] > PG_INT32_MAX - DatumGetInt32(size_datum)) corrupted(v, "it has too many nodes");
        offsets[t + 1] = offsets[t] + DatumGetInt32(size_datum);
    }
    const size_t total = size_t(offsets[n_trees]);
    auto allocate = [&](size_t element) { return MemoryContextAllocHuge(context, element * total); };
    int32* left = static_cast<int32*>(allocate(sizeof(int32)));
    int32* right = static_cast<int32*>(allocate(sizeof(int32)));
    int32* feature = static_cast<int32*>(allocate(sizeof(int32)));
    float* threshold = static_cast<float*>(allocate(sizeof(float)));
    float* value = static_cast<float*>(allocate(sizeof(float)));
    uint8* default_left = static_cast<uint8*>(allocate(sizeof(uint8)));
    // Covers: every tree has them, or none (a version trained before 0.6.0); anything else is an edit.
    bool cover_null = true;
    SPI_getbinval(SPI_tuptable->vals[0], d, 8, &cover_null);
    float* cover = cover_null ? nullptr : static_cast<float*>(allocate(sizeof(float)));
    for (int t = 0; t < n_trees; ++t) {
        HeapTuple row = SPI_tuptable->vals[t];
        const int nodes = offsets[t + 1] - offsets[t];
        Datum columns[6];
        for (int c = 0; c < 6; ++c) {
            columns[c] = SPI_getbinval(row, d, c + 2, &isnull);
            if (isnull) corrupted(v, "a tree has a null array");
        }
        const Datum tree_cover = SPI_getbinval(row, d, 8, &isnull);
        if (isnull != cover_null)
            corrupted(v, "some of its trees have covers and some do not", {"dendrite.trees", nullptr, "cover"});
        if (cover) copy_array(cover + offsets[t], tree_cover, FLOAT4OID, nodes, v);
        copy_array(left + offsets[t], columns[0], INT4OID, nodes, v);
        copy_array(right + offsets[t], columns[1], INT4OID, nodes, v);
        copy_array(feature + offsets[t], columns[2], INT4OID, nodes, v);
        copy_array(threshold + offsets[t], columns[3], FLOAT4OID, nodes, v);
        copy_array(value + offsets[t], columns[4], FLOAT4OID, nodes, v);
        copy_array(default_left + offsets[t], columns[5], BOOLOID, nodes, v);
    }
    engine::TreeEnsembleView view;
    view.features = n_features;
    view.trees = n_trees;
    view.base_margin = DatumGetFloat4(margin);
    view.offsets = offsets;
    view.left = left;
    view.right = right;
    view.feature = feature;
    view.threshold = threshold;
    view.value = value;
    view.default_left = default_left;
    view.cover = cover;
    bool valid = true;
    engine_call([&] { valid = engine::well_formed(view); });
    if (!valid)
        corrupted(
            v,
            "its trees are not well formed (a child index, a feature, a value or a cover out of range, or a node two "
            "nodes point to)",
            {"dendrite.trees", nullptr});
    return view;
}

// A blend's share of the logit for its network, from its configuration: a number in [0, 1].
float read_network_weight(VersionName v, Datum* id) {
    execute_as_owner(
        "SELECT CASE WHEN jsonb_typeof(configuration->'network_weight') = 'number' "
        "THEN (configuration->>'network_weight')::float8 END FROM dendrite.model_versions WHERE version_id = $1",
        1, oids({INT8OID}), id);
    bool isnull = true;
    const Datum weight =
        SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : Datum(0);
    if (isnull || !(DatumGetFloat8(weight) >= 0 && DatumGetFloat8(weight) <= 1))
        corrupted(v, "its configuration has no network_weight in [0, 1]",
                  {"dendrite.model_versions", nullptr, "configuration"});
    return float(DatumGetFloat8(weight));
}

// One row per named tensor, as engine::tensor_layout lists them.
void write_network(int64 version_id, const engine::TrainResult& result) {
    const engine::TensorSlot* slots = nullptr;
    int n_slots = 0;
    engine_call([&] {
        const std::vector<engine::TensorSlot> layout = engine::tensor_layout(result.spec);
        auto* copy =
            static_cast<engine::TensorSlot*>(palloc_or_throw(sizeof(engine::TensorSlot) * (layout.size() + 1)));
        std::copy(layout.begin(), layout.end(), copy);
        slots = copy;
        n_slots = int(layout.size());
    });
    SPIPlanPtr insert_parameter = prepare_as_owner(
        "INSERT INTO dendrite.parameters (version_id, layer_index, layer, name, shape, value) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        6, oids({INT8OID, INT4OID, TEXTOID, TEXTOID, INT4ARRAYOID, FLOAT4ARRAYOID}));
    for (int s = 0; s < n_slots; ++s) {
        const engine::TensorSlot& slot = slots[s];
        Datum values[6] = {Int64GetDatum(version_id),
                           Int32GetDatum(slot.layer_index),
                           CStringGetTextDatum(slot.layer),
                           CStringGetTextDatum(slot.name),
                           PointerGetDatum(int4_array(slot.shape, slot.dims)),
                           PointerGetDatum(float4_array(result.parameters.data() + slot.offset, slot.count))};
        execute_plan_as_owner(insert_parameter, values);
    }
}

// One row per tree: its nodes as parallel arrays (see dendrite.trees).
void write_trees(int64 version_id, const engine::TreeEnsemble& trees) {
    // The covers since 0.6.0 (explain), as this catalog has room for them.
    const bool with_cover = !trees.cover.empty() && catalog_has_column("trees", "cover");
    SPIPlanPtr insert_tree = prepare_as_owner(
        with_cover ? "INSERT INTO dendrite.trees (version_id, tree_index, left_child, right_child, feature, threshold, "
                     "value, default_left, cover) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                   : "INSERT INTO dendrite.trees (version_id, tree_index, left_child, right_child, feature, threshold, "
                     "value, default_left) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        with_cover ? 9 : 8,
        oids({INT8OID, INT4OID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, BOOLARRAYOID,
              FLOAT4ARRAYOID}));
    for (int t = 0; t < trees.trees(); ++t) {
        const int first = trees.offsets[size_t(t)], nodes = trees.offsets[size_t(t) + 1] - first;
        Datum* flags = static_cast<Datum*>(palloc(sizeof(Datum) * nodes));
        for (int i = 0; i < nodes; ++i) flags[i] = BoolGetDatum(trees.default_left[size_t(first + i)] != 0);
        Datum values[9] = {
            Int64GetDatum(version_id),
            Int32GetDatum(t),
            PointerGetDatum(int4_array(trees.left.data() + first, nodes)),
            PointerGetDatum(int4_array(trees.right.data() + first, nodes)),
            PointerGetDatum(int4_array(trees.feature.data() + first, nodes)),
            PointerGetDatum(float4_array(trees.threshold.data() + first, size_t(nodes))),
            PointerGetDatum(float4_array(trees.value.data() + first, size_t(nodes))),
            PointerGetDatum(construct_array(flags, nodes, BOOLOID, 1, true, TYPALIGN_CHAR)),
            with_cover ? PointerGetDatum(float4_array(trees.cover.data() + first, size_t(nodes))) : Datum(0)};
        execute_plan_as_owner(insert_tree, values);
        pfree(flags);
    }
}

// Without labels (result.labelled false) the metrics columns are NULL: only the losses and threshold mean something.
void write_epochs(int64 version_id, const std::vector<engine::EpochReport>& epochs, bool labelled) {
    SPIPlanPtr insert_epoch = prepare_as_owner(
        "INSERT INTO dendrite.epochs (version_id, epoch, loss, validation_loss, precision, recall, f1, pr_auc, "
        "roc_auc, tp, fp, tn, fn, threshold, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15)",
        15,
        oids({INT8OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID,
              INT8OID, INT8OID, INT8OID, FLOAT8OID, FLOAT8OID}));
    for (const engine::EpochReport& r : epochs) {
        const engine::Confusion& c = r.metrics.confusion;
        Datum values[15] = {Int64GetDatum(version_id),
                            Int32GetDatum(r.epoch),
                            Float8GetDatum(r.loss),
                            Float8GetDatum(r.validation_loss),
                            Float8GetDatum(c.precision()),
                            Float8GetDatum(c.recall()),
                            Float8GetDatum(c.f1()),
                            Float8GetDatum(r.metrics.pr_auc),
                            Float8GetDatum(r.metrics.roc_auc),
                            Int64GetDatum(c.tp),
                            Int64GetDatum(c.fp),
                            Int64GetDatum(c.tn),
                            Int64GetDatum(c.fn),
                            Float8GetDatum(r.metrics.threshold),
                            Float8GetDatum(r.seconds)};
        char nulls[15];
        memset(nulls, ' ', sizeof nulls);
        if (!labelled) memset(nulls + 4, 'n', 9);  // precision .. fn
        execute_plan_as_owner(insert_epoch, values, nulls);
    }
}

// What the report and feature_drift read (0.4.0): the kept epoch's curves and the training rows' deciles.
// A catalog not yet updated to 0.4.0 has neither table; the version is stored without them.
void write_evaluation(int64 version_id, const engine::CurveSummary& curve,
                      const std::vector<engine::FeatureBaseline>& baselines, const std::vector<std::string>& names) {
    if (catalog_has_table("validation_curves") && curve.size() > 0) {
        Datum values[5] = {Int64GetDatum(version_id),
                           PointerGetDatum(float4_array(curve.thresholds.data(), curve.size())),
                           PointerGetDatum(float4_array(curve.precision.data(), curve.size())),
                           PointerGetDatum(float4_array(curve.recall.data(), curve.size())),
                           PointerGetDatum(float4_array(curve.false_positive_rate.data(), curve.size()))};
        execute_as_owner(
            "INSERT INTO dendrite.validation_curves (version_id, thresholds, precision, recall, "
            "false_positive_rate) VALUES ($1, $2, $3, $4, $5)",
            5, oids({INT8OID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID}), values);
    }
    if (!catalog_has_table("feature_baselines") || baselines.empty()) return;
    SPIPlanPtr insert_baseline = prepare_as_owner(
        "INSERT INTO dendrite.feature_baselines (version_id, feature_index, feature, mean, stddev, edges, fractions) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        7, oids({INT8OID, INT4OID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT4ARRAYOID, FLOAT8ARRAYOID}));
    for (size_t f = 0; f < baselines.size(); ++f) {
        const engine::FeatureBaseline& b = baselines[f];
        Datum values[7] = {Int64GetDatum(version_id),
                           Int32GetDatum(int(f)),
                           CStringGetTextDatum(f < names.size() ? names[f].c_str() : ""),
                           Float8GetDatum(b.mean),
                           Float8GetDatum(b.stddev),
                           PointerGetDatum(float4_array(b.edges.data(), b.edges.size())),
                           PointerGetDatum(float8_array(b.fractions.data(), int(b.fractions.size())))};
        execute_plan_as_owner(insert_baseline, values);
    }
}

}  // namespace

VersionRow read_version_row(VersionName name, int64 version_id) {
    Datum id[1] = {Int64GetDatum(version_id)};
    execute_as_owner(
        "SELECT threshold, featurizer_id, algorithm = 'gbdt', algorithm, configuration ? 'error_quantiles' "
        "FROM dendrite.model_versions "
        "WHERE version_id = $1",
        1, oids({INT8OID}), id);
    const RowInQuestion version_row{"dendrite.model_versions", psprintf("version_id " INT64_FORMAT, version_id)};
    if (SPI_processed != 1) corrupted(name, "its version row is missing", version_row);
    VersionRow row;
    bool threshold_null, featurizer_null, algorithm_null;
    HeapTuple tuple = SPI_tuptable->vals[0];
    TupleDesc d = SPI_tuptable->tupdesc;
    row.threshold = DatumGetFloat8(SPI_getbinval(tuple, d, 1, &threshold_null));
    row.featurizer_id = DatumGetInt64(SPI_getbinval(tuple, d, 2, &featurizer_null));
    row.trees = DatumGetBool(SPI_getbinval(tuple, d, 3, &algorithm_null));
    const char* algorithm = SPI_getvalue(tuple, d, 4);
    if (threshold_null || !std::isfinite(row.threshold))
        corrupted(name, "its threshold is not a finite number", version_row);
    if (featurizer_null) corrupted(name, "it has no featurizer", version_row);
    row.blend = !algorithm_null && strcmp(algorithm, "blend") == 0;
    if (algorithm_null || !(row.trees || row.blend || strcmp(algorithm, "mlp") == 0 ||
                            strcmp(algorithm, "logistic_regression") == 0 || strcmp(algorithm, "autoencoder") == 0))
        corrupted(name, "its algorithm is unknown", version_row);
    // An autoencoder's configuration reconstructs its input and has error quantiles; a classifier's neither.
    row.autoencoder = strcmp(algorithm, "autoencoder") == 0;
    bool quantiles_null;
    if (row.autoencoder != DatumGetBool(SPI_getbinval(tuple, d, 5, &quantiles_null)))
        corrupted(
            name,
            row.autoencoder ? "its configuration has no error quantiles" : "its algorithm is not an autoencoder's",
            {"dendrite.model_versions", psprintf("version_id " INT64_FORMAT, version_id), "configuration"});
    return row;
}

engine::ModelView read_model_rows(VersionName name, int64 version_id, const VersionRow& row, int n_features,
                                  MemoryContext context) {
    Datum id[1] = {Int64GetDatum(version_id)};
    engine::ModelView model;
    if (row.trees) {
        model.kind = engine::ModelView::Kind::Trees;
        model.trees = read_trees(name, id, n_features, context);
    } else if (row.blend) {
        read_network(name, id, n_features, context, &model);
        if (model.kind != engine::ModelView::Kind::Network ||
            model.network.activations[model.network.layers - 1] != engine::Activation::Sigmoid)
            corrupted(name, "its configuration is not a classifier's",
                      {"dendrite.model_versions", nullptr, "configuration"});
        model.trees = read_trees(name, id, n_features, context);
        model.kind = engine::ModelView::Kind::Blend;
        model.network_weight = read_network_weight(name, id);
    } else {
        model.kind = engine::ModelView::Kind::Network;
        read_network(name, id, n_features, context, &model);
        if ((model.kind == engine::ModelView::Kind::Autoencoder) != row.autoencoder)
            corrupted(name, "its configuration does not match its algorithm",
                      {"dendrite.model_versions", nullptr, "configuration"});
    }
    return model;
}

char* model_configuration_json(const engine::TrainResult& result) {
    char* json = nullptr;
    engine_call([&] {
        const std::string text = result.algorithm == "gbdt"    ? engine::trees_configuration_json(result.trees)
                                 : result.algorithm == "blend" ? engine::blend_configuration_json(
                                                                     result.spec, result.trees, result.network_weight)
                                                               : engine::network_configuration_json(result.spec);
        json = static_cast<char*>(palloc_or_throw(text.size() + 1));
        memcpy(json, text.c_str(), text.size() + 1);
    });
    return json;
}

void write_model_rows(int64 version_id, const engine::TrainResult& result,
                      const std::vector<engine::FeatureBaseline>& baselines,
                      const std::vector<std::string>& output_names) {
    if (result.algorithm != "gbdt") write_network(version_id, result);
    if (result.algorithm == "gbdt" || result.algorithm == "blend") write_trees(version_id, result.trees);
    write_epochs(version_id, result.epochs, result.labelled);
    write_evaluation(version_id, result.curve, baselines, output_names);
}

}  // namespace dendrite::pg
