#include "pg/featurizer_rows.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/model_cache.hpp"
#include "pg/privileges.hpp"
#include "pg/query_pass.hpp"
#include "pg/row_binding.hpp"
#include "pg/values.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace dendrite::pg {

namespace {

engine::SqlTypeClass parse_type_class(const char* name) {
    if (OidIsValid(time_type_named(name))) return engine::SqlTypeClass::Timestamp;
    for (auto type : {engine::SqlTypeClass::Number, engine::SqlTypeClass::Integer, engine::SqlTypeClass::Boolean,
                      engine::SqlTypeClass::Text, engine::SqlTypeClass::Timestamp, engine::SqlTypeClass::Inet})
        if (strcmp(name, type_class_name(type)) == 0) return type;
    return engine::SqlTypeClass::Other;
}

char** text_array_values(Datum datum, int* count) {
    Datum* elements;
    bool* nulls;
    deconstruct_array(DatumGetArrayTypeP(datum), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, count);
    char** values = static_cast<char**>(palloc(sizeof(char*) * (*count > 0 ? *count : 1)));
    for (int i = 0; i < *count; ++i) values[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elements[i]);
    return values;
}

// The catalog rows of one featurizer version, as plain data.
struct StoredColumn {
    bool missing_indicator;
    double center, scale, impute, unseen_value;
    int n_categories;
    char** categories;
    double* values;
};

// A featurizer version whose rows were edited by hand (or imported wrong): XX001 naming it, the table and
// what is wrong. Never a crash, never a score.
[[noreturn]] void stored_featurizer_corrupted(const CachedFeaturizer* entry, const char* table, const char* what) {
    ereport(
        ERROR,
        (errcode(ERRCODE_DATA_CORRUPTED),
         errmsg("featurizer \"%s\" is inconsistent: %s", entry->name ? entry->name : "?", what),
         entry->name
             ? errdetail("Table %s, the rows of version %d of featurizer \"%s\".", table, entry->version, entry->name)
             : errdetail("Table %s, the row of featurizer_id " INT64_FORMAT ".", table, entry->featurizer_id),
         errhint("Fitted featurizer rows must not be edited; fit a new featurizer version.")));
    pg_unreachable();
}

bool spec_json_is_set(HeapTuple row, TupleDesc descriptor) {
    bool isnull;
    SPI_getbinval(row, descriptor, 5, &isnull);
    return !isnull;
}

}  // namespace

namespace {

struct AnomalyLoad {
    const char* featurizer;
    const char* feature;
};

void anomaly_load_context(void* argument) {
    const auto* load = static_cast<const AnomalyLoad*>(argument);
    errcontext("loading anomaly feature \"%s\" of featurizer \"%s\"", load->feature, load->featurizer);
}

// The autoencoder versions of the featurizer's anomaly features: loaded, pinned for the life of the entry
// (so they outlive any eviction while it is cached) and handed to its engine featurizer.
void attach_anomaly_models(CachedFeaturizer* entry, MemoryContext entry_context) {
    const std::vector<engine::AnomalySpec>& anomaly = entry->featurizer->spec().anomaly;
    entry->anomaly_versions = static_cast<const CachedVersion**>(
        MemoryContextAllocZero(entry_context, sizeof(CachedVersion*) * (anomaly.size() + 1)));
    for (size_t a = 0; a < anomaly.size(); ++a) {
        AnomalyLoad load{entry->name, anomaly[a].name.c_str()};
        ErrorContextCallback context{error_context_stack, anomaly_load_context, &load};
        error_context_stack = &context;
        const CachedVersion* version = model_version(anomaly[a].model.c_str(), anomaly[a].version);
        if (version->scorer.kind != engine::ModelView::Kind::Autoencoder)
            stored_featurizer_corrupted(
                entry, "dendrite.featurizers",
                psprintf("the model of anomaly feature \"%s\" is not an autoencoder", anomaly[a].name.c_str()));
        engine::Featurizer* featurizer = entry->featurizer;
        engine_call([&] { featurizer->attach_anomaly_model(a, version->featurizer->featurizer, &version->scorer); });
        pin_version(version, entry_context);
        entry->anomaly_versions[entry->n_anomaly_versions++] = version;
        error_context_stack = context.previous;
    }
}

}  // namespace

CachedFeaturizer* read_featurizer_rows(int64 featurizer_id, MemoryContext entry_context) {
    CachedFeaturizer* entry =
        static_cast<CachedFeaturizer*>(MemoryContextAllocZero(entry_context, sizeof(CachedFeaturizer)));
    entry->featurizer_id = featurizer_id;
    entry->extension = extension_oid();

    connect_spi();
    Datum id[1] = {Int64GetDatum(featurizer_id)};
    // The owner (0.3.0 on) and search_path (0.5.0 on) columns, as this catalog has them.
    execute_as_owner(psprintf("SELECT name, version, query, coalesce(history_query, query), spec::text, input_columns, "
                              "input_types, %s, %s, output_names FROM dendrite.featurizers WHERE featurizer_id = $1",
                              featurizers_have_owners() ? "owner" : "NULL::name",
                              catalog_has_column("featurizers", "search_path") ? "search_path" : "NULL::text"),
                     1, oids({INT8OID}), id);
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("featurizer version " INT64_FORMAT " does not exist", featurizer_id)));
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    bool isnull;
    entry->version = DatumGetInt32(SPI_getbinval(row, descriptor, 2, &isnull));
    {
        const char* name = SPI_getvalue(row, descriptor, 1);
        const char* query = SPI_getvalue(row, descriptor, 3);
        if (!name || !query) stored_featurizer_corrupted(entry, "dendrite.featurizers", "its name or query is NULL");
        entry->name = MemoryContextStrdup(entry_context, name);
        entry->query = MemoryContextStrdup(entry_context, query);
        entry->history_query = MemoryContextStrdup(entry_context, SPI_getvalue(row, descriptor, 4));  // coalesce'd
    }
    {
        const char* owner = SPI_getvalue(row, descriptor, 8);
        entry->query_owner = owner ? get_role_oid(owner, false) : InvalidOid;
        entry->search_path = MemoryContextStrdup(entry_context, stored_search_path(SPI_getvalue(row, descriptor, 9)));
    }
    char* spec_json = SPI_getvalue(row, descriptor, 5);
    int n_inputs = 0, n_types = 0, n_output_names = 0;
    char** input_names = nullptr;
    char** input_types = nullptr;
    char** output_names = nullptr;
    {
        bool inputs_null, types_null, outputs_null;
        const Datum inputs = SPI_getbinval(row, descriptor, 6, &inputs_null);
        const Datum types = SPI_getbinval(row, descriptor, 7, &types_null);
        const Datum outputs = SPI_getbinval(row, descriptor, 10, &outputs_null);
        SPI_getbinval(row, descriptor, 2, &isnull);
        if (!entry->name || isnull || !entry->query || !spec_json_is_set(row, descriptor) || inputs_null ||
            types_null || outputs_null)
            stored_featurizer_corrupted(entry, "dendrite.featurizers", "a column is NULL");
        input_names = text_array_values(inputs, &n_inputs);
        input_types = text_array_values(types, &n_types);
        output_names = text_array_values(outputs, &n_output_names);
    }
    if (n_types != n_inputs)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("featurizer \"%s\" has inconsistent input columns", entry->name)));

    execute_as_owner(
        "SELECT missing_indicator, center, scale, impute, unseen_value, ordinal FROM dendrite.feature_columns "
        "WHERE featurizer_id = $1 ORDER BY ordinal",
        1, oids({INT8OID}), id);
    const int n_columns = int(SPI_processed);
    StoredColumn* columns = static_cast<StoredColumn*>(palloc0(sizeof(StoredColumn) * (n_columns + 1)));
    for (int c = 0; c < n_columns; ++c) {
        HeapTuple r = SPI_tuptable->vals[c];
        TupleDesc d = SPI_tuptable->tupdesc;
        // Every statistic is a finite number (and the scale positive, checked with the spec below): a NULL or
        // a NaN would become a NaN feature, and a NaN feature a score.
        bool nulls[6];
        columns[c].missing_indicator = DatumGetBool(SPI_getbinval(r, d, 1, &nulls[0]));
        columns[c].center = DatumGetFloat8(SPI_getbinval(r, d, 2, &nulls[1]));
        columns[c].scale = DatumGetFloat8(SPI_getbinval(r, d, 3, &nulls[2]));
        columns[c].impute = DatumGetFloat8(SPI_getbinval(r, d, 4, &nulls[3]));
        columns[c].unseen_value = DatumGetFloat8(SPI_getbinval(r, d, 5, &nulls[4]));
        const int ordinal = DatumGetInt32(SPI_getbinval(r, d, 6, &nulls[5]));
        if (nulls[0] || nulls[1] || nulls[2] || nulls[3] || nulls[4] || nulls[5] || ordinal != c + 1 ||
            !std::isfinite(columns[c].center) || !std::isfinite(columns[c].scale) ||
            !std::isfinite(columns[c].impute) || !std::isfinite(columns[c].unseen_value))
            stored_featurizer_corrupted(entry, "dendrite.feature_columns",
                                        psprintf("column %d has a missing or non-finite statistic", c + 1));
    }
    execute_as_owner(
        "SELECT ordinal, category, coalesce(value, 0) FROM dendrite.feature_categories WHERE featurizer_id = $1 "
        "ORDER BY ordinal, rank",
        1, oids({INT8OID}), id);
    {
        const uint64 n = SPI_processed;
        // Two passes: count per column, then fill.
        for (uint64 i = 0; i < n; ++i) {
            const int ordinal = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
            bool value_null;
            const double value =
                DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &value_null));
            if (isnull || value_null || !std::isfinite(value) ||
                !SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2))
                stored_featurizer_corrupted(entry, "dendrite.feature_categories",
                                            "a category or its value is missing or not finite");
            if (ordinal < 1 || ordinal > n_columns)
                ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                                errmsg("featurizer \"%s\" has a category of an unknown column", entry->name)));
            columns[ordinal - 1].n_categories++;
        }
        for (int c = 0; c < n_columns; ++c) {
            columns[c].categories = static_cast<char**>(palloc(sizeof(char*) * (columns[c].n_categories + 1)));
            columns[c].values = static_cast<double*>(palloc(sizeof(double) * (columns[c].n_categories + 1)));
            columns[c].n_categories = 0;
        }
        for (uint64 i = 0; i < n; ++i) {
            HeapTuple r = SPI_tuptable->vals[i];
            StoredColumn& column = columns[DatumGetInt32(SPI_getbinval(r, SPI_tuptable->tupdesc, 1, &isnull)) - 1];
            column.categories[column.n_categories] = SPI_getvalue(r, SPI_tuptable->tupdesc, 2);
            column.values[column.n_categories] = DatumGetFloat8(SPI_getbinval(r, SPI_tuptable->tupdesc, 3, &isnull));
            column.n_categories++;
        }
    }
    execute_as_owner("SELECT center, scale FROM dendrite.feature_history WHERE featurizer_id = $1 ORDER BY ordinal", 1,
                     oids({INT8OID}), id);
    const int n_history = int(SPI_processed);
    double* history_center = static_cast<double*>(palloc(sizeof(double) * (n_history + 1)));
    double* history_scale = static_cast<double*>(palloc(sizeof(double) * (n_history + 1)));
    for (int i = 0; i < n_history; ++i) {
        bool center_null, scale_null;
        history_center[i] =
            DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &center_null));
        history_scale[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &scale_null));
        if (center_null || scale_null || !std::isfinite(history_center[i]) || !std::isfinite(history_scale[i]) ||
            !(history_scale[i] > 0))
            stored_featurizer_corrupted(
                entry, "dendrite.feature_history",
                psprintf("history output %d has a missing, non-finite or non-positive statistic", i + 1));
    }
    engine::Featurizer* featurizer = nullptr;
    engine_call([&] {
        engine::FeaturizerSpec spec = engine::FeaturizerSpec::from_json(spec_json);
        if (int(spec.columns.size()) != n_columns)
            engine::fail(engine::ErrorKind::Data, "the featurizer's column rows do not match its spec");
        std::vector<engine::FittedColumn> fitted(spec.columns.size());
        for (int c = 0; c < n_columns; ++c) {
            fitted[c].spec = spec.columns[c];
            fitted[c].missing_indicator = columns[c].missing_indicator;
            fitted[c].center = columns[c].center;
            fitted[c].scale = columns[c].scale;
            fitted[c].impute = columns[c].impute;
            fitted[c].unseen_value = columns[c].unseen_value;
            for (int i = 0; i < columns[c].n_categories; ++i) {
                fitted[c].categories.emplace_back(columns[c].categories[i]);
                if (spec.columns[c].encoding != engine::CategoricalEncoding::OneHot)
                    fitted[c].category_values.push_back(columns[c].values[i]);
            }
            if (!(fitted[c].scale > 0))
                engine::fail(engine::ErrorKind::Data, "a feature column has a scale that is not positive");
        }
        std::vector<engine::FittedHistoryOutput> history;
        for (int i = 0; i < n_history; ++i) history.push_back({history_center[i], history_scale[i]});
        auto built = std::make_unique<engine::Featurizer>(std::move(spec), std::move(fitted), std::move(history));
        if (int(built->inputs().size()) != n_inputs)
            engine::fail(engine::ErrorKind::Data, "the featurizer's input columns do not match its spec");
        featurizer = built.release();
    });
    own_in_context(entry_context, featurizer);
    // Every history output has its stored standardization (the engine defaults missing ones to none), and
    // the stored output names are the spec's.
    if (!featurizer->spec().history.empty() && int(featurizer->history_outputs().size()) != n_history)
        stored_featurizer_corrupted(entry, "dendrite.feature_history",
                                    "its history rows do not match its declarations");
    bool names_match = featurizer->output_count() == n_output_names;
    for (int i = 0; names_match && i < n_output_names; ++i)
        names_match = strcmp(featurizer->output_names()[size_t(i)].c_str(), output_names[i]) == 0;
    if (!names_match)
        stored_featurizer_corrupted(entry, "dendrite.featurizers", "its output_names do not match its spec");

    entry->featurizer = featurizer;
    entry->n_outputs = featurizer->output_count();
    entry->n_inputs = n_inputs;
    entry->input_names = static_cast<char**>(MemoryContextAlloc(entry_context, sizeof(char*) * n_inputs));
    entry->input_types =
        static_cast<engine::SqlTypeClass*>(MemoryContextAlloc(entry_context, sizeof(engine::SqlTypeClass) * n_inputs));
    entry->input_time_types = static_cast<Oid*>(MemoryContextAlloc(entry_context, sizeof(Oid) * n_inputs));
    entry->input_optional = static_cast<bool*>(MemoryContextAlloc(entry_context, sizeof(bool) * n_inputs));
    for (int i = 0; i < n_inputs; ++i) {
        if (strcmp(input_names[i], featurizer->inputs()[i].c_str()) != 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("featurizer \"%s\" has inconsistent input columns", entry->name)));
        entry->input_names[i] = MemoryContextStrdup(entry_context, input_names[i]);
        entry->input_types[i] = parse_type_class(input_types[i]);
        entry->input_time_types[i] = time_type_named(input_types[i]);
        entry->input_optional[i] = featurizer->optional_input(size_t(i));
    }
    if (featurizer->keeps_history())
        entry->time_column = MemoryContextStrdup(entry_context, featurizer->spec().event_time().c_str());
    // Derived columns are the author's code: compiled as the owner, with the stored search_path.
    const auto& derived = featurizer->spec().derived;
    entry->derived.n = int(derived.size());
    entry->derived.names = static_cast<char**>(MemoryContextAlloc(entry_context, sizeof(char*) * (derived.size() + 1)));
    entry->derived.expressions =
        static_cast<char**>(MemoryContextAlloc(entry_context, sizeof(char*) * (derived.size() + 1)));
    for (size_t k = 0; k < derived.size(); ++k) {
        entry->derived.names[k] = MemoryContextStrdup(entry_context, derived[k].name.c_str());
        entry->derived.expressions[k] = MemoryContextStrdup(entry_context, derived[k].expression.c_str());
    }
    entry->derived.compile_role = entry->query_owner;
    entry->derived.search_path = entry->search_path;
    finish_spi();  // only now: the names above were read from SPI's memory
    attach_anomaly_models(entry, entry_context);
    return entry;
}

int64 store_featurizer(const char* name, const char* query, const char* history_query,
                       const engine::Featurizer& featurizer, const char* const* input_types, int64 rows) {
    require_featurizer_manager(name);  // again: another role may have created it while this one was fitting
    const auto& inputs = featurizer.inputs();
    const int n_inputs = int(inputs.size());
    char** input_names = static_cast<char**>(palloc(sizeof(char*) * (n_inputs + 1)));
    char** type_names = static_cast<char**>(palloc(sizeof(char*) * (n_inputs + 1)));
    for (int i = 0; i < n_inputs; ++i) {
        input_names[i] = pstrdup(inputs[i].c_str());
        type_names[i] = pstrdup(input_types[i] ? input_types[i] : "other");
    }
    const int n_outputs = featurizer.output_count();
    char** output_names = static_cast<char**>(palloc(sizeof(char*) * (n_outputs + 1)));
    for (int i = 0; i < n_outputs; ++i) output_names[i] = pstrdup(featurizer.output_names()[i].c_str());
    // Every feature a name of its own: feature_names, explanations, drift and importance are read by name (a
    // query column named tx_time_night beside the time column tx_time's output would be two features of a name).
    int first = -1, second = -1;
    engine_call([&] {
        std::unordered_map<std::string, int> seen;
        for (int i = 0; i < n_outputs && second < 0; ++i) {
            const auto [at, inserted] = seen.emplace(featurizer.output_names()[size_t(i)], i);
            if (!inserted) first = at->second, second = i;
        }
    });
    if (second >= 0)
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                        errmsg("featurizer \"%s\" would have two features named \"%s\"", name, output_names[second]),
                        errdetail("Feature %d comes from %s, feature %d from %s.", first + 1,
                                  featurizer.output_sources()[size_t(first)].c_str(), second + 1,
                                  featurizer.output_sources()[size_t(second)].c_str()),
                        errhint("Rename the query column, or name the history declaration (\"name\").")));
    char* spec_json = nullptr;
    engine_call([&] {
        const std::string json = featurizer.spec().to_json();
        spec_json = static_cast<char*>(palloc_or_throw(json.size() + 1));
        memcpy(spec_json, json.c_str(), json.size() + 1);
    });

    Datum values[10] = {CStringGetTextDatum(name),
                        CStringGetTextDatum(query),
                        history_query ? CStringGetTextDatum(history_query) : (Datum)0,
                        CStringGetTextDatum(spec_json),
                        PointerGetDatum(text_array(input_names, n_inputs)),
                        PointerGetDatum(text_array(type_names, n_inputs)),
                        PointerGetDatum(text_array(output_names, n_outputs)),
                        Int64GetDatum(rows),
                        CStringGetTextDatum(current_user_name()),
                        CStringGetTextDatum(search_path_to_store())};
    const char nulls[10] = {' ', ' ', history_query ? ' ' : 'n', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    const Oid types[10] = {TEXTOID,      TEXTOID,      TEXTOID, TEXTOID, TEXTARRAYOID,
                           TEXTARRAYOID, TEXTARRAYOID, INT8OID, TEXTOID, TEXTOID};
    // The owner (0.3.0 on) and the search_path its queries resolve names in (0.5.0 on), as the catalog has them.
    const bool with_owner = featurizers_have_owners();
    const bool with_path = with_owner && catalog_has_column("featurizers", "search_path");
    execute_as_owner(
        psprintf("INSERT INTO dendrite.featurizers (name, version, query, history_query, spec, input_columns, "
                 "input_types, output_names, rows%s%s) SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4::jsonb, "
                 "$5, $6, $7, $8%s%s FROM dendrite.featurizers WHERE name = $1 RETURNING featurizer_id",
                 with_owner ? ", owner" : "", with_path ? ", search_path" : "", with_owner ? ", $9" : "",
                 with_path ? ", $10" : ""),
        with_path    ? 10
        : with_owner ? 9
                     : 8,
        types, values, nulls);
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not store featurizer \"%s\"", name)));
    bool isnull;
    const int64 featurizer_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

    SPIPlanPtr insert_column = prepare_as_owner(
        "INSERT INTO dendrite.feature_columns (featurizer_id, ordinal, column_name, kind, missing_indicator, center, "
        "scale, impute, unseen_value, outputs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        10, oids({INT8OID, INT4OID, TEXTOID, TEXTOID, BOOLOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID}));
    SPIPlanPtr insert_category = prepare_as_owner(
        "INSERT INTO dendrite.feature_categories (featurizer_id, ordinal, rank, category, value) "
        "VALUES ($1, $2, $3, $4, $5)",
        5, oids({INT8OID, INT4OID, INT4OID, TEXTOID, FLOAT8OID}));
    const auto& columns = featurizer.columns();
    for (size_t c = 0; c < columns.size(); ++c) {
        const engine::FittedColumn& column = columns[c];
        Datum row[10] = {Int64GetDatum(featurizer_id),
                         Int32GetDatum(int(c) + 1),
                         CStringGetTextDatum(column.spec.name.c_str()),
                         CStringGetTextDatum(engine::kind_name(column.spec.kind)),
                         BoolGetDatum(column.missing_indicator),
                         Float8GetDatum(column.center),
                         Float8GetDatum(column.scale),
                         Float8GetDatum(column.impute),
                         Float8GetDatum(column.unseen_value),
                         Int32GetDatum(column.outputs())};
        execute_plan_as_owner(insert_column, row);
        for (size_t i = 0; i < column.categories.size(); ++i) {
            Datum category[5] = {Int64GetDatum(featurizer_id), Int32GetDatum(int(c) + 1), Int32GetDatum(int(i) + 1),
                                 CStringGetTextDatum(column.categories[i].c_str()),
                                 Float8GetDatum(i < column.category_values.size() ? column.category_values[i] : 0.0)};
            execute_plan_as_owner(insert_category, category);
        }
    }
    SPIPlanPtr insert_history = prepare_as_owner(
        "INSERT INTO dendrite.feature_history (featurizer_id, ordinal, output_name, center, scale) VALUES ($1, $2, $3, "
        "$4, $5)",
        5, oids({INT8OID, INT4OID, TEXTOID, FLOAT8OID, FLOAT8OID}));
    const auto& history = featurizer.history_outputs();
    const int first_history_output = n_outputs - int(history.size());
    for (size_t i = 0; i < history.size(); ++i) {
        Datum row[5] = {Int64GetDatum(featurizer_id), Int32GetDatum(int(i) + 1),
                        CStringGetTextDatum(output_names[first_history_output + int(i)]),
                        Float8GetDatum(history[i].center), Float8GetDatum(history[i].scale)};
        execute_plan_as_owner(insert_history, row);
    }
    return featurizer_id;
}

}  // namespace dendrite::pg
