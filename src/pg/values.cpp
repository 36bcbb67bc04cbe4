// Engine headers first (engine_only.hpp checks that postgres.h has not been seen yet).
#include "engine/pg_numeric.hpp"
#include "pg/values.hpp"

#include <cmath>

namespace dendrite::pg {

bool is_feature_type(Oid type) {
    switch (type) {
        case BOOLOID:
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
            return true;
        default:
            return false;
    }
}

int unique_column_number(TupleDesc descriptor, const char* name, const char* role, const char* where,
                         const char* detail) {
    int found = 0;
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (attribute->attisdropped || strcmp(NameStr(attribute->attname), name) != 0) continue;
        if (found)
            ereport(
                ERROR,
                (errcode(ERRCODE_DUPLICATE_COLUMN), errmsg("%s \"%s\" appears more than once in %s", role, name, where),
                 detail ? errdetail("%s", detail) : 0, errhint("Give every column a distinct name with AS.")));
        found = i + 1;
    }
    return found;
}

int label_column(TupleDesc descriptor, const char* column, const char* query, const char* hint, Oid* type) {
    const int attnum = unique_column_number(descriptor, column, "label column", query);
    if (attnum <= 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("label column \"%s\" is not in the result of %s", column, query),
                        hint ? errhint("%s", hint) : 0));
    *type = getBaseType(SPI_gettypeid(descriptor, attnum));
    if (!is_feature_type(*type))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("label column \"%s\" has type %s", column, format_type_be(*type)),
                        errhint("The label must be boolean or a number that is 0 or 1.")));
    return attnum;
}

double label_value(TupleTableSlot* slot, int attnum, Oid type, const char* column, size_t row, const char* query) {
    if (slot->tts_isnull[attnum - 1])
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("label column \"%s\" is null in row %zu of %s", column, row, query),
                        errhint("Filter unlabelled rows out with WHERE %s IS NOT NULL.", column)));
    const double label = feature_value(slot->tts_values[attnum - 1], type);
    if (label != 0.0 && label != 1.0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("label column \"%s\" must be 0 or 1, found %g in row %zu", column, label, row)));
    return label;
}

namespace {

// A numeric as numeric_float8 gives it, without its detour through text where the value allows.
double numeric_value(Datum value) {
    // Read in place when stored inline (the usual 1-byte header included): detoasting would copy it.
    const struct varlena* stored = reinterpret_cast<const struct varlena*>(DatumGetPointer(value));
    double out;
    if (!VARATT_IS_EXTERNAL(stored) && !VARATT_IS_COMPRESSED(stored) &&
        engine::numeric_payload_to_double(VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored), &out))
        return out;
    return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
}

}  // namespace

double feature_value(Datum value, Oid type) {
    switch (type) {
        case BOOLOID:
            return DatumGetBool(value) ? 1.0 : 0.0;
        case INT2OID:
            return DatumGetInt16(value);
        case INT4OID:
            return DatumGetInt32(value);
        case INT8OID:
            return double(DatumGetInt64(value));
        case FLOAT4OID:
            return DatumGetFloat4(value);
        case FLOAT8OID:
            return DatumGetFloat8(value);
        case NUMERICOID:
            return numeric_value(value);
        default:
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("type %s cannot be used as a feature", format_type_be(type))));
    }
    return 0;
}

void require_finite(double value, const char* column, const char* context) {
    if (std::isfinite(value)) return;
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("column \"%s\" is %s %s", column, std::isnan(value) ? "NaN" : "infinite", context),
                    errhint("Filter such rows out, or replace the value with NULL to have it imputed.")));
}

void key_text_form(Oid type, Oid* output_function, bool* blank_padded) {
    bool varlena;
    getTypeOutputInfo(type, output_function, &varlena);
    *blank_padded = getBaseType(type) == BPCHAROID;
}

char* key_as_text(Oid output_function, bool blank_padded, Datum value) {
    if (!blank_padded) return OidOutputFunctionCall(output_function, value);
    text* padded = DatumGetTextPP(value);
    return pnstrdup(VARDATA_ANY(padded), bpchartruelen(VARDATA_ANY(padded), int(VARSIZE_ANY_EXHDR(padded))));
}

ArrayType* text_array(char* const* values, int n) {
    Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) datums[i] = CStringGetTextDatum(values[i]);
    return construct_array(datums, n, TEXTOID, -1, false, TYPALIGN_INT);
}

ArrayType* float8_array(const double* values, int n) {
    Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) datums[i] = Float8GetDatum(values[i]);
    return construct_array(datums, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

ArrayType* int4_array(const int* values, int n) {
    Datum* datums = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) datums[i] = Int32GetDatum(values[i]);
    return construct_array(datums, n, INT4OID, sizeof(int32), true, TYPALIGN_INT);
}

ArrayType* float4_array(const float* values, size_t n) {
    Datum* datums = static_cast<Datum*>(palloc_extended(sizeof(Datum) * (n > 0 ? n : 1), MCXT_ALLOC_HUGE));
    for (size_t i = 0; i < n; ++i) datums[i] = Float4GetDatum(values[i]);
    return construct_array(datums, int(n), FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

char* required_text_argument(FunctionCallInfo fcinfo, int argument, const char* name) {
    if (PG_ARGISNULL(argument))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", name)));
    return text_to_cstring(PG_GETARG_TEXT_PP(argument));
}

}  // namespace dendrite::pg
