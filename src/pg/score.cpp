// dendrite.predict and dendrite.score: the per-row scoring paths. The model version and the mapping of the
// row's columns to features are resolved once per call site and statement (fn_extra); a row then costs a
// deform, a standardization and one forward pass, with no allocation.
#include "pg/boundary.hpp"
#include "pg/model_cache.hpp"
#include "pg/values.hpp"

#include <cmath>

namespace dendrite::pg {

namespace {

struct ScoreState {
    char* model;                    // the name the version was resolved for
    const CachedVersion* version;
    float* x;
    float* scratch;
    // dendrite.score only: the row type the mapping was built for
    Oid row_type;
    int32 row_typmod;
    TupleDesc row_descriptor;
    int* attnums;  // per feature, 0-based attribute index in the row
    Oid* types;
    Datum* values;
    bool* nulls;
};

ScoreState* score_state(FunctionCallInfo fcinfo, const char* model) {
    auto* state = static_cast<ScoreState*>(fcinfo->flinfo->fn_extra);
    if (state && strcmp(state->model, model) == 0) return state;
    MemoryContext context = fcinfo->flinfo->fn_mcxt;
    if (!state) state = static_cast<ScoreState*>(MemoryContextAllocZero(context, sizeof(ScoreState)));
    const CachedVersion* version = latest_version(model);
    state->model = MemoryContextStrdup(context, model);
    state->version = version;
    state->x = static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * version->n_features));
    state->scratch = static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * version->scratch_floats));
    state->row_type = InvalidOid;  // the row mapping depends on the version's features
    fcinfo->flinfo->fn_extra = state;
    return state;
}

void map_row(ScoreState* state, Oid row_type, int32 row_typmod, MemoryContext context) {
    const CachedVersion* version = state->version;
    MemoryContext old = MemoryContextSwitchTo(context);
    TupleDesc descriptor = lookup_rowtype_tupdesc(row_type, row_typmod);
    TupleDesc copy = CreateTupleDescCopy(descriptor);
    ReleaseTupleDesc(descriptor);
    state->attnums = static_cast<int*>(palloc(sizeof(int) * version->n_features));
    state->types = static_cast<Oid*>(palloc(sizeof(Oid) * version->n_features));
    state->values = static_cast<Datum*>(palloc(sizeof(Datum) * (copy->natts + 1)));
    state->nulls = static_cast<bool*>(palloc(sizeof(bool) * (copy->natts + 1)));
    state->row_descriptor = copy;
    MemoryContextSwitchTo(old);
    for (int j = 0; j < version->n_features; ++j) {
        const char* name = version->feature_names[j];
        int found = -1;
        for (int i = 0; i < copy->natts; ++i) {
            Form_pg_attribute attribute = TupleDescAttr(copy, i);
            if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), name) == 0) {
                found = i;
                break;
            }
        }
        if (found < 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" required by model \"%s\" is missing from the row", name, version->model),
                            errdetail("Version %d of the model was trained on %d feature columns; see "
                                      "dendrite.feature_names('%s').",
                                      version->version, version->n_features, version->model)));
        const Oid type = getBaseType(TupleDescAttr(copy, found)->atttypid);
        if (!is_feature_type(type))
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("column \"%s\" of the row has type %s, but model \"%s\" needs a number", name,
                                   format_type_be(TupleDescAttr(copy, found)->atttypid), version->model)));
        state->attnums[j] = found;
        state->types[j] = type;
    }
    state->row_type = row_type;
    state->row_typmod = row_typmod;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_predict) {
    char* model = text_to_cstring(PG_GETARG_TEXT_PP(0));
    ArrayType* features = PG_GETARG_ARRAYTYPE_P(1);
    ScoreState* state = score_state(fcinfo, model);
    const CachedVersion* version = state->version;
    if (ARR_NDIM(features) > 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("features must be a one-dimensional array")));
    const int n = ArrayGetNItems(ARR_NDIM(features), ARR_DIMS(features));
    if (n != version->n_features)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("model \"%s\" expects %d features, got %d", model, version->n_features, n),
                        errhint("dendrite.feature_names('%s') lists them in order.", model)));
    Datum* values;
    bool* nulls;
    int count;
    deconstruct_array(features, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT, &values, &nulls, &count);
    for (int j = 0; j < count; ++j) {
        if (nulls[j]) {
            state->x[j] = NAN;  // missing: the training mean
            continue;
        }
        const float value = DatumGetFloat4(values[j]);
        require_finite(value, version->feature_names[j], "in the features");
        state->x[j] = value;
    }
    PG_RETURN_FLOAT8(score_features(version, state->x, state->scratch));
}

DENDRITE_FUNCTION(dendrite_score) {
    char* model = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const Oid argument_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!type_is_rowtype(argument_type))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("dendrite.score needs a row, got %s",
                                                                   format_type_be(argument_type)),
                        errhint("Pass the table alias, as in SELECT dendrite.score('model', t) FROM t.")));
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    ScoreState* state = score_state(fcinfo, model);
    const Oid row_type = HeapTupleHeaderGetTypeId(row);
    const int32 row_typmod = HeapTupleHeaderGetTypMod(row);
    if (state->row_type != row_type || state->row_typmod != row_typmod)
        map_row(state, row_type, row_typmod, fcinfo->flinfo->fn_mcxt);

    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = row;
    heap_deform_tuple(&tuple, state->row_descriptor, state->values, state->nulls);
    const CachedVersion* version = state->version;
    for (int j = 0; j < version->n_features; ++j) {
        const int index = state->attnums[j];
        if (state->nulls[index]) {
            state->x[j] = NAN;
            continue;
        }
        const double value = feature_value(state->values[index], state->types[j]);
        require_finite(value, version->feature_names[j], "in the row");
        state->x[j] = float(value);
    }
    PG_RETURN_FLOAT8(score_features(version, state->x, state->scratch));
}
