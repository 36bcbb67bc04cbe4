#include "pg/featurizer_cache.hpp"

#include <cmath>
#include <cstring>

#include <sys/socket.h>  // AF_INET, behind PGSQL_AF_INET

#include "pg/boundary.hpp"
#include "pg/background.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/privileges.hpp"
#include "pg/featurize.hpp"
#include "pg/values.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/date.h"
#include "utils/inet.h"
}

namespace dendrite::pg {

namespace {

CachedFeaturizer* cached_featurizers = nullptr;
constexpr int kCachedFeaturizers = 8;



engine::SqlTypeClass parse_type_class(const char* name) {
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
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("featurizer \"%s\" is inconsistent: %s", entry->name ? entry->name : "?", what),
                    entry->name ? errdetail("Table %s, the rows of version %d of featurizer \"%s\".", table, entry->version,
                                            entry->name)
                                : errdetail("Table %s, the row of featurizer_id " INT64_FORMAT ".", table, entry->featurizer_id),
                    errhint("Fitted featurizer rows must not be edited; fit a new featurizer version.")));
    pg_unreachable();
}

bool spec_json_is_set(HeapTuple row, TupleDesc descriptor) {
    bool isnull;
    SPI_getbinval(row, descriptor, 5, &isnull);
    return !isnull;
}

CachedFeaturizer* load_featurizer(int64 featurizer_id) {
    MemoryContext entry_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite featurizer", ALLOCSET_SMALL_SIZES);
    CachedFeaturizer* entry = static_cast<CachedFeaturizer*>(MemoryContextAllocZero(entry_context, sizeof(CachedFeaturizer)));
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
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("featurizer version " INT64_FORMAT " does not exist", featurizer_id)));
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    bool isnull;
    entry->version = DatumGetInt32(SPI_getbinval(row, descriptor, 2, &isnull));
    {
        const char* name = SPI_getvalue(row, descriptor, 1);
        const char* query = SPI_getvalue(row, descriptor, 3);
        if (!name || !query)
            stored_featurizer_corrupted(entry, "dendrite.featurizers", "its name or query is NULL");
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
        if (!entry->name || isnull || !entry->query || !spec_json_is_set(row, descriptor) || inputs_null || types_null ||
            outputs_null)
            stored_featurizer_corrupted(entry, "dendrite.featurizers", "a column is NULL");
        input_names = text_array_values(inputs, &n_inputs);
        input_types = text_array_values(types, &n_types);
        output_names = text_array_values(outputs, &n_output_names);
    }
    if (n_types != n_inputs)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("featurizer \"%s\" has inconsistent input columns", entry->name)));

    execute_as_owner("SELECT missing_indicator, center, scale, impute, unseen_value, ordinal FROM dendrite.feature_columns "
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
            !std::isfinite(columns[c].center) || !std::isfinite(columns[c].scale) || !std::isfinite(columns[c].impute) ||
            !std::isfinite(columns[c].unseen_value))
            stored_featurizer_corrupted(entry, "dendrite.feature_columns",
                                        psprintf("column %d has a missing or non-finite statistic", c + 1));
    }
    execute_as_owner("SELECT ordinal, category, coalesce(value, 0) FROM dendrite.feature_categories WHERE featurizer_id = $1 "
            "ORDER BY ordinal, rank",
            1, oids({INT8OID}), id);
    {
        const uint64 n = SPI_processed;
        // Two passes: count per column, then fill.
        for (uint64 i = 0; i < n; ++i) {
            const int ordinal = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
            bool value_null;
            const double value = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &value_null));
            if (isnull || value_null || !std::isfinite(value) || !SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2))
                stored_featurizer_corrupted(entry, "dendrite.feature_categories",
                                            "a category or its value is missing or not finite");
            if (ordinal < 1 || ordinal > n_columns)
                ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("featurizer \"%s\" has a category of an unknown column", entry->name)));
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
        history_center[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &center_null));
        history_scale[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &scale_null));
        if (center_null || scale_null || !std::isfinite(history_center[i]) || !std::isfinite(history_scale[i]) ||
            !(history_scale[i] > 0))
            stored_featurizer_corrupted(entry, "dendrite.feature_history",
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
            if (!(fitted[c].scale > 0)) engine::fail(engine::ErrorKind::Data, "a feature column has a scale that is not positive");
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
        stored_featurizer_corrupted(entry, "dendrite.featurizers",
                                    "its output_names do not match its spec");

    entry->featurizer = featurizer;
    entry->n_outputs = featurizer->output_count();
    entry->n_inputs = n_inputs;
    entry->input_names = static_cast<char**>(MemoryContextAlloc(entry_context, sizeof(char*) * n_inputs));
    entry->input_types = static_cast<engine::SqlTypeClass*>(MemoryContextAlloc(entry_context, sizeof(engine::SqlTypeClass) * n_inputs));
    entry->input_optional = static_cast<bool*>(MemoryContextAlloc(entry_context, sizeof(bool) * n_inputs));
    for (int i = 0; i < n_inputs; ++i) {
        if (strcmp(input_names[i], featurizer->inputs()[i].c_str()) != 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("featurizer \"%s\" has inconsistent input columns", entry->name)));
        entry->input_names[i] = MemoryContextStrdup(entry_context, input_names[i]);
        entry->input_types[i] = parse_type_class(input_types[i]);
        entry->input_optional[i] = featurizer->optional_input(size_t(i));
    }
    if (!featurizer->spec().history.empty())
        entry->time_column = MemoryContextStrdup(entry_context, featurizer->spec().history[0].time.c_str());
    finish_spi();  // only now: the names above were read from SPI's memory
    MemoryContextSetParent(entry_context, TopMemoryContext);
    entry->context = entry_context;
    mark_used(entry);
    entry->next = cached_featurizers;
    cached_featurizers = entry;
    // Deleting an evicted entry's context deletes its engine featurizer and any inline history with it.
    evict_unused(&cached_featurizers, entry, kCachedFeaturizers, [](CachedFeaturizer*) {});
    return entry;
}

}  // namespace

engine::SqlTypeClass type_class(Oid type) {
    switch (type) {
        case INT2OID:
        case INT4OID:
        case INT8OID: return engine::SqlTypeClass::Integer;
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID: return engine::SqlTypeClass::Number;
        case BOOLOID: return engine::SqlTypeClass::Boolean;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
        case NAMEOID: return engine::SqlTypeClass::Text;
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case DATEOID: return engine::SqlTypeClass::Timestamp;
        case INETOID:
        case CIDROID: return engine::SqlTypeClass::Inet;
        default: return engine::SqlTypeClass::Other;
    }
}

const char* type_class_name(engine::SqlTypeClass type) {
    switch (type) {
        case engine::SqlTypeClass::Number: return "number";
        case engine::SqlTypeClass::Integer: return "integer";
        case engine::SqlTypeClass::Boolean: return "boolean";
        case engine::SqlTypeClass::Text: return "text";
        case engine::SqlTypeClass::Timestamp: return "timestamp";
        case engine::SqlTypeClass::Inet: return "inet";
        case engine::SqlTypeClass::Other: return "other";
    }
    return "other";
}

const CachedFeaturizer* featurizer_by_id(int64 featurizer_id) {
    const Oid extension = extension_oid();
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next)
        if (entry->featurizer_id == featurizer_id && entry->extension == extension) {
            mark_used(entry);
            return entry;
        }
    return load_featurizer(featurizer_id);
}

void pin_featurizer(const CachedFeaturizer* featurizer, MemoryContext holder) { pin_entry(featurizer, holder); }

void unpin_featurizer(const CachedFeaturizer* featurizer) { const_cast<CachedFeaturizer*>(featurizer)->pins--; }

const CachedFeaturizer* latest_featurizer(const char* name) {
    connect_spi();
    Datum values[1] = {CStringGetTextDatum(name)};
    execute_as_owner("SELECT featurizer_id FROM dendrite.featurizers WHERE name = $1 ORDER BY version DESC LIMIT 1", 1,
            oids({TEXTOID}), values);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("featurizer \"%s\" does not exist", name),
                        errhint("Create it with dendrite.create_featurizer, or train a model of that name.")));
    bool isnull;
    const int64 id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    finish_spi();
    return featurizer_by_id(id);
}

void bind_row(RowBinding* binding, const CachedFeaturizer* featurizer, TupleDesc descriptor, MemoryContext context) {
    bind_inputs(binding, featurizer->n_inputs, featurizer->input_names, featurizer->input_types,
                featurizer->input_optional, featurizer->name, featurizer->version, descriptor, context);
}

void bind_inputs(RowBinding* binding, int n_inputs, char* const* names, const engine::SqlTypeClass* fitted_types,
                 const bool* optional, const char* owner, int version, TupleDesc descriptor, MemoryContext context) {
    MemoryContext old = MemoryContextSwitchTo(context);
    binding->descriptor = CreateTupleDescCopy(descriptor);
    binding->row_type = descriptor->tdtypeid;
    binding->row_typmod = descriptor->tdtypmod;
    binding->n_inputs = n_inputs;
    binding->attnums = static_cast<int*>(palloc(sizeof(int) * (n_inputs + 1)));
    binding->types = static_cast<Oid*>(palloc(sizeof(Oid) * (n_inputs + 1)));
    binding->values = static_cast<Datum*>(palloc(sizeof(Datum) * (descriptor->natts + 1)));
    binding->nulls = static_cast<bool*>(palloc(sizeof(bool) * (descriptor->natts + 1)));
    binding->raw = static_cast<engine::RawValue*>(palloc0(sizeof(engine::RawValue) * (n_inputs + 1)));
    MemoryContextSwitchTo(old);
    for (int j = 0; j < n_inputs; ++j) {
        const char* name = names[j];
        int found = -1;
        for (int i = 0; i < descriptor->natts; ++i) {
            Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
            if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), name) == 0) {
                found = i;
                break;
            }
        }
        if (found < 0 && optional && optional[j]) {
            binding->attnums[j] = -1;
            binding->types[j] = InvalidOid;
            continue;
        }
        if (found < 0) {
            StringInfoData required;
            initStringInfo(&required);
            for (int k = 0; k < n_inputs; ++k)
                if (!optional || !optional[k]) appendStringInfo(&required, "%s%s", required.len ? ", " : "", names[k]);
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" required by featurizer \"%s\" is missing from the row", name, owner),
                            errdetail("Version %d of the featurizer reads the columns %s.", version, required.data)));
        }
        const Oid type = getBaseType(TupleDescAttr(descriptor, found)->atttypid);
        binding->attnums[j] = found;
        binding->types[j] = type;
        if (!fitted_types) continue;
        const engine::SqlTypeClass fitted = fitted_types[j];
        const engine::SqlTypeClass now = type_class(type);
        // Integers may stand in for numbers (and the reverse); anything else is a changed column.
        const bool numeric_both = (fitted == engine::SqlTypeClass::Number || fitted == engine::SqlTypeClass::Integer) &&
                                  (now == engine::SqlTypeClass::Number || now == engine::SqlTypeClass::Integer);
        if (now != fitted && !numeric_both)
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("column \"%s\" has type %s, but featurizer \"%s\" was fitted on a %s column", name,
                                   format_type_be(TupleDescAttr(descriptor, found)->atttypid), owner,
                                   type_class_name(fitted)),
                            errhint("Cast the column back in the query, or fit a new featurizer version.")));
    }
}

void load_composite(RowBinding* binding, bool* bound, const CachedFeaturizer* featurizer, HeapTupleHeader row,
                    MemoryContext context) {
    const Oid type = HeapTupleHeaderGetTypeId(row);
    const int32 typmod = HeapTupleHeaderGetTypMod(row);
    if (!*bound || binding->row_type != type || binding->row_typmod != typmod) {
        TupleDesc descriptor = lookup_rowtype_tupdesc(type, typmod);
        TupleDesc copy = CreateTupleDescCopy(descriptor);
        ReleaseTupleDesc(descriptor);
        bind_row(binding, featurizer, copy, context);
        binding->row_type = type;
        binding->row_typmod = typmod;
        *bound = true;
    }
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = row;
    load_row(binding, &tuple);
}

namespace {

void load_values(RowBinding* binding, const Datum* values, const bool* nulls) {
    for (int j = 0; j < binding->n_inputs; ++j) {
        const int index = binding->attnums[j];
        engine::RawValue& raw = binding->raw[j];
        if (index < 0 || nulls[index]) {
            raw = engine::RawValue::null();
            continue;
        }
        const Datum value = values[index];
        // Numbers, by far the most common inputs, set only the two fields a number reads: building a whole
        // RawValue (56 bytes) per value was a third of the time of a pass over a wide numeric table.
        double number;
        switch (binding->types[j]) {
            case FLOAT4OID: number = DatumGetFloat4(value); break;
            case FLOAT8OID: number = DatumGetFloat8(value); break;
            case INT4OID: number = DatumGetInt32(value); break;
            case INT8OID: number = double(DatumGetInt64(value)); break;
            case INT2OID: number = DatumGetInt16(value); break;
            case BOOLOID: number = DatumGetBool(value) ? 1.0 : 0.0; break;
            default: goto other_types;
        }
        raw.type = engine::RawValue::Type::Number;
        raw.number = number;
        continue;
    other_types:
        switch (binding->types[j]) {
            case TEXTOID:
            case VARCHAROID:
            case BPCHAROID: {
                text* t = DatumGetTextPP(value);
                raw = engine::RawValue::of_text(VARDATA_ANY(t), uint32_t(VARSIZE_ANY_EXHDR(t)));
                break;
            }
            case NAMEOID: {
                const char* name = NameStr(*DatumGetName(value));
                raw = engine::RawValue::of_text(name, uint32_t(strlen(name)));
                break;
            }
            case TIMESTAMPOID:
            case TIMESTAMPTZOID: {
                const Timestamp t = DatumGetTimestamp(value);
                raw = TIMESTAMP_NOT_FINITE(t) ? engine::RawValue::null() : engine::RawValue::of_time(t + kUnixToPostgresMicros);
                break;
            }
            case DATEOID: {
                const DateADT d = DatumGetDateADT(value);
                raw = DATE_NOT_FINITE(d) ? engine::RawValue::null()
                                         : engine::RawValue::of_time(int64(d) * USECS_PER_DAY + kUnixToPostgresMicros);
                break;
            }
            case INETOID:
            case CIDROID: {
                inet* address = DatumGetInetPP(value);
                const bool v6 = ip_family(address) == PGSQL_AF_INET6;
                raw = engine::RawValue::of_inet(ip_addr(address), v6);
                break;
            }
            default: raw = engine::RawValue::of_number(feature_value(value, binding->types[j])); break;
        }
    }
}


}  // namespace

void load_row(RowBinding* binding, HeapTuple tuple) {
    heap_deform_tuple(tuple, binding->descriptor, binding->values, binding->nulls);
    load_values(binding, binding->values, binding->nulls);
}

void load_slot(RowBinding* binding, TupleTableSlot* slot) {
    load_values(binding, slot->tts_values, slot->tts_isnull);
}

char* ordered_query(const char* query, const char* time_column) {
    if (!time_column) return pstrdup(query);
    // Sorting is not stable: rows with equal times keep the query's own order through the ordinal, so a
    // query with ORDER BY time, id gives the same pass (and, with a seed, the same model) every time.
    return psprintf("SELECT * FROM (SELECT *, row_number() OVER () AS dendrite_query_ordinal FROM (%s\n) AS dendrite_query) "
                    "AS dendrite_rows ORDER BY %s, dendrite_query_ordinal",
                    query, quote_identifier(time_column));
}

namespace {

// The executor's rows straight to a RowVisitor.
struct RowReceiver {
    DestReceiver base;  // first, so that the executor's DestReceiver* is this
    const RowVisitor* visitor;
    double estimated_rows;
    MemoryContext row_context;
    uint64 rows;
};

bool receive_row(TupleTableSlot* slot, DestReceiver* self) {
    auto* receiver = reinterpret_cast<RowReceiver*>(self);
    CHECK_FOR_INTERRUPTS();
    slot_getallattrs(slot);
    MemoryContext old = MemoryContextSwitchTo(receiver->row_context);
    receiver->visitor->row(receiver->visitor->context, slot);
    MemoryContextSwitchTo(old);
    if ((++receiver->rows & 1023) == 0) MemoryContextReset(receiver->row_context);
    return true;
}

void start_rows(DestReceiver* self, int, TupleDesc descriptor) {
    auto* receiver = reinterpret_cast<RowReceiver*>(self);
    if (receiver->visitor->start)
        receiver->visitor->start(receiver->visitor->context, descriptor, receiver->estimated_rows);
}

void end_rows(DestReceiver*) {}

}  // namespace

namespace {

const QueryRights* active_query_rights = nullptr;  // set by with_stored_query_rights

// Runs an SPI call on a user's query with the active rights: the caller's, or a stored query's owner's.
template <typename F>
void with_active_query_rights(F&& call) {
    if (active_query_rights)
        with_role_rights(active_query_rights->role, active_query_rights->search_path, call);
    else
        call();
}

}  // namespace

void with_stored_query_rights(const QueryRights* rights, void (*body)(void*), void* context) {
    const QueryRights* previous = active_query_rights;
    active_query_rights = rights;
    PG_TRY();
    {
        body(context);
    }
    PG_CATCH();
    {
        active_query_rights = previous;
        PG_RE_THROW();
    }
    PG_END_TRY();
    active_query_rights = previous;
}

char* search_path_to_store() {
    StringInfoData path;
    initStringInfo(&path);
    List* schemas = fetch_search_path(false);
    ListCell* cell;
    foreach (cell, schemas) {
        const Oid schema = lfirst_oid(cell);
        if (isAnyTempNamespace(schema)) continue;  // another session's objects, or this one's, never a stored query's
        const char* name = get_namespace_name(schema);
        if (name) appendStringInfo(&path, "%s%s", path.len ? ", " : "", quote_identifier(name));
    }
    list_free(schemas);
    return path.data;
}

const char* stored_search_path(const char* stored) {
    // pg_temp last, named: otherwise the session's temporary schema is searched first for relations.
    return psprintf("%s, pg_temp", stored ? (stored[0] ? stored : "pg_catalog") : "\"$user\", public");
}

SPIPlanPtr prepare_select(const char* query, const char* what) {
    SPIPlanPtr plan = nullptr;
    with_active_query_rights([&] { plan = SPI_prepare(query, 0, nullptr); });
    if (!plan)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("could not prepare the %s: %s", what, SPI_result_code_string(SPI_result))));
    List* sources = SPI_plan_get_plan_sources(plan);
    const CachedPlanSource* source = list_length(sources) == 1 ? static_cast<CachedPlanSource*>(linitial(sources)) : nullptr;
    if (!SPI_is_cursor_plan(plan) || !source || source->commandTag != CMDTAG_SELECT || !source->resultDesc)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the %s must be a single SELECT", what),
                        errhint("Pass a query that returns rows, such as SELECT ... FROM ...")));
    // The passes run read-only; PostgreSQL would refuse these later with a message about "non-volatile
    // functions", or (inside the ordering wrapper) about where WITH may appear.
    const Query* parsed = list_length(source->query_list) == 1 ? linitial_node(Query, source->query_list) : nullptr;
    if (parsed && (parsed->hasModifyingCTE || parsed->rowMarks != NIL))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the %s must not change or lock rows", what),
                        errhint("Data-modifying WITH clauses and FOR UPDATE or FOR SHARE are not allowed here.")));
    return plan;
}

void select_rows(const char* query, const char* what, const RowVisitor& visitor) {
    SPIPlanPtr plan = prepare_select(query, what);

    RowReceiver receiver{};
    receiver.base.receiveSlot = receive_row;
    receiver.base.rStartup = start_rows;
    receiver.base.rShutdown = end_rows;
    receiver.base.rDestroy = end_rows;
    // Not DestNone (SPI would report a SELECT into it as a utility command) nor DestSPI (SPI would check its
    // own tuple table): a receiver of its own, as PL/pgSQL's RETURN QUERY passes a tuplestore receiver.
    receiver.base.mydest = DestTuplestore;
    receiver.visitor = &visitor;
    receiver.estimated_rows = -1;
    // The generic plan, built once here and reused by the execution below (the query has no parameters).
    CachedPlan* cached = nullptr;
    with_active_query_rights([&] { cached = SPI_plan_get_cached_plan(plan); });
    if (cached) {
        const PlannedStmt* statement = linitial_node(PlannedStmt, cached->stmt_list);
        if (statement->planTree) receiver.estimated_rows = statement->planTree->plan_rows;
        ReleaseCachedPlan(cached, nullptr);  // an unsaved plan's reference belongs to no resource owner
    }
    receiver.row_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite query row", ALLOCSET_DEFAULT_SIZES);
    SPIExecuteOptions options{};
    options.read_only = true;
    options.dest = &receiver.base;
    int result = 0;
    with_active_query_rights([&] { result = SPI_execute_plan_extended(plan, &options); });
    if (result != SPI_OK_SELECT)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("could not run the %s: %s", what, SPI_result_code_string(result))));
    MemoryContextDelete(receiver.row_context);
    SPI_freeplan(plan);
}

namespace {

int time_input(const CachedFeaturizer* featurizer) {
    if (!featurizer->time_column) return -1;
    for (int j = 0; j < featurizer->n_inputs; ++j)
        if (strcmp(featurizer->input_names[j], featurizer->time_column) == 0) return j;
    return -1;
}

}  // namespace

namespace {

bool transaction_callbacks_registered = false;

void discard_history(CachedFeaturizer* entry) {
    drain_background_work();  // the helper may be observing rows into it (see background.hpp)
    entry->inline_history = nullptr;
    entry->history_in_transaction = false;
    if (entry->history_context) MemoryContextDelete(entry->history_context);  // deletes the state
    entry->history_context = nullptr;
}

void end_of_transaction(XactEvent event, void*) {
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next) {
        if (!entry->history_in_transaction) continue;
        if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) discard_history(entry);
        else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
            entry->history_in_transaction = false;
    }
}

void end_of_subtransaction(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event != SUBXACT_EVENT_ABORT_SUB) return;
    // Conservative: the state cannot tell rows of the aborted subtransaction from the others.
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next)
        if (entry->history_in_transaction) discard_history(entry);
}

void track_transaction() {
    if (transaction_callbacks_registered) return;
    RegisterXactCallback(end_of_transaction, nullptr);
    RegisterSubXactCallback(end_of_subtransaction, nullptr);
    transaction_callbacks_registered = true;
}

}  // namespace

engine::HistoryState* inline_history_for_update(const CachedFeaturizer* featurizer) {
    engine::HistoryState* state = inline_history(featurizer);
    if (state) {
        track_transaction();
        const_cast<CachedFeaturizer*>(featurizer)->history_in_transaction = true;
    }
    return state;
}

engine::HistoryState* inline_history(const CachedFeaturizer* featurizer) {
    drain_background_work();  // rows handed to the helper are observed before this thread reads the state
    if (featurizer->inline_history || featurizer->featurizer->spec().history.empty()) return featurizer->inline_history;
    auto* entry = const_cast<CachedFeaturizer*>(featurizer);
    MemoryContext history_context = AllocSetContextCreate(GetMemoryChunkContext(entry), "dendrite inline history",
                                                          ALLOCSET_SMALL_SIZES);
    engine::HistoryState* state = nullptr;
    engine_call([&] { state = featurizer->featurizer->new_history().release(); });
    own_in_context(history_context, state);

    // Replay the history query in time order. Until the replay completes the state is not published, so
    // an error or a cancel leaves no half-built history behind (the object is freed with its context,
    // a child of the entry's, when the transaction's cleanup or the next attempt deletes it).
    MemoryContext replay_context = AllocSetContextCreate(CurrentMemoryContext, "dendrite history replay", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(replay_context);
    PG_TRY();
    {
        connect_spi();
        struct Replay {
            RowBinding binding;
            const CachedFeaturizer* featurizer;
            engine::HistoryState* state;
            MemoryContext context;
        } replay{{}, featurizer, state, replay_context};
        RowVisitor visitor{
            [](void* context, TupleDesc descriptor, double) {
                auto* r = static_cast<Replay*>(context);
                bind_row(&r->binding, r->featurizer, descriptor, r->context);
            },
            [](void* context, TupleTableSlot* slot) {
                auto* r = static_cast<Replay*>(context);
                load_slot(&r->binding, slot);
                engine_call([&] { r->featurizer->featurizer->observe(r->binding.raw, r->state); });
            },
            &replay};
        // The stored history query runs as the featurizer's owner, whoever scores or inserts.
        const QueryRights owner_rights{featurizer->query_owner, featurizer->search_path};
        with_stored_query_rights(OidIsValid(featurizer->query_owner) ? &owner_rights : nullptr, [&] {
            select_rows(ordered_query(featurizer->history_query, featurizer->time_column), "history query", visitor);
        });
        finish_spi();
    }
    PG_CATCH();
    {
        MemoryContextDelete(history_context);  // the half-built state goes now, not with the entry
        PG_RE_THROW();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(old);
    MemoryContextDelete(replay_context);
    entry->inline_history = state;
    entry->history_context = history_context;
    // Built inside a transaction that wrote: the replay may have seen that transaction's own rows.
    if (GetTopTransactionIdIfAny() != InvalidTransactionId) {
        track_transaction();
        entry->history_in_transaction = true;
    }
    return state;
}

void offline_pass(const CachedFeaturizer* featurizer, const char* query, Timestamp since, EmitRow emit, void* context,
                  ExpectRows expect) {
    const int time_index = time_input(featurizer);
    if (since != DT_NOBEGIN && time_index < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("since needs a featurizer with history features"),
                        errhint("Without history, filter the rows in the query instead.")));
    const int64 since_us = engine_since(since);
    // The pass orders the rows by the featurizer's time column: a query without it would fail inside that
    // wrapper, naming a column the user never wrote. Binding its columns first names what is missing.
    if (featurizer->time_column) {
        RowBinding check;
        bind_row(&check, featurizer, describe_query(query, "query"), CurrentMemoryContext);
    }
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    engine::HistoryState* history = nullptr;
    if (!engine_featurizer->spec().history.empty()) {
        engine_call([&] { history = engine_featurizer->new_history().release(); });
        own_in_context(CurrentMemoryContext, history);
    }
    struct Pass {
        const CachedFeaturizer* featurizer;
        const engine::Featurizer* engine_featurizer;
        engine::HistoryState* history;
        int time_index;
        int64 since_us;
        float* features;
        EmitRow emit;
        void* context;
        ExpectRows expect;
        RowBinding binding;
        MemoryContext pass_context;
    } pass{featurizer, engine_featurizer, history, time_index, since_us,
           static_cast<float*>(palloc(sizeof(float) * (featurizer->n_outputs + 1))), emit, context, expect, {},
           CurrentMemoryContext};
    RowVisitor visitor{
        [](void* context, TupleDesc descriptor, double estimated_rows) {
            auto* p = static_cast<Pass*>(context);
            bind_row(&p->binding, p->featurizer, descriptor, p->pass_context);
            if (p->expect && estimated_rows >= 0) p->expect(p->context, estimated_rows);
        },
        [](void* context, TupleTableSlot* slot) {
            auto* p = static_cast<Pass*>(context);
            load_slot(&p->binding, slot);
            const engine::RawValue* raw = p->binding.raw;
            const bool wanted = at_or_after_since(raw, p->time_index, p->since_us);
            engine_call([&] {
                if (wanted) p->engine_featurizer->transform(raw, p->history, p->features);
                p->engine_featurizer->observe(raw, p->history);
            });
            if (wanted) p->emit(p->context, p->features, slot);
        },
        &pass};
    select_rows(ordered_query(query, featurizer->time_column), "query", visitor);
}

int64 store_featurizer(const char* name, const char* query, const char* history_query, const engine::Featurizer& featurizer,
                       const engine::SqlTypeClass* input_types, int64 rows) {
    require_featurizer_manager(name);  // again: another role may have created it while this one was fitting
    const auto& inputs = featurizer.inputs();
    const int n_inputs = int(inputs.size());
    char** input_names = static_cast<char**>(palloc(sizeof(char*) * (n_inputs + 1)));
    char** type_names = static_cast<char**>(palloc(sizeof(char*) * (n_inputs + 1)));
    for (int i = 0; i < n_inputs; ++i) {
        input_names[i] = pstrdup(inputs[i].c_str());
        type_names[i] = pstrdup(type_class_name(input_types[i]));
    }
    const int n_outputs = featurizer.output_count();
    char** output_names = static_cast<char**>(palloc(sizeof(char*) * (n_outputs + 1)));
    for (int i = 0; i < n_outputs; ++i) output_names[i] = pstrdup(featurizer.output_names()[i].c_str());
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
    const Oid types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8OID,
                           TEXTOID, TEXTOID};
    // The owner (0.3.0 on) and the search_path its queries resolve names in (0.5.0 on), as the catalog has them.
    const bool with_owner = featurizers_have_owners();
    const bool with_path = with_owner && catalog_has_column("featurizers", "search_path");
    execute_as_owner(psprintf("INSERT INTO dendrite.featurizers (name, version, query, history_query, spec, input_columns, "
                     "input_types, output_names, rows%s%s) SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4::jsonb, "
                     "$5, $6, $7, $8%s%s FROM dendrite.featurizers WHERE name = $1 RETURNING featurizer_id",
                     with_owner ? ", owner" : "", with_path ? ", search_path" : "", with_owner ? ", $9" : "",
                     with_path ? ", $10" : ""),
            with_path ? 10 : with_owner ? 9 : 8, types, values, nulls);
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
        Datum row[10] = {Int64GetDatum(featurizer_id),           Int32GetDatum(int(c) + 1),
                         CStringGetTextDatum(column.spec.name.c_str()), CStringGetTextDatum(engine::kind_name(column.spec.kind)),
                         BoolGetDatum(column.missing_indicator), Float8GetDatum(column.center),
                         Float8GetDatum(column.scale),           Float8GetDatum(column.impute),
                         Float8GetDatum(column.unseen_value),    Int32GetDatum(column.outputs())};
        execute_plan_as_owner(insert_column, row);
        for (size_t i = 0; i < column.categories.size(); ++i) {
            Datum category[5] = {Int64GetDatum(featurizer_id), Int32GetDatum(int(c) + 1), Int32GetDatum(int(i) + 1),
                                 CStringGetTextDatum(column.categories[i].c_str()),
                                 Float8GetDatum(i < column.category_values.size() ? column.category_values[i] : 0.0)};
            execute_plan_as_owner(insert_category, category);
        }
    }
    SPIPlanPtr insert_history = prepare_as_owner(
        "INSERT INTO dendrite.feature_history (featurizer_id, ordinal, output_name, center, scale) VALUES ($1, $2, $3, $4, $5)",
        5, oids({INT8OID, INT4OID, TEXTOID, FLOAT8OID, FLOAT8OID}));
    const auto& history = featurizer.history_outputs();
    const int first_history_output = n_outputs - int(history.size());
    for (size_t i = 0; i < history.size(); ++i) {
        Datum row[5] = {Int64GetDatum(featurizer_id), Int32GetDatum(int(i) + 1),
                        CStringGetTextDatum(output_names[first_history_output + int(i)]), Float8GetDatum(history[i].center),
                        Float8GetDatum(history[i].scale)};
        execute_plan_as_owner(insert_history, row);
    }
    return featurizer_id;
}

}  // namespace dendrite::pg
