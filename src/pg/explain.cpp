// dendrite.explain and the reasons the guards give: TreeSHAP (engine/explain.hpp) of a row's features,
// folded per column and history declaration, with the row's values.
#include "engine/explain.hpp"
#include "pg/explain.hpp"

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/featurize.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/query_pass.hpp"
#include "pg/values.hpp"

#include <cmath>

extern "C" {
#include "funcapi.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
}

namespace dendrite::pg {

namespace {

// Largest contribution first; equal ones by name, so that the order never depends on qsort.
int by_contribution_descending(const void* a, const void* b) {
    const auto* x = static_cast<const Reason*>(a);
    const auto* y = static_cast<const Reason*>(b);
    if (x->contribution != y->contribution) return x->contribution > y->contribution ? -1 : 1;
    return strcmp(x->feature, y->feature);
}

// The featurizer's input of that name (-1: none).
int input_position(const CachedFeaturizer* featurizer, const char* input) {
    for (int j = 0; j < featurizer->n_inputs; ++j)
        if (strcmp(featurizer->input_names[j], input) == 0) return j;
    return -1;
}

// The row's value of a featurizer input, as text (the row last loaded into the binding, derived included).
char* input_value_text(const RowBinding* binding, const CachedFeaturizer* featurizer, const char* input) {
    const int j = binding ? input_position(featurizer, input) : -1;
    if (j < 0) return nullptr;
    const int index = binding->attnums[j];
    if (index < 0 || binding->loaded_nulls[index]) return nullptr;
    Oid output;
    bool varlena;
    getTypeOutputInfo(binding->types[j], &output, &varlena);
    return OidOutputFunctionCall(output, binding->loaded_values[index]);
}

}  // namespace

namespace {

// The backend's working memory for explaining one row, with the TreeSHAP layout of the trees of the last
// version explained (laying them out takes ~1.5 ms for 300 trees of depth 6; a row then takes ~0.1 ms). Kept
// in TopMemoryContext; the layout is redone for another version.
engine::ContributionScratch* explanation_scratch_for(const CachedVersion* version) {
    static engine::ContributionScratch* scratch = nullptr;
    // Keyed by the load, not the version_id: ids start again after DROP and CREATE EXTENSION, and a version
    // whose rows were edited is loaded again under the same id.
    static uint64 prepared_load = 0;
    if (!scratch)
        scratch = create_owned<engine::ContributionScratch>(TopMemoryContext,
                                                            [] { return new engine::ContributionScratch(); });
    if (prepared_load != version->load_serial) {
        scratch->trees.prepared_for = nullptr;  // another version: its arrays may even sit where the last one's did
        prepared_load = version->load_serial;
    }
    return scratch;
}

}  // namespace

namespace {

// A network's explanations start from its training rows' mean (dendrite.feature_baselines; an index
// feature's baseline is 0, its unseen row): the last version's, kept per backend. NULL when the version has
// none (trained before 0.4.0, or an export of one).
const float* network_baseline(const CachedVersion* version) {
    static float* baseline = nullptr;
    static uint64 loaded_load = 0;  // the version's load (see tree_layout_for)
    if (loaded_load == version->load_serial) return baseline;
    if (baseline) pfree(baseline);
    baseline = nullptr;
    loaded_load = 0;
    const int n = version->n_features;
    float* means = nullptr;
    if (catalog_has_table("feature_baselines")) {
        connect_spi();
        Datum id[1] = {Int64GetDatum(version->version_id)};
        execute_as_owner(
            "SELECT feature_index, mean FROM dendrite.feature_baselines WHERE version_id = $1 "
            "ORDER BY feature_index",
            1, oids({INT8OID}), id);
        if (SPI_processed == uint64(n)) {
            means = static_cast<float*>(MemoryContextAlloc(TopMemoryContext, sizeof(float) * (n + 1)));
            for (int f = 0; f < n; ++f) {
                bool index_null, mean_null;
                const int index =
                    DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[f], SPI_tuptable->tupdesc, 1, &index_null));
                const double mean =
                    DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[f], SPI_tuptable->tupdesc, 2, &mean_null));
                if (index_null || mean_null || index != f || !std::isfinite(mean)) {
                    pfree(means);
                    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                                    errmsg("the training baseline of model \"%s\" version %d is inconsistent",
                                           version->model, version->version),
                                    errdetail("Table dendrite.feature_baselines, feature_index %d.", f),
                                    errhint("Rows of a trained version must not be edited; retrain the model.")));
                }
                means[f] = float(mean);
            }
            const engine::NetworkView& view = version->scorer.network;
            for (int e = 0; e < view.embeddings; ++e) means[view.embedding_features[e]] = 0;  // the unseen row
        }
        finish_spi();
    }
    baseline = means;
    loaded_load = version->load_serial;
    return baseline;
}

// Integrated gradients stop doubling their steps once the contributions add up to the logit difference
// within this share (or at kMaxSteps: ReLU's kinks make the last digits slow).
constexpr double kCompleteness = 1e-3;
constexpr int kMaxSteps = 4096;

// What a version's explanations start from: a network's (and a blend's) training means, nothing for trees
// and autoencoders.
const float* explanation_baseline(const CachedVersion* version) {
    const auto kind = version->scorer.kind;
    return kind == engine::ModelView::Kind::Trees || kind == engine::ModelView::Kind::Autoencoder
               ? nullptr
               : network_baseline(version);
}

}  // namespace

const char* unexplainable(const CachedVersion* version) {
    if (version->scorer.kind == engine::ModelView::Kind::Autoencoder) return nullptr;  // needs no baseline
    if (version->scorer.kind == engine::ModelView::Kind::Trees)
        return version->scorer.trees.cover
                   ? nullptr
                   : "its trees have no covers (versions trained before dendrite 0.6.0 store none)";
    if (version->scorer.kind == engine::ModelView::Kind::Blend && !version->scorer.trees.cover)
        return "its trees have no covers";  // a blend (0.6.0) stores them: an edited or imported version
    return network_baseline(version) ? nullptr
                                     : "it has no training means to explain a network's scores from (versions "
                                       "trained before dendrite 0.4.0 store none)";
}

namespace {

// The contributions of features x to the version's logit: view.inputs (= n_features) + 2 doubles, TreeSHAP
// for trees, integrated gradients from the training means for a network, both weighted for a blend. The
// version must be explainable.
// An autoencoder's are its reconstruction error's terms, input by input (they add up to the error, whose place
// among the training rows' is the score).
void contributions(const CachedVersion* version, const float* x, double* phi) {
    engine::ContributionScratch* scratch = explanation_scratch_for(version);
    const float* baseline = explanation_baseline(version);
    engine_call([&] {
        engine::model_contributions(version->scorer, x, baseline, version->n_features, kCompleteness, kMaxSteps,
                                    *scratch, phi);
    });
}

// Raises 22003 (report_unscorable) unless a row's contributions are all finite. Trees write the features'
// and the bias; a network two more (the logits at the baseline and at x).
void require_finite_contributions(const CachedVersion* version, const float* x, const double* phi) {
    const int written = version->n_features + (version->scorer.kind == engine::ModelView::Kind::Trees ? 1 : 2);
    for (int j = 0; j < written; ++j)
        if (!std::isfinite(phi[j])) report_unscorable(version, x);
}

// contributions(), refused when the row's arithmetic overflowed (a NaN score, or contributions that are not
// all finite): numbers that do not add up to its score explain nothing.
// An autoencoder's terms may be infinite: an overflowing reconstruction is its most anomalous score, and the
// infinite terms are why.
// score_checked: the caller has scored x and checked the score (checked_score), as every guard and
// explain_query have; its forward pass is not done again (300 trees: ~14 us of an explanation's ~80).
void finite_contributions(const CachedVersion* version, const float* x, double* phi, bool score_checked = false) {
    if (version->scorer.kind == engine::ModelView::Kind::Autoencoder) {
        contributions(version, x, phi);
        return;
    }
    // The contributions are computed in double, where the score's floats may have overflowed: the score
    // first (a forward pass, a fraction of an explanation's cost).
    if (!score_checked) {
        float* scratch = static_cast<float*>(palloc(sizeof(float) * std::max(1, version->scratch_floats)));
        checked_score(engine::score_one(version->scorer, x, scratch), version, x);
        pfree(scratch);
    }
    contributions(version, x, phi);
    require_finite_contributions(version, x, phi);
}

// finite_contributions' checks, in its order, of a row's score (NULL: the caller has checked it) and
// contributions computed elsewhere (engine::score_and_explain_rows): the same errors. An autoencoder's are
// not checked (see finite_contributions).
void check_explained_row(const CachedVersion* version, const float* x, const float* score, const double* phi) {
    if (version->scorer.kind == engine::ModelView::Kind::Autoencoder) return;
    if (score) checked_score(*score, version, x);
    require_finite_contributions(version, x, phi);
}

// Raises 0A000 unless the version can be explained.
void require_explainable(const CachedVersion* version, const char* model) {
    if (const char* why = unexplainable(version))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("version %d of model \"%s\" cannot be explained: %s", version->version, model, why),
                        errhint("Retrain the model.")));
}

}  // namespace

InputGroups input_groups(const engine::Featurizer* featurizer, int n_features) {
    const int n = n_features;
    InputGroups groups{0, static_cast<int*>(palloc(sizeof(int) * (n + 1))),
                       static_cast<const char**>(palloc(sizeof(char*) * (n + 1))),
                       static_cast<const char**>(palloc(sizeof(char*) * (n + 1)))};
    for (int j = 0; j < n; ++j) {
        const char* source = featurizer->output_sources()[size_t(j)].c_str();
        int g = 0;
        while (g < groups.n && strcmp(groups.feature[g], source) != 0) ++g;
        if (g == groups.n) {
            groups.feature[g] = source;
            groups.input[g] = source;
            // A history declaration's outputs come from "history:<name>": their input is its entity.
            for (const auto& h : featurizer->spec().history)
                if (strncmp(source, "history:", 8) == 0 && h.name == source + 8) groups.input[g] = h.entity.c_str();
            ++groups.n;
        }
        groups.group_of[j] = g;
    }
    return groups;
}

namespace {

// A row's contributions phi (finite_contributions') folded into reasons, one per group, largest contribution
// first (equal ones by name); an anomaly feature's value is its score (from x), the others' are left NULL.
// reasons has room for groups.n.
void fold_reasons(const CachedVersion* version, const InputGroups& groups, const double* phi, const float* x,
                  Reason* reasons) {
    for (int g = 0; g < groups.n; ++g) reasons[g] = Reason{groups.feature[g], groups.input[g], nullptr, 0};
    for (int j = 0; j < version->n_features; ++j) reasons[groups.group_of[j]].contribution += phi[j];
    // An anomaly feature has no input column of its own: its value is the autoencoder's score of the row.
    const engine::Featurizer* featurizer = version->featurizer->featurizer;
    for (size_t a = 0; a < featurizer->spec().anomaly.size(); ++a) {
        const int j = featurizer->first_anomaly_output() + int(a);
        reasons[groups.group_of[j]].value = psprintf("%.4f", engine::Featurizer::anomaly_score_of_output(x[j]));
    }
    qsort(reasons, size_t(groups.n), sizeof(Reason), by_contribution_descending);
}

}  // namespace

int explain_features(const CachedVersion* version, const InputGroups& groups, const RowBinding* binding, const float* x,
                     int top, Reason* reasons, bool score_checked) {
    double* phi = static_cast<double*>(palloc(sizeof(double) * (version->n_features + 2)));
    finite_contributions(version, x, phi, score_checked);
    fold_reasons(version, groups, phi, x, reasons);
    pfree(phi);
    for (int r = 0; r < groups.n && r < top; ++r)
        if (!reasons[r].value) reasons[r].value = input_value_text(binding, version->featurizer, reasons[r].input);
    return groups.n;
}

char* reasons_text(const Reason* reasons, int n, int top) {
    StringInfoData text;
    initStringInfo(&text);
    for (int r = 0, shown = 0; r < n && shown < top && reasons[r].contribution > 0; ++r, ++shown) {
        const Reason& reason = reasons[r];
        appendStringInfoString(&text, shown ? ", " : "");
        if (strcmp(reason.feature, reason.input) != 0)
            appendStringInfo(&text, "the history of %s = %s", reason.input, reason.value ? reason.value : "NULL");
        else
            appendStringInfo(&text, "%s = %s", reason.feature, reason.value ? reason.value : "NULL");
        appendStringInfo(&text, " (+%.3f)", reason.contribution);
    }
    return text.data;
}

namespace {

JsonbValue json_string(const char* text) {
    JsonbValue value;
    value.type = jbvString;
    value.val.string.val = const_cast<char*>(text);
    value.val.string.len = int(strlen(text));
    return value;
}

// A contribution as a JSON number, its digits float8out's (the shortest that read back exactly, as the text
// of the JSON once was); a non-finite one (an autoencoder's overflowing term) as a string, as to_jsonb
// writes a float8 that is no JSON number.
JsonbValue json_number(double number) {
    char* digits = float8out_internal(number);
    if (!std::isfinite(number)) return json_string(digits);
    JsonbValue value;
    value.type = jbvNumeric;
    value.val.numeric = DatumGetNumeric(
        DirectFunctionCall3(numeric_in, CStringGetDatum(digits), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    return value;
}

}  // namespace

Datum reasons_jsonb(const Reason* reasons, int n, int top) {
    JsonbParseState* state = nullptr;
    const auto add = [&](JsonbIteratorToken token, JsonbValue* value = nullptr) {
        return pushJsonbValue(&state, token, value);
    };
    const auto field = [&](const char* name, JsonbValue value) {
        JsonbValue key = json_string(name);
        add(WJB_KEY, &key);
        add(WJB_VALUE, &value);
    };
    add(WJB_BEGIN_ARRAY);
    for (int r = 0, shown = 0; r < n && shown < top && reasons[r].contribution > 0; ++r, ++shown) {
        const Reason& reason = reasons[r];
        add(WJB_BEGIN_OBJECT);
        field("feature", json_string(reason.feature));
        field("input", json_string(reason.input));
        JsonbValue null_value;
        null_value.type = jbvNull;
        field("value", reason.value ? json_string(reason.value) : null_value);
        field("contribution", json_number(reason.contribution));
        add(WJB_END_OBJECT);
    }
    return JsonbPGetDatum(JsonbValueToJsonb(add(WJB_END_ARRAY)));
}

namespace {

// The last version's input groups, kept per backend (a guard logs reasons row after row with one version).
const InputGroups& groups_for(const CachedVersion* version) {
    static InputGroups groups{};
    static uint64 grouped_load = 0;  // the version's load (see tree_layout_for)
    if (grouped_load != version->load_serial) {
        if (groups.group_of) {
            for (int g = 0; g < groups.n; ++g) {
                pfree(const_cast<char*>(groups.feature[g]));
                pfree(const_cast<char*>(groups.input[g]));
            }
            pfree(groups.group_of);
            pfree(groups.feature);
            pfree(groups.input);
            groups = InputGroups{};
        }
        grouped_load = 0;
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        InputGroups made = input_groups(version);
        // Copies of the names: the version's featurizer may leave the cache before this does.
        for (int g = 0; g < made.n; ++g) {
            made.feature[g] = pstrdup(made.feature[g]);
            made.input[g] = pstrdup(made.input[g]);
        }
        MemoryContextSwitchTo(old);
        groups = made;
        grouped_load = version->load_serial;
    }
    return groups;
}

}  // namespace

namespace {

// The reasons of the row loaded in binding (features x), with the version's cached groups; *n gets how many.
// The guards call it for rows whose score they have checked.
Reason* row_reasons(const CachedVersion* version, const RowBinding* binding, const float* x, int top, int* n) {
    const InputGroups& groups = groups_for(version);
    Reason* reasons = static_cast<Reason*>(palloc(sizeof(Reason) * (groups.n + 1)));
    *n = explain_features(version, groups, binding, x, top, reasons, true);
    return reasons;
}

}  // namespace

Datum row_reasons_jsonb(const CachedVersion* version, const RowBinding* binding, const float* x, int top) {
    int n = 0;
    const Reason* reasons = row_reasons(version, binding, x, top, &n);
    return reasons_jsonb(reasons, n, top);
}

char* row_reasons_text(const CachedVersion* version, const RowBinding* binding, const float* x, int top) {
    int n = 0;
    const Reason* reasons = row_reasons(version, binding, x, top, &n);
    return reasons_text(reasons, n, top);
}

namespace {

constexpr size_t kImportanceRows = 2000;           // TreeSHAP, exact integrated gradients: ~0.2 s at most
constexpr size_t kImportanceRowsQuadrature = 200;  // smooth networks: integrated gradients by quadrature

bool interrupt_pending() { return QueryCancelPending || ProcDiePending; }

}  // namespace

void write_validation_importance(int64 version_id, const engine::TrainResult& result,
                                 const std::vector<engine::FeatureBaseline>& baselines,
                                 const engine::Featurizer* featurizer, const float* features, int n_features) {
    if (!catalog_has_table("validation_importance") || result.evaluation_rows.empty() ||
        result.algorithm == "autoencoder")
        return;
    const InputGroups groups = input_groups(featurizer, n_features);
    double* mean_abs = static_cast<double*>(palloc0(sizeof(double) * (groups.n + 1)));
    size_t rows = 0;
    engine_call([&] {
        engine::ModelView model;
        std::unique_ptr<engine::SpecView> network;
        std::vector<float> baseline(size_t(n_features) + 1, 0.0f);
        size_t max_rows = kImportanceRows;
        if (result.algorithm == "gbdt") {
            model.kind = engine::ModelView::Kind::Trees;
            model.trees = engine::view_of(result.trees);
            if (!model.trees.cover) return;  // nothing to explain with
        } else {
            if (result.algorithm == "blend") {
                model.kind = engine::ModelView::Kind::Blend;
                model.trees = engine::view_of(result.trees);
                model.network_weight = result.network_weight;
                if (!model.trees.cover) return;
            }
            network = std::make_unique<engine::SpecView>(result.spec, result.parameters.data());
            model.network = network->view();
            for (size_t f = 0; f < baselines.size() && f < size_t(n_features); ++f)
                baseline[f] = float(baselines[f].mean);
            for (int e = 0; e < model.network.embeddings; ++e)
                baseline[size_t(model.network.embedding_features[e])] = 0;
            if (!engine::piecewise_linear(model.network)) max_rows = kImportanceRowsQuadrature;
        }
        rows = engine::mean_abs_contributions(model, baseline.data(), features, n_features, result.evaluation_rows,
                                              max_rows, groups.group_of, groups.n, mean_abs, interrupt_pending,
                                              result.threads);
    });
    if (rows == 0) return;
    Reason* ranked = static_cast<Reason*>(palloc(sizeof(Reason) * (groups.n + 1)));
    for (int g = 0; g < groups.n; ++g) ranked[g] = Reason{groups.feature[g], groups.input[g], nullptr, mean_abs[g]};
    qsort(ranked, size_t(groups.n), sizeof(Reason), by_contribution_descending);
    SPIPlanPtr insert = prepare_as_owner(
        "INSERT INTO dendrite.validation_importance (version_id, rank, feature, input, mean_abs_contribution, rows) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        6, oids({INT8OID, INT4OID, TEXTOID, TEXTOID, FLOAT8OID, INT4OID}));
    for (int g = 0; g < groups.n; ++g) {
        Datum values[6] = {Int64GetDatum(version_id),
                           Int32GetDatum(g + 1),
                           CStringGetTextDatum(ranked[g].feature),
                           CStringGetTextDatum(ranked[g].input),
                           Float8GetDatum(ranked[g].contribution),
                           Int32GetDatum(int(rows))};
        execute_plan_as_owner(insert, values);
    }
}

}  // namespace dendrite::pg

using namespace dendrite::pg;

namespace {

// Per call site: the version resolved once per statement, the row binding, the feature vector.
struct ExplainState {
    char* model;
    int requested;  // the version asked for (0: the serving one)
    const CachedVersion* version;
    float* x;
    InputGroups groups;
    Reason* reasons;
    RowBinding binding;
    bool bound;
    StatePins pins;  // on every version this call site resolved (it may outlive the transaction)
};

ExplainState* explain_state(FunctionCallInfo fcinfo, const char* model, int requested) {
    auto* state = static_cast<ExplainState*>(fcinfo->flinfo->fn_extra);
    if (state && strcmp(state->model, model) == 0 && state->requested == requested) return state;
    MemoryContext context = fcinfo->flinfo->fn_mcxt;
    if (!state) state = static_cast<ExplainState*>(MemoryContextAllocZero(context, sizeof(ExplainState)));
    const CachedVersion* version = model_version(model, requested);
    if (state->pins.first_time(version)) pin_version(version, context);
    state->model = MemoryContextStrdup(context, model);
    state->requested = requested;
    state->version = version;
    state->x = static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * (version->n_features + 1)));
    MemoryContext old = MemoryContextSwitchTo(context);
    state->groups = input_groups(version);
    MemoryContextSwitchTo(old);
    state->reasons = static_cast<Reason*>(MemoryContextAlloc(context, sizeof(Reason) * (state->groups.n + 1)));
    state->bound = false;  // the row binding depends on the version's featurizer
    fcinfo->flinfo->fn_extra = state;
    return state;
}

}  // namespace

// dendrite.explain(model, row, top, version): the reasons of the serving version (or of the version asked
// for) for the row, largest first. Not STRICT (for version's NULL default): a NULL model, row or top
// explains nothing, as a strict function would.
DENDRITE_FUNCTION(dendrite_explain) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) {
        InitMaterializedSRF(fcinfo, 0);
        return (Datum)0;
    }
    char* model = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const Oid argument_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!type_is_rowtype(argument_type))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("dendrite.explain needs a row, got %s", format_type_be(argument_type)),
                        errhint("Pass the table alias, as in SELECT * FROM t, dendrite.explain('model', t).")));
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    const int top = PG_GETARG_INT32(2);
    if (top < 1) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("top must be at least 1")));
    ExplainState* state = explain_state(fcinfo, model, version_argument(fcinfo, 3));
    const CachedVersion* version = state->version;
    require_explainable(version, model);
    const CachedFeaturizer* featurizer = version->featurizer;
    load_composite(&state->binding, &state->bound, featurizer, row, fcinfo->flinfo->fn_mcxt);
    const dendrite::engine::HistoryState* history = inline_history(featurizer);
    const dendrite::engine::Featurizer* engine_featurizer = featurizer->featurizer;
    engine_call([&] { engine_featurizer->transform(state->binding.raw, history, state->x); });
    note_unseen_categories(&state->binding, engine_featurizer);
    const int n = explain_features(version, state->groups, &state->binding, state->x, top, state->reasons, false);

    InitMaterializedSRF(fcinfo, 0);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (int r = 0; r < n && r < top; ++r) {
        const Reason& reason = state->reasons[r];
        Datum values[4] = {CStringGetTextDatum(reason.feature), CStringGetTextDatum(reason.input),
                           reason.value ? CStringGetTextDatum(reason.value) : Datum(0),
                           Float8GetDatum(reason.contribution)};
        bool nulls[4] = {false, false, reason.value == nullptr, false};
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    return (Datum)0;
}

namespace {

// Rows waiting to be explained over a pool of threads, for a pass that explains many (feature_importance,
// explain_query): an explanation costs ~20-80 us a row, ~20 times the row's featurizing, and the backend
// would otherwise explain alone while the other cores idle. kExplanationBatchRows at a time; a rest under
// kSerialRows on the backend, with its kept tree layout. The same contributions either way (engine test
// Explain.ScoreAndExplainRowsIsRowByRow), and the caller takes them in row order. On one core: no batch.
constexpr int kExplanationBatchRows = 1024;
constexpr int kSerialRows = 64;

struct ExplanationBatch {
    const CachedVersion* version;
    const float* baseline;
    bool scores_checked;    // the caller scores and checks each row before adding it (explain_query)
    MemoryContext context;  // the function's: owns the pool and the scratch (a pass's row context is reset)
    dendrite::engine::WorkerPool* pool;                           // created with the first batch explained
    std::vector<dendrite::engine::ContributionScratch>* scratch;  // one per pool thread
    float* x;                                                     // the rows' features
    float* scores;                                                // theirs, unless scores_checked
    double* phi;                                                  // n_features + 2 a row
    int rows;
};

// Nothing on a machine with one core: the caller explains row by row (batching() is false).
void start_explanation_batch(ExplanationBatch* b, const CachedVersion* version, bool scores_checked) {
    *b = ExplanationBatch{};
    if (dendrite::engine::WorkerPool::hardware_threads() < 2) return;
    const size_t n = size_t(version->n_features);
    b->version = version;
    b->baseline = explanation_baseline(version);
    b->scores_checked = scores_checked;
    b->context = CurrentMemoryContext;
    b->x = static_cast<float*>(palloc(sizeof(float) * n * kExplanationBatchRows));
    b->scores = static_cast<float*>(palloc(sizeof(float) * kExplanationBatchRows));
    b->phi = static_cast<double*>(palloc(sizeof(double) * (n + 2) * kExplanationBatchRows));
}

bool batching(const ExplanationBatch* b) { return b->version != nullptr; }

// Adds a row's features; true when the batch is full (explain it).
bool add_to_batch(ExplanationBatch* b, const float* features) {
    const size_t n = size_t(b->version->n_features);
    memcpy(b->x + size_t(b->rows) * n, features, sizeof(float) * n);
    return ++b->rows == kExplanationBatchRows;
}

const float* batch_features(const ExplanationBatch* b, int row) {
    return b->x + size_t(row) * size_t(b->version->n_features);
}
double* batch_contributions(const ExplanationBatch* b, int row) {
    return b->phi + size_t(row) * size_t(b->version->n_features + 2);
}

// Each batched row's contributions into b->phi, checked as finite_contributions checks them (the same errors,
// for the first row in order that fails). The caller then takes them and sets b->rows to 0.
void explain_batch_rows(ExplanationBatch* b) {
    const CachedVersion* version = b->version;
    if (b->rows < kSerialRows) {
        for (int k = 0; k < b->rows; ++k)
            finite_contributions(version, batch_features(b, k), batch_contributions(b, k), b->scores_checked);
        return;
    }
    if (!b->pool) {
        b->scratch = create_owned<std::vector<dendrite::engine::ContributionScratch>>(
            b->context, [] { return new std::vector<dendrite::engine::ContributionScratch>(); });
        b->pool =
            create_owned<dendrite::engine::WorkerPool>(b->context, [] { return new dendrite::engine::WorkerPool(0); });
    }
    engine_call([&] {
        dendrite::engine::score_and_explain_rows(version->scorer, b->baseline, b->x, version->n_features,
                                                 size_t(b->rows), kCompleteness, kMaxSteps, *b->pool, *b->scratch,
                                                 b->scores_checked ? nullptr : b->scores, b->phi, interrupt_pending);
    });
    for (int k = 0; k < b->rows; ++k)
        check_explained_row(version, batch_features(b, k), b->scores_checked ? nullptr : &b->scores[k],
                            batch_contributions(b, k));
}

// feature_importance's pass: per input (column or history declaration), the sum of |its contribution|, the
// rows explained in batches where there is more than one core.
struct Importance {
    const CachedVersion* version;
    InputGroups groups;
    double* total;   // per group
    double* folded;  // per group, the row at hand
    double* phi;
    int64 rows;
    ExplanationBatch batch;
};

void add_row_contributions(Importance* s, const double* phi) {
    for (int g = 0; g < s->groups.n; ++g) s->folded[g] = 0;
    for (int j = 0; j < s->version->n_features; ++j) s->folded[s->groups.group_of[j]] += phi[j];
    for (int g = 0; g < s->groups.n; ++g) s->total[g] += std::abs(s->folded[g]);
    ++s->rows;
}

void explain_importance_batch(Importance* s) {
    explain_batch_rows(&s->batch);
    for (int k = 0; k < s->batch.rows; ++k) add_row_contributions(s, batch_contributions(&s->batch, k));
    s->batch.rows = 0;
}

void add_importance(void* context, const float* features, TupleTableSlot*) {
    auto* s = static_cast<Importance*>(context);
    if (!batching(&s->batch)) {
        finite_contributions(s->version, features, s->phi);
        add_row_contributions(s, s->phi);
    } else if (add_to_batch(&s->batch, features)) {
        explain_importance_batch(s);
    }
}

void restart_importance(void* context) {
    auto* s = static_cast<Importance*>(context);
    for (int g = 0; g < s->groups.n; ++g) s->total[g] = 0;
    s->rows = 0;
    s->batch.rows = 0;
}

}  // namespace

// dendrite.feature_importance(model, query, version): the mean absolute contribution of each input over the
// rows, for the serving version or the one asked for.
DENDRITE_FUNCTION(dendrite_feature_importance) {
    char* model = required_text_argument(fcinfo, 0, "model");
    char* query = required_text_argument(fcinfo, 1, "query");
    const CachedVersion* version = model_version(model, version_argument(fcinfo, 2));
    require_explainable(version, model);
    Importance s{};
    s.version = version;
    s.groups = input_groups(version);
    s.total = static_cast<double*>(palloc0(sizeof(double) * (s.groups.n + 1)));
    s.folded = static_cast<double*>(palloc(sizeof(double) * (s.groups.n + 1)));
    const size_t n = size_t(version->n_features);
    s.phi = static_cast<double*>(palloc(sizeof(double) * (n + 2)));
    start_explanation_batch(&s.batch, version, false);

    InitMaterializedSRF(fcinfo, 0);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    connect_spi();
    // Featurized on a helper thread while the rows are read (the same features); nothing taken from the rows.
    const PipelinedEmit pipelined{nullptr};
    offline_pass(version->featurizer, query, DT_NOBEGIN, add_importance, &s, nullptr, nullptr, restart_importance,
                 &pipelined);
    if (batching(&s.batch)) explain_importance_batch(&s);  // the rest
    finish_spi();
    // Largest first (a selection: there are few inputs).
    Reason* ranked = static_cast<Reason*>(palloc(sizeof(Reason) * (s.groups.n + 1)));
    for (int g = 0; g < s.groups.n; ++g)
        ranked[g] = Reason{s.groups.feature[g], s.groups.input[g], nullptr, s.rows ? s.total[g] / double(s.rows) : 0};
    qsort(ranked, size_t(s.groups.n), sizeof(Reason), by_contribution_descending);
    for (int g = 0; g < s.groups.n; ++g) {
        Datum values[4] = {CStringGetTextDatum(ranked[g].feature), CStringGetTextDatum(ranked[g].input),
                           Float8GetDatum(ranked[g].contribution), Int64GetDatum(s.rows)};
        bool nulls[4] = {false, false, false, false};
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    return (Datum)0;
}

namespace {

// explain_query's pass: each row of the query (at or after since, scoring at least min_score) with its top
// reasons, one output row per reason. Where rows are explained in batches (ExplanationBatch), what a row's
// output needs of the row itself (its key, and the value of each input its reasons may name) is taken as it
// is read, and its output rows are put once its batch is explained, in row order.
struct ExplainQuery {
    KeyedOutput out;  // for the key column (its own rows are put here, not by emit_keyed_row)
    const CachedVersion* version;
    InputGroups groups;
    Reason* reasons;
    float* scratch;
    int top;
    double min_score;
    const RowBinding* binding;
    ExplanationBatch batch;
    MemoryContext batch_context;  // the batched rows' keys and values, reset after each batch
    char** keys;                  // per batched row
    double* scores;
    // Per batched row, groups.n: each group's input's value (copied: the row's memory is gone by the time
    // the batch is explained), turned into text only for the reasons shown.
    Datum* values;
    bool* nulls;
    // Per group, found once the pass's rows are bound (again after a restart): where its input's value is
    // and how to copy and show a value of its type.
    struct GroupValue {
        int index;  // in the loaded values (-1: not read)
        int16 length;
        bool by_value;
        FmgrInfo output;
    };
    GroupValue* group_values;
    bool groups_bound;
    MemoryContext call_context;  // the output functions'
};

void bind_group_values(ExplainQuery* s) {
    for (int g = 0; g < s->groups.n; ++g) {
        ExplainQuery::GroupValue& v = s->group_values[g];
        const int j = input_position(s->version->featurizer, s->groups.input[g]);
        v.index = j < 0 ? -1 : s->binding->attnums[j];
        if (v.index < 0) continue;
        Oid output;
        bool varlena;
        getTypeOutputInfo(s->binding->types[j], &output, &varlena);
        fmgr_info_cxt(output, &v.output, s->call_context);
        get_typlenbyval(s->binding->types[j], &v.length, &v.by_value);
    }
    s->groups_bound = true;
}

void put_explained_row(ExplainQuery* s, const char* key, double score) {
    for (int r = 0; r < s->groups.n && r < s->top; ++r) {
        const Reason& reason = s->reasons[r];
        Datum values[7] = {key ? CStringGetTextDatum(key) : Datum(0),
                           Float8GetDatum(score),
                           Int32GetDatum(r + 1),
                           CStringGetTextDatum(reason.feature),
                           CStringGetTextDatum(reason.input),
                           reason.value ? CStringGetTextDatum(reason.value) : Datum(0),
                           Float8GetDatum(reason.contribution)};
        bool nulls[7] = {key == nullptr, false, false, false, false, reason.value == nullptr, false};
        tuplestore_putvalues(s->out.result->setResult, s->out.result->setDesc, values, nulls);
    }
}

// The batched rows explained, and their output rows put in order.
void explain_query_batch(ExplainQuery* s) {
    explain_batch_rows(&s->batch);
    MemoryContext old = MemoryContextSwitchTo(s->out.row_context);
    for (int k = 0; k < s->batch.rows; ++k) {
        fold_reasons(s->version, s->groups, batch_contributions(&s->batch, k), batch_features(&s->batch, k),
                     s->reasons);
        for (int r = 0; r < s->groups.n && r < s->top; ++r) {
            Reason& reason = s->reasons[r];
            if (reason.value) continue;
            for (int g = 0; g < s->groups.n; ++g) {  // the reason's group, by its name's pointer
                const size_t at = size_t(k) * size_t(s->groups.n) + size_t(g);
                if (reason.feature == s->groups.feature[g] && !s->nulls[at])
                    reason.value = OutputFunctionCall(&s->group_values[g].output, s->values[at]);
            }
        }
        put_explained_row(s, s->keys[k], s->scores[k]);
        MemoryContextReset(s->out.row_context);
    }
    MemoryContextSwitchTo(old);
    s->batch.rows = 0;
    MemoryContextReset(s->batch_context);
}

void emit_explanation(void* context, const float* features, TupleTableSlot* slot) {
    auto* s = static_cast<ExplainQuery*>(context);
    const double score =
        checked_score(dendrite::engine::score_one(s->version->scorer, features, s->scratch), s->version, features);
    if (score < s->min_score) return;
    if (batching(&s->batch)) {
        const int k = s->batch.rows;
        MemoryContext old = MemoryContextSwitchTo(s->batch_context);
        s->keys[k] = row_key_text(&s->out, slot);
        s->scores[k] = score;
        if (!s->groups_bound) bind_group_values(s);
        for (int g = 0; g < s->groups.n; ++g) {
            const size_t at = size_t(k) * size_t(s->groups.n) + size_t(g);
            const ExplainQuery::GroupValue& v = s->group_values[g];
            s->nulls[at] = v.index < 0 || s->binding->loaded_nulls[v.index];
            if (s->nulls[at]) continue;
            const Datum value = s->binding->loaded_values[v.index];
            // A varlena detoasted as it is copied: the copy must not point into a row the pass has left.
            s->values[at] =
                v.length == -1 ? PointerGetDatum(PG_DETOAST_DATUM_COPY(value)) : datumCopy(value, v.by_value, v.length);
        }
        MemoryContextSwitchTo(old);
        if (add_to_batch(&s->batch, features)) explain_query_batch(s);
        return;
    }
    MemoryContext old = MemoryContextSwitchTo(s->out.row_context);
    char* key = row_key_text(&s->out, slot);
    explain_features(s->version, s->groups, s->binding, features, s->top, s->reasons, true);
    put_explained_row(s, key, score);
    MemoryContextSwitchTo(old);
    MemoryContextReset(s->out.row_context);
}

void restart_explain_query(void* context) {
    auto* s = static_cast<ExplainQuery*>(context);
    clear_keyed_output(&s->out);
    s->groups_bound = false;  // the sorted read binds its rows anew
    s->batch.rows = 0;
    if (s->batch_context) MemoryContextReset(s->batch_context);
}

}  // namespace

// dendrite.explain_query(model, query, key, top, min_score, since, version): every row's top reasons, in one
// ordered pass (history features computed offline, as score_query computes them).
DENDRITE_FUNCTION(dendrite_explain_query) {
    char* model = required_text_argument(fcinfo, 0, "model");
    char* query = required_text_argument(fcinfo, 1, "query");
    const int top = PG_ARGISNULL(3) ? 3 : PG_GETARG_INT32(3);
    if (top < 1) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("top must be at least 1")));
    const double min_score = PG_ARGISNULL(4) ? 0 : PG_GETARG_FLOAT8(4);
    if (!(min_score >= 0 && min_score <= 1))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("min_score must be between 0 and 1")));
    const Timestamp since = since_argument(fcinfo, 5);
    const CachedVersion* version = model_version(model, version_argument(fcinfo, 6));
    require_explainable(version, model);
    ExplainQuery s{};
    start_keyed_output(fcinfo, &s.out, PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2)));
    s.out.row_context = AllocSetContextCreate(CurrentMemoryContext, "explain_query row", ALLOCSET_DEFAULT_SIZES);
    s.version = version;
    s.groups = input_groups(version);
    s.reasons = static_cast<Reason*>(palloc(sizeof(Reason) * (s.groups.n + 1)));
    s.scratch = static_cast<float*>(palloc(sizeof(float) * version->scratch_floats));
    s.top = top;
    s.min_score = min_score;
    start_explanation_batch(&s.batch, version, true);
    if (batching(&s.batch)) {
        s.batch_context = AllocSetContextCreate(CurrentMemoryContext, "explain_query batch", ALLOCSET_DEFAULT_SIZES);
        s.keys = static_cast<char**>(palloc0(sizeof(char*) * kExplanationBatchRows));
        s.scores = static_cast<double*>(palloc0(sizeof(double) * kExplanationBatchRows));
        s.values = static_cast<Datum*>(palloc0(sizeof(Datum) * size_t(s.groups.n + 1) * kExplanationBatchRows));
        s.nulls = static_cast<bool*>(palloc0(sizeof(bool) * size_t(s.groups.n + 1) * kExplanationBatchRows));
        s.call_context = CurrentMemoryContext;
        s.group_values =
            static_cast<ExplainQuery::GroupValue*>(palloc0(sizeof(ExplainQuery::GroupValue) * size_t(s.groups.n + 1)));
    }
    connect_spi();
    offline_pass(version->featurizer, query, since, emit_explanation, &s, nullptr, &s.binding, restart_explain_query);
    if (batching(&s.batch)) explain_query_batch(&s);  // the rest
    finish_spi();
    return (Datum)0;
}
