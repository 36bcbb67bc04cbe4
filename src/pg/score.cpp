// dendrite.predict and dendrite.score: the per-row scoring paths. The model version and the mapping of the
// row's columns to features are resolved once per call site and statement (fn_extra); a row then costs a
// deform, a standardization and one forward pass, with no allocation. dendrite.score_query: every row of a
// query scored in one ordered offline pass (query_pass.hpp).
#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/featurize.hpp"
#include "pg/model_cache.hpp"
#include "pg/query_pass.hpp"
#include "pg/row_binding.hpp"
#include "pg/values.hpp"

#include <algorithm>
#include <cmath>

namespace dendrite::pg {

namespace {

struct ScoreState {
    char* model;    // the name the version was resolved for
    int requested;  // and the version asked for (0: the serving one)
    const CachedVersion* version;
    float* x;
    float* scratch;
    RowBinding binding;  // dendrite.score only
    bool bound;
    StatePins pins;  // on every version this call site resolved (it may outlive the transaction)
};

ScoreState* score_state(FunctionCallInfo fcinfo, const char* model, int requested = 0) {
    auto* state = static_cast<ScoreState*>(fcinfo->flinfo->fn_extra);
    if (state && strcmp(state->model, model) == 0 && state->requested == requested) return state;
    MemoryContext context = fcinfo->flinfo->fn_mcxt;
    if (!state) state = static_cast<ScoreState*>(MemoryContextAllocZero(context, sizeof(ScoreState)));
    const CachedVersion* version = model_version(model, requested);
    if (state->pins.first_time(version)) pin_version(version, context);
    state->model = MemoryContextStrdup(context, model);
    state->requested = requested;
    state->version = version;
    state->x = static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * (version->n_features + 1)));
    state->scratch = static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * version->scratch_floats));
    state->bound = false;  // the row binding depends on the version's featurizer
    fcinfo->flinfo->fn_extra = state;
    return state;
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
                        errhint("dendrite.features('%s', row) computes them; dendrite.feature_names('%s') names them.",
                                version->featurizer->name, model)));
    if (array_contains_nulls(features))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("features must not contain nulls"),
                        errhint("dendrite.features imputes missing raw values; its output has no nulls.")));
    const float* values = reinterpret_cast<const float*>(ARR_DATA_PTR(features));
    for (int j = 0; j < n; ++j) {
        if (!std::isfinite(values[j]))
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("feature %d (%s) is %s", j + 1, version->featurizer->featurizer->output_names()[j].c_str(),
                            std::isnan(values[j]) ? "NaN" : "infinite")));
        state->x[j] = values[j];
    }
    PG_RETURN_FLOAT8(
        checked_score(dendrite::engine::score_one(version->scorer, state->x, state->scratch), version, state->x));
}

DENDRITE_FUNCTION(dendrite_score) {
    char* model = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const Oid argument_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!type_is_rowtype(argument_type))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("dendrite.score needs a row, got %s", format_type_be(argument_type)),
                        errhint("Pass the table alias, as in SELECT dendrite.score('model', t) FROM t.")));
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    // dendrite.score(model, row, version): a given version (a challenger, scored without deploying it).
    ScoreState* state = score_state(fcinfo, model, PG_NARGS() > 2 ? version_argument(fcinfo, 2) : 0);
    const CachedFeaturizer* featurizer = state->version->featurizer;
    load_composite(&state->binding, &state->bound, featurizer, row, fcinfo->flinfo->fn_mcxt);
    const dendrite::engine::HistoryState* history = inline_history(featurizer);
    const dendrite::engine::Featurizer* engine_featurizer = featurizer->featurizer;
    engine_call([&] { engine_featurizer->transform(state->binding.raw, history, state->x); });
    note_unseen_categories(&state->binding, engine_featurizer);
    PG_RETURN_FLOAT8(checked_score(dendrite::engine::score_one(state->version->scorer, state->x, state->scratch),
                                   state->version, state->x));
}

namespace {

// score_query's rows: the offline pass's features scored with the serving version (or the one asked for).
// The pass is pipelined (featurized on a helper thread): each row's key is queued as the row is read.
struct ScoreQuery {
    dendrite::pg::KeyedOutput out;
    const dendrite::pg::CachedVersion* version;
    float* scratch;
};

void emit_score(void* context, const float* features, TupleTableSlot*) {
    auto* s = static_cast<ScoreQuery*>(context);
    const double score = dendrite::pg::checked_score(
        dendrite::engine::score_one(s->version->scorer, features, s->scratch), s->version, features);
    MemoryContext old = MemoryContextSwitchTo(s->out.row_context);
    emit_queued_row(&s->out, Float8GetDatum(score));
    MemoryContextSwitchTo(old);
    MemoryContextReset(s->out.row_context);
}

void queue_score_key(void* context, TupleTableSlot* slot) {
    dendrite::pg::queue_row_key(&static_cast<ScoreQuery*>(context)->out, slot);
}

void restart_scores(void* context) { dendrite::pg::clear_keyed_output(&static_cast<ScoreQuery*>(context)->out); }

}  // namespace

DENDRITE_FUNCTION(dendrite_score_query) {
    char* model = required_text_argument(fcinfo, 0, "model");
    char* query = required_text_argument(fcinfo, 1, "query");
    ScoreQuery state{};
    const Timestamp since = since_argument(fcinfo, 3);
    start_keyed_output(fcinfo, &state.out, PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2)));
    state.out.row_context = AllocSetContextCreate(CurrentMemoryContext, "score_query row", ALLOCSET_DEFAULT_SIZES);
    state.version = model_version(model, version_argument(fcinfo, 4));
    state.out.n_outputs = state.version->n_features;
    state.scratch = static_cast<float*>(palloc(sizeof(float) * state.version->scratch_floats));
    connect_spi();
    const dendrite::pg::PipelinedEmit pipelined{queue_score_key};
    offline_pass(state.version->featurizer, query, since, emit_score, &state, nullptr, nullptr, restart_scores,
                 &pipelined);
    finish_spi();
    return (Datum)0;
}
