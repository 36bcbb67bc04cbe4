// dendrite.evaluate and dendrite.feature_drift: a stored model version measured on the rows of any query.
// evaluate scores a labelled query with one version (the champion/challenger comparison of retrain uses
// it); feature_drift compares every feature of a query's rows with the version's training rows.
#include <algorithm>

#include "engine/drift.hpp"
#include "engine/metrics.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/featurize.hpp"
#include "pg/model_cache.hpp"
#include "pg/query_pass.hpp"
#include "pg/privileges.hpp"
#include "pg/settings.hpp"
#include "pg/values.hpp"

namespace dendrite::pg {

namespace {

// The scores and labels of evaluate's rows, in the function's memory context (the offline pass runs inside
// an SPI connection, whose memory goes at its end).
struct EvaluationRows {
    const CachedVersion* version;
    const char* label;
    int label_attnum;  // 0 until the first row
    Oid label_type;
    MemoryContext context;
    float* scores;
    float* labels;
    size_t rows, capacity;
    size_t scored;  // rows whose features have come (the pass is pipelined: labels as rows are read)
    float* scratch;
};

void collect_evaluation_label(void* context, TupleTableSlot* slot) {
    auto* e = static_cast<EvaluationRows*>(context);
    if (e->label_attnum == 0)
        e->label_attnum = label_column(slot->tts_tupleDescriptor, e->label, "the query",
                                       "The query must return the label with the rows to score.", &e->label_type);
    const double label = label_value(slot, e->label_attnum, e->label_type, e->label, e->rows + 1, "the query");
    if (e->rows == e->capacity) {
        const size_t capacity = e->capacity ? e->capacity * 2 : 65536;
        const size_t budget = size_t(training_memory_kb) * 1024;
        if (capacity * 2 * sizeof(float) > budget)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                            errmsg("the evaluated rows do not fit in dendrite.training_memory"),
                            errdetail("%zu rows need about %zu MB; dendrite.training_memory is %d MB.", capacity,
                                      (capacity * 2 * sizeof(float)) >> 20, training_memory_kb >> 10),
                            errhint("Evaluate on fewer rows (a WHERE clause or TABLESAMPLE in the query).")));
        const Size bytes = sizeof(float) * capacity;
        if (e->scores) {
            e->scores = static_cast<float*>(repalloc_huge(e->scores, bytes));
            e->labels = static_cast<float*>(repalloc_huge(e->labels, bytes));
        } else {
            e->scores = static_cast<float*>(MemoryContextAllocHuge(e->context, bytes));
            e->labels = static_cast<float*>(MemoryContextAllocHuge(e->context, bytes));
        }
        e->capacity = capacity;
    }
    e->labels[e->rows] = float(label);
    ++e->rows;
}

void score_evaluation_row(void* context, const float* features, TupleTableSlot*) {
    auto* e = static_cast<EvaluationRows*>(context);
    if (e->scored >= e->rows)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("evaluate featurized a row it did not read")));
    e->scores[e->scored++] =
        float(checked_score(engine::score_one(e->version->scorer, features, e->scratch), e->version, features));
}

// The pass read rows out of time order and reads the query again, sorted (offline_pass's RestartRows).
void restart_evaluation_rows(void* context) {
    auto* e = static_cast<EvaluationRows*>(context);
    e->rows = e->scored = 0;
}

// Per feature, the current rows' counts in the bins of the training baseline.
struct DriftCounts {
    int n_features;
    float** edges;  // per feature, n_edges[f] values
    int* n_edges;
    double** fractions;  // per feature, n_edges[f] + 1 values
    int64** counts;      // per feature, n_edges[f] + 1 counters
    double* sums;
    int64 rows;
};

void count_drift_row(void* context, const float* features, TupleTableSlot*) {
    auto* d = static_cast<DriftCounts*>(context);
    for (int f = 0; f < d->n_features; ++f) {
        ++d->counts[f][engine::bin_of(d->edges[f], size_t(d->n_edges[f]), features[f])];
        d->sums[f] += features[f];
    }
    ++d->rows;
}

void restart_drift_counts(void* context) {
    auto* d = static_cast<DriftCounts*>(context);
    for (int f = 0; f < d->n_features; ++f) std::fill(d->counts[f], d->counts[f] + d->n_edges[f] + 1, int64(0));
    std::fill(d->sums, d->sums + d->n_features, 0.0);
    d->rows = 0;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;
namespace engine = dendrite::engine;

// dendrite.evaluate(model, query, version, label, since): the version's fraud metrics on the query's rows
// (those at or after since; earlier ones only feed history features), at the version's stored threshold.
DENDRITE_FUNCTION(dendrite_evaluate) {
    char* model = required_text_argument(fcinfo, 0, "model");
    char* query = required_text_argument(fcinfo, 1, "query");
    const int requested = version_argument(fcinfo, 2);
    TupleDesc descriptor;
    if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("dendrite.evaluate must return a composite type")));
    descriptor = BlessTupleDesc(descriptor);

    EvaluationRows rows{};
    rows.context = CurrentMemoryContext;
    rows.version = model_version(model, requested);
    rows.scratch = static_cast<float*>(palloc(sizeof(float) * rows.version->scratch_floats));
    connect_spi();
    if (PG_ARGISNULL(3)) {
        Datum id[1] = {Int64GetDatum(rows.version->version_id)};
        execute_as_owner("SELECT label_column FROM dendrite.model_versions WHERE version_id = $1", 1, oids({INT8OID}),
                         id);
        const char* stored = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
        if (!stored)
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("version %d of model \"%s\" was trained without a label", rows.version->version, model),
                     errhint("Name the query's label column: dendrite.evaluate(model, query, label => ...).")));
        rows.label = MemoryContextStrdup(rows.context, stored);
    } else {
        rows.label = text_to_cstring(PG_GETARG_TEXT_PP(3));
    }
    // Featurized on a helper thread while the rows are read (the same features): labels as rows are read.
    const PipelinedEmit pipelined{collect_evaluation_label};
    offline_pass(rows.version->featurizer, query, since_argument(fcinfo, 4), score_evaluation_row, &rows, nullptr,
                 nullptr, restart_evaluation_rows, &pipelined);
    finish_spi();
    if (rows.rows == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the query returned no rows to evaluate on")));

    engine::Metrics metrics;
    int64 positives = 0;
    engine_call([&] {
        engine::ThresholdRule rule;
        rule.kind = engine::ThresholdRule::Kind::Fixed;
        rule.value = rows.version->threshold;
        metrics = engine::evaluate(rows.scores, rows.labels, rows.rows, rule);
        for (size_t i = 0; i < rows.rows; ++i) positives += rows.labels[i] > 0.5f;
    });
    const bool one_class = positives == 0 || positives == int64(rows.rows);
    Datum values[13] = {Int32GetDatum(rows.version->version),
                        Int64GetDatum(int64(rows.rows)),
                        Int64GetDatum(positives),
                        Float8GetDatum(metrics.pr_auc),
                        Float8GetDatum(metrics.roc_auc),
                        Float8GetDatum(metrics.recall_at_precision_90),
                        Float8GetDatum(metrics.confusion.precision()),
                        Float8GetDatum(metrics.confusion.recall()),
                        Int64GetDatum(metrics.confusion.tp),
                        Int64GetDatum(metrics.confusion.fp),
                        Int64GetDatum(metrics.confusion.tn),
                        Int64GetDatum(metrics.confusion.fn),
                        Float8GetDatum(rows.version->threshold)};
    bool nulls[13] = {};
    // Ranking metrics need both classes: NULL rather than a number that means nothing. So do precision with
    // no row flagged and recall with no fraud among the rows (0 would say every flag was wrong, or every fraud
    // missed), as model_health's.
    nulls[3] = nulls[4] = nulls[5] = one_class;
    nulls[6] = metrics.confusion.tp + metrics.confusion.fp == 0;
    nulls[7] = metrics.confusion.tp + metrics.confusion.fn == 0;
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls)));
}

// The fewest rows feature_drift computes a population stability index of (model_health's score_psi asks as many).
constexpr int64 kMinimumDriftRows = 100;

// dendrite.feature_drift(model, query, version, since): per feature, the population stability index of the
// query's rows (at or after since) against the version's training rows.
DENDRITE_FUNCTION(dendrite_feature_drift) {
    char* model = required_text_argument(fcinfo, 0, "model");
    char* query = required_text_argument(fcinfo, 1, "query");
    const int requested = version_argument(fcinfo, 2);
    const CachedVersion* version = model_version(model, requested);
    InitMaterializedSRF(fcinfo, 0);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    MemoryContext function_context = CurrentMemoryContext;

    const int n = version->n_features;
    DriftCounts drift{};
    drift.n_features = n;
    drift.edges = static_cast<float**>(palloc0(sizeof(float*) * n));
    drift.n_edges = static_cast<int*>(palloc0(sizeof(int) * n));
    drift.fractions = static_cast<double**>(palloc0(sizeof(double*) * n));
    drift.counts = static_cast<int64**>(palloc0(sizeof(int64*) * n));
    drift.sums = static_cast<double*>(palloc0(sizeof(double) * n));
    char** names = static_cast<char**>(palloc0(sizeof(char*) * n));
    double* training_means = static_cast<double*>(palloc0(sizeof(double) * n));
    double* training_stddevs = static_cast<double*>(palloc0(sizeof(double) * n));

    connect_spi();
    require_model_manager(model);  // the baseline tells what the training rows looked like
    Datum id[1] = {Int64GetDatum(version->version_id)};
    if (!catalog_has_table("feature_baselines"))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the dendrite catalog has no training baselines"),
                        errhint("Run ALTER EXTENSION dendrite UPDATE, then retrain the model.")));
    execute_as_owner(
        "SELECT feature_index, feature, mean, stddev, edges, fractions FROM dendrite.feature_baselines "
        "WHERE version_id = $1 ORDER BY feature_index",
        1, oids({INT8OID}), id);
    if (SPI_processed != uint64(n))
        ereport(
            ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("version %d of model \"%s\" has no training baseline", version->version, model),
             errdetail(
                 "Versions trained before dendrite 0.4.0, and their exports, have no deciles of their training rows."),
             errhint("Train a new version (dendrite.train or dendrite.retrain).")));
    for (int f = 0; f < n; ++f) {
        HeapTuple row = SPI_tuptable->vals[f];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        names[f] = MemoryContextStrdup(function_context, SPI_getvalue(row, desc, 2));
        training_means[f] = DatumGetFloat8(SPI_getbinval(row, desc, 3, &isnull));
        training_stddevs[f] = DatumGetFloat8(SPI_getbinval(row, desc, 4, &isnull));
        ArrayType* edges = DatumGetArrayTypeP(SPI_getbinval(row, desc, 5, &isnull));
        ArrayType* fractions = DatumGetArrayTypeP(SPI_getbinval(row, desc, 6, &isnull));
        const int n_edges = ArrayGetNItems(ARR_NDIM(edges), ARR_DIMS(edges));
        if (ArrayGetNItems(ARR_NDIM(fractions), ARR_DIMS(fractions)) != n_edges + 1 || array_contains_nulls(edges) ||
            array_contains_nulls(fractions))
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("the training baseline of feature \"%s\" is malformed", names[f])));
        drift.n_edges[f] = n_edges;
        drift.edges[f] = static_cast<float*>(MemoryContextAlloc(function_context, sizeof(float) * (n_edges + 1)));
        memcpy(drift.edges[f], ARR_DATA_PTR(edges), sizeof(float) * n_edges);
        drift.fractions[f] = static_cast<double*>(MemoryContextAlloc(function_context, sizeof(double) * (n_edges + 1)));
        memcpy(drift.fractions[f], ARR_DATA_PTR(fractions), sizeof(double) * (n_edges + 1));
        drift.counts[f] = static_cast<int64*>(MemoryContextAllocZero(function_context, sizeof(int64) * (n_edges + 1)));
    }
    const PipelinedEmit pipelined{nullptr};  // nothing taken from the rows
    offline_pass(version->featurizer, query, since_argument(fcinfo, 3), count_drift_row, &drift, nullptr, nullptr,
                 restart_drift_counts, &pipelined);
    finish_spi();
    if (drift.rows == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the query returned no rows to compare")));
    // With a handful of rows most bins are empty (counted as 1e-4): the index is large whatever the rows, and
    // an alert on it would fire on a quiet hour. NULL below kMinimumDriftRows, as model_health's score_psi.
    const bool enough_rows = drift.rows >= kMinimumDriftRows;
    if (!enough_rows)
        ereport(NOTICE,
                (errmsg("feature_drift: %lld rows are too few for a population stability index; psi is NULL",
                        static_cast<long long>(drift.rows)),
                 errdetail("It needs at least %d rows.", int(kMinimumDriftRows)), errhint("Compare a longer window.")));

    for (int f = 0; f < n; ++f) {
        double psi = 0;
        engine_call([&] {
            const std::vector<double> expected(drift.fractions[f], drift.fractions[f] + drift.n_edges[f] + 1);
            const std::vector<int64_t> actual(drift.counts[f], drift.counts[f] + drift.n_edges[f] + 1);
            psi = engine::population_stability(expected, actual);
        });
        Datum values[7] = {Int32GetDatum(f + 1),
                           CStringGetTextDatum(names[f]),
                           Float8GetDatum(training_means[f]),
                           Float8GetDatum(drift.sums[f] / double(drift.rows)),
                           Float8GetDatum(training_stddevs[f]),
                           Float8GetDatum(psi),
                           Int64GetDatum(drift.rows)};
        bool nulls[7] = {};
        nulls[5] = !enough_rows;
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    return (Datum)0;
}
