// dendrite.train: query -> rows from the executor (select_rows) -> one float matrix -> engine -> parameters as rows.
#include <memory>
#include <new>

#include "engine/device.hpp"
#include "engine/drift.hpp"
#include "engine/raw_rows.hpp"
#include "engine/train_options.hpp"
#include "engine/trainer.hpp"
#include "pg/boundary.hpp"
#include "pg/explain.hpp"
#include "pg/catalog.hpp"
#include "pg/featurize.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/query_pass.hpp"
#include "pg/model_rows.hpp"
#include "pg/privileges.hpp"
#include "pg/progress.hpp"
#include "pg/settings.hpp"
#include "pg/training_data.hpp"
#include "pg/training_device.hpp"
#include "pg/values.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

extern "C" {
#include "utils/acl.h"
#include "utils/date.h"
#include "utils/json.h"
}

namespace dendrite::pg {

namespace {

// The arguments, as plain data (no object with a destructor may outlive an engine_call).
struct TrainArguments {
    char* model;
    char* query;        // the caller's; or, when train is called with none, the serving version's stored query
    bool stored_query;  // query is the serving version's: it runs as the model's owner (see QueryRights)
    QueryRights query_rights;
    char* search_path;  // stored with the version: the path its query resolves names in (NULL: the default)
    char* label;
    char* algorithm;
    int* hidden;
    int hidden_count;
    char* activation;
    int epochs;
    int batch_size;
    double learning_rate;
    char* optimizer;
    char* class_weight;
    double validation_fraction;
    int64 seed;
    char* device;
    char* featurizer;  // NULL: fit one automatically, named after the model
    Timestamp since;   // rows before it only feed the history (DT_NOBEGIN: none)
    // Since 0.2.0 (the 0.1.0 signature stops at since):
    double dropout;
    bool layer_norm;
    char* loss;
    char* threshold;
    char* split_column;  // NULL: stratified random split; else time-ordered by this column
    int patience;
    char* options;  // jsonb text
};

// The engine's side of one training, created once the arguments are read and owned by the function's
// memory context (own_in_context: deleted with it, an error's cleanup included): the options, parsed once,
// then the result and the training rows' feature baselines, which the writer reads in place.
struct TrainRun {
    engine::TrainOptions options;
    engine::TrainResult result;
    std::vector<engine::FeatureBaseline> baselines;
};

int int_argument(FunctionCallInfo fcinfo, int argument, const char* name) {
    if (PG_ARGISNULL(argument))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", name)));
    return PG_GETARG_INT32(argument);
}

double float_argument(FunctionCallInfo fcinfo, int argument, const char* name) {
    if (PG_ARGISNULL(argument))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", name)));
    const double value = PG_GETARG_FLOAT8(argument);
    if (!std::isfinite(value))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s must be a finite number", name)));
    return value;
}

TrainArguments read_arguments(FunctionCallInfo fcinfo) {
    TrainArguments a;
    a.model = required_text_argument(fcinfo, 0, "model");
    a.query = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
    a.stored_query = false;
    a.search_path = nullptr;
    a.algorithm = required_text_argument(fcinfo, 3, "algorithm");
    const bool autoencoder = strcmp(a.algorithm, "autoencoder") == 0;
    // Only an autoencoder learns without a label: it learns what the rows look like.
    if (PG_ARGISNULL(2) && !autoencoder)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("label must not be null"),
                        errhint("Only an autoencoder (algorithm => 'autoencoder') trains without a label.")));
    a.label = PG_ARGISNULL(2) ? nullptr : required_text_argument(fcinfo, 2, "label");
    if (PG_ARGISNULL(4)) {
        // The default: an autoencoder squeezes its rows through a narrow middle layer, a classifier does not.
        static int autoencoder_hidden[] = {64, 16, 64}, classifier_hidden[] = {64, 32};
        a.hidden = autoencoder ? autoencoder_hidden : classifier_hidden;
        a.hidden_count = autoencoder ? 3 : 2;
    } else {
        ArrayType* hidden = PG_GETARG_ARRAYTYPE_P(4);
        if (ARR_NDIM(hidden) > 1)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("hidden must be a one-dimensional array")));
        if (array_contains_nulls(hidden))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("hidden must not contain nulls")));
        a.hidden_count = ArrayGetNItems(ARR_NDIM(hidden), ARR_DIMS(hidden));
        a.hidden = reinterpret_cast<int*>(ARR_DATA_PTR(hidden));
    }
    a.activation = required_text_argument(fcinfo, 5, "activation");
    a.epochs = int_argument(fcinfo, 6, "epochs");
    a.batch_size = int_argument(fcinfo, 7, "batch_size");
    a.learning_rate = float_argument(fcinfo, 8, "learning_rate");
    a.optimizer = required_text_argument(fcinfo, 9, "optimizer");
    a.class_weight = required_text_argument(fcinfo, 10, "class_weight");
    a.validation_fraction = float_argument(fcinfo, 11, "validation_fraction");
    if (PG_ARGISNULL(12)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("seed must not be null")));
    a.seed = PG_GETARG_INT64(12);
    a.device = required_text_argument(fcinfo, 13, "device");
    a.featurizer = PG_ARGISNULL(14) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(14));
    a.since = PG_ARGISNULL(15) ? DT_NOBEGIN : PG_GETARG_TIMESTAMP(15);
    if (a.since != DT_NOBEGIN && TIMESTAMP_NOT_FINITE(a.since))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since must be a finite timestamp")));
    if (a.model[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("model name must not be empty")));
    a.dropout = 0;
    a.layer_norm = false;
    a.loss = pstrdup("bce");
    a.threshold = pstrdup("f1");
    a.split_column = nullptr;
    a.patience = 0;
    a.options = pstrdup("{}");
    if (PG_NARGS() > 16) {  // the 0.2.0 signature
        a.dropout = float_argument(fcinfo, 16, "dropout");
        if (PG_ARGISNULL(17))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("layer_norm must not be null")));
        a.layer_norm = PG_GETARG_BOOL(17);
        a.loss = required_text_argument(fcinfo, 18, "loss");
        // NULL (the default): max F1, or for an autoencoder without labels the rarest 1 % of rows.
        a.threshold = PG_ARGISNULL(19) ? pstrdup(autoencoder && !a.label ? "rate:0.01" : "f1")
                                       : text_to_cstring(PG_GETARG_TEXT_PP(19));
        a.split_column = PG_ARGISNULL(20) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(20));
        a.patience = int_argument(fcinfo, 21, "patience");
        if (PG_ARGISNULL(22))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("options must not be null"),
                            errhint("Use '{}' for no options.")));
        a.options = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(22)));
    }
    return a;
}

void append_json_string(StringInfo json, const char* key, const char* value, bool first = false) {
    appendStringInfo(json, "%s\"%s\": ", first ? "" : ", ", key);
    escape_json(json, value);
}

// The named arguments that reach the engine, as the JSON that engine::parse_train_options reads.
char* arguments_json(const TrainArguments& a) {
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfoChar(&json, '{');
    append_json_string(&json, "algorithm", a.algorithm, true);
    appendStringInfoString(&json, ", \"hidden\": [");
    for (int i = 0; i < a.hidden_count; ++i) appendStringInfo(&json, "%s%d", i ? ", " : "", a.hidden[i]);
    appendStringInfoChar(&json, ']');
    append_json_string(&json, "activation", a.activation);
    appendStringInfo(&json, ", \"epochs\": %d, \"batch_size\": %d, \"learning_rate\": %.17g", a.epochs, a.batch_size,
                     a.learning_rate);
    append_json_string(&json, "optimizer", a.optimizer);
    append_json_string(&json, "class_weight", a.class_weight);
    appendStringInfo(&json, ", \"validation_fraction\": %.17g, \"seed\": " INT64_FORMAT ", \"dropout\": %.17g",
                     a.validation_fraction, a.seed, a.dropout);
    appendStringInfo(&json, ", \"layer_norm\": %s, \"patience\": %d", a.layer_norm ? "true" : "false", a.patience);
    append_json_string(&json, "loss", a.loss);
    append_json_string(&json, "threshold", a.threshold);
    append_json_string(&json, "device", a.device);  // as asked: a retraining asks again
    appendStringInfoString(&json, ", \"split_column\": ");
    if (a.split_column)
        escape_json(&json, a.split_column);
    else
        appendStringInfoString(&json, "null");
    appendStringInfoChar(&json, '}');
    return json.data;
}

// Between batches, on the backend's thread. dendrite.fault_injection = 'training_out_of_memory' makes an
// allocation fail here, inside the engine's frames, as std::bad_alloc would anywhere in them.
bool should_stop() {
    if (fault_injection == int(Fault::TrainingOutOfMemory)) throw std::bad_alloc();
    return QueryCancelPending || ProcDiePending;
}

// Trains inside the engine: run->result and run->baselines.
void run_engine(TrainRun* run, TrainingData* data, const DeviceChoice& device) {
    engine_call([&] {
        engine::TrainOptions& options = run->options;
        for (int i = 0; i < data->n_index_features; ++i)
            options.index_features.push_back({data->index_feature[i], data->index_rows[i]});
        options.device = device.api;
        options.device_memory_budget = size_t(gpu_memory_mb) << 20;
        options.host_memory_headroom = training_memory_headroom(data);
        const int planned = options.planned_epochs();

        engine::TrainCallbacks callbacks;
        callbacks.should_stop = should_stop;
        int noticed = 0;  // the last round a NOTICE was sent for
        callbacks.on_epoch = [&](const engine::EpochReport& r) {
            report_progress(r);
            // A blend's members count their own epochs and rounds (r.step), against their own plan.
            const bool round = strcmp(r.unit, "round") == 0, blend = strcmp(r.unit, "blend") == 0;
            const int number = r.step > 0 ? r.step : r.epoch;
            const int of = options.algorithm != "blend" ? planned : round ? options.gbdt.rounds : options.epochs;
            // Boosting rounds are many and short: a NOTICE for the first evaluated, then one per ten rounds.
            if (round && noticed > 0 && number / 10 == noticed / 10) return;
            noticed = round ? number : 0;
            if (blend) {
                pg_guard([&] {
                    ereport(NOTICE, (errmsg("blend of the network and the trees: validation loss %.5f, pr_auc %.4f, "
                                            "roc_auc %.4f, precision %.4f, recall %.4f (%.1f s)",
                                            r.validation_loss, r.metrics.pr_auc, r.metrics.roc_auc,
                                            r.metrics.confusion.precision(), r.metrics.confusion.recall(), r.seconds)));
                });
                return;
            }
            pg_guard([&] {
                if (!data->label) {  // an autoencoder without labels: its losses are all it has
                    ereport(NOTICE, (errmsg("epoch %d/%d: reconstruction loss %.5f, validation %.5f (%.1f s)", r.epoch,
                                            planned, r.loss, r.validation_loss, r.seconds)));
                    return;
                }
                ereport(NOTICE,
                        (errmsg("%s %d/%d: loss %.5f, validation loss %.5f, pr_auc %.4f, roc_auc %.4f, "
                                "precision %.4f, recall %.4f (%.1f s)",
                                r.unit, number, of, r.loss, r.validation_loss, r.metrics.pr_auc, r.metrics.roc_auc,
                                r.metrics.confusion.precision(), r.metrics.confusion.recall(), r.seconds)));
            });
        };
        engine::Dataset dataset{data->features, data->label ? data->labels : nullptr, data->rows, data->n_features};
        dataset.order = data->order;
        run->result = engine::train(dataset, options, callbacks);
        run->baselines =
            engine::feature_baselines(data->features, data->rows, data->n_features, 50000, options.threads);
    });
}

// The histogram's counts as a JSON array.
void append_counts(StringInfo json, const char* key, const std::vector<int64_t>& counts) {
    appendStringInfo(json, "\"%s\": [", key);
    for (size_t i = 0; i < counts.size(); ++i)
        appendStringInfo(json, "%s" INT64_FORMAT, i ? ", " : "", int64(counts[i]));
    appendStringInfoChar(json, ']');
}

char* metrics_json(const TrainArguments& a, const engine::TrainResult& result, double days) {
    const engine::EpochReport& kept = result.final_epoch();
    const engine::Confusion& c = kept.metrics.confusion;
    StringInfoData json;
    initStringInfo(&json);
    if (!result.labelled) {
        // An autoencoder without labels (or whose evaluation rows hold one class): losses and threshold only.
        appendStringInfo(&json,
                         "{\"loss\": %.9g, \"validation_loss\": %.9g, \"labelled\": false, \"evaluated_on\": \"%s\", "
                         "\"best_epoch\": %d, \"epochs_run\": %d, \"stopped_early\": %s, \"score_us_per_row\": %.4g",
                         kept.loss, kept.validation_loss, result.metrics_on_training_rows ? "training" : "validation",
                         result.best_epoch, result.epochs_run(), result.stopped_early ? "true" : "false",
                         result.score_us_per_row);
        append_json_string(&json, "threshold_rule", a.threshold);
        if (days > 0) appendStringInfo(&json, ", \"days_spanned\": %.6g", days);
        appendStringInfoChar(&json, '}');
        return json.data;
    }
    appendStringInfo(&json,
                     "{\"loss\": %.9g, \"validation_loss\": %.9g, \"precision\": %.9g, \"recall\": %.9g, "
                     "\"f1\": %.9g, \"pr_auc\": %.9g, \"roc_auc\": %.9g, \"recall_at_precision_90\": %.9g, "
                     "\"tp\": " INT64_FORMAT ", \"fp\": " INT64_FORMAT ", \"tn\": " INT64_FORMAT
                     ", \"fn\": " INT64_FORMAT
                     ", \"evaluated_on\": \"%s\", \"best_epoch\": %d, \"epochs_run\": %d, \"stopped_early\": %s, "
                     "\"threshold_met\": %s, \"score_us_per_row\": %.4g",
                     kept.loss, kept.validation_loss, c.precision(), c.recall(), c.f1(), kept.metrics.pr_auc,
                     kept.metrics.roc_auc, kept.metrics.recall_at_precision_90, int64(c.tp), int64(c.fp), int64(c.tn),
                     int64(c.fn), result.metrics_on_training_rows ? "training" : "validation", result.best_epoch,
                     result.epochs_run(), result.stopped_early ? "true" : "false",
                     kept.metrics.threshold_met ? "true" : "false", result.score_us_per_row);
    append_json_string(&json, "threshold_rule", a.threshold);
    // A blend's epochs are its network's, then its trees' rounds numbered on, then its own: where they part.
    if (result.algorithm == "blend") appendStringInfo(&json, ", \"network_epochs\": %d", result.network_epochs);
    // The kept scores of each class on the same rows (the report's distributions), and the days the rows
    // span (its alerts a day), when known.
    appendStringInfoString(&json, ", \"score_histogram\": {");
    append_counts(&json, "fraud", result.histogram.positives);
    appendStringInfoString(&json, ", ");
    append_counts(&json, "legitimate", result.histogram.negatives);
    appendStringInfoChar(&json, '}');
    if (days > 0) appendStringInfo(&json, ", \"days_spanned\": %.6g", days);
    appendStringInfoChar(&json, '}');
    return json.data;
}

// A feature that alone separates the evaluation rows almost perfectly, or a first epoch that is already
// perfect, is most often a leak: a column known only after the fact (an outcome, a fraud case number), which
// the model learns and new rows do not have. Say so; the model is kept (it may be meant).
constexpr double kLeakSeparation = 0.99;

void warn_about_leaks(const engine::TrainResult& result, const CachedFeaturizer* featurizer, const char* model,
                      int version) {
    const std::vector<std::string>& names = featurizer->featurizer->output_names();
    const char* rows = result.metrics_on_training_rows ? "training" : "validation";
    StringInfoData leaking;
    initStringInfo(&leaking);
    int n_leaking = 0, first = -1;
    for (size_t f = 0; f < result.feature_separation.size() && f < names.size(); ++f) {
        if (result.feature_separation[f] < kLeakSeparation) continue;
        if (first < 0) first = int(f);
        if (++n_leaking <= 10)
            appendStringInfo(&leaking, "%s%s (%.4f)", n_leaking > 1 ? ", " : "", names[f].c_str(),
                             result.feature_separation[f]);
    }
    if (n_leaking > 0) {
        ereport(WARNING,
                (errmsg("feature \"%s\" alone separates the %s rows of model \"%s\" version %d (ROC-AUC %.4f)",
                        names[size_t(first)].c_str(), rows, model, version, result.feature_separation[size_t(first)]),
                 errdetail("Features that alone reach a ROC-AUC of %.2f or more: %s%s.", kLeakSeparation, leaking.data,
                           n_leaking > 10 ? ", ..." : ""),
                 errhint("A column known only after the fact (an outcome, a fraud case number) leaks the label into "
                         "the model, which then fails on new rows. Leave it out of the query, or set it to "
                         "\"ignore\" in the featurizer's columns.")));
        return;
    }
    if (!result.epochs.empty() && result.epochs[0].metrics.pr_auc >= 0.9999)
        ereport(WARNING, (errmsg("model \"%s\" version %d reaches a %s PR-AUC of %.4f at its first %s", model, version,
                                 rows, result.epochs[0].metrics.pr_auc, result.algorithm == "gbdt" ? "round" : "epoch"),
                          errhint("A perfect score that early usually means the label leaks through the features "
                                  "(a column known only after the fact). Check the query's columns.")));
}

// train(model, NULL, ...): the serving version's training query, run as the model's owner with the
// search_path stored beside it (as a view's query runs as the view's owner), and, unless another is named,
// the serving version's featurizer. Needs an SPI connection.
void use_stored_query(TrainArguments* a) {
    Datum name[1] = {CStringGetTextDatum(a->model)};
    execute_as_owner(psprintf("SELECT v.training_query, m.owner, f.name, %s FROM dendrite.serving_version($1) s "
                              "JOIN dendrite.model_versions v ON v.version_id = s.version_id "
                              "JOIN dendrite.models m ON m.model_id = v.model_id "
                              "JOIN dendrite.featurizers f ON f.featurizer_id = v.featurizer_id",
                              catalog_has_column("model_versions", "search_path") ? "v.search_path" : "NULL::text"),
                     1, oids({TEXTOID}), name);
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("query must not be null"),
                        errdetail("Model \"%s\" has no version whose training query could be reused.", a->model),
                        errhint("Pass the query of the rows to train on.")));
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    a->query = SPI_getvalue(row, descriptor, 1);
    const char* owner = SPI_getvalue(row, descriptor, 2);
    if (!a->query || !owner)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("the serving version of model \"%s\" has no training query or owner", a->model),
                        errdetail("Table dendrite.model_versions or dendrite.models was edited.")));
    if (!a->featurizer) a->featurizer = SPI_getvalue(row, descriptor, 3);
    a->search_path = SPI_getvalue(row, descriptor, 4);
    a->stored_query = true;
    a->query_rights = QueryRights{get_role_oid(owner, false), stored_search_path(a->search_path)};
}

// Writes the model, its featurizer version, the version, its parameters and epochs. Returns the version.
int store_version(const TrainArguments& a, const TrainRun& run, const char* device, int64 featurizer_id,
                  const TrainingData& data) {
    const engine::TrainResult& result = run.result;
    char* configuration = model_configuration_json(result);
    char* hyperparameters = nullptr;
    engine_call([&] {
        const std::string json = engine::train_options_json(run.options);
        hyperparameters = static_cast<char*>(palloc_or_throw(json.size() + 1));
        memcpy(hyperparameters, json.c_str(), json.size() + 1);
    });
    // The model row (created on first training); its lock serialises concurrent trainings of one model.
    // Its owner is checked again here: another role may have created the model since train began.
    char* caller = current_user_name();
    Datum model_values[3] = {CStringGetTextDatum(a.model), CStringGetTextDatum(configuration),
                             CStringGetTextDatum(caller)};
    execute_as_owner(
        "INSERT INTO dendrite.models AS m (name, configuration, owner) VALUES ($1, $2::jsonb, $3) "
        "ON CONFLICT (name) DO UPDATE SET configuration = EXCLUDED.configuration RETURNING m.model_id, m.owner",
        3, oids({TEXTOID, TEXTOID, TEXTOID}), model_values);
    bool isnull;
    const int64 model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    require_manager("model", a.model, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));

    Datum model_id_value[1] = {Int64GetDatum(model_id)};
    const int version = int(
        query_int64_as_owner("SELECT coalesce(max(version), 0) + 1 FROM dendrite.model_versions WHERE model_id = $1", 1,
                             oids({INT8OID}), model_id_value));
    const bool with_path = catalog_has_column("model_versions", "search_path");
    Datum version_values[16] = {Int64GetDatum(model_id),
                                Int32GetDatum(version),
                                Int64GetDatum(featurizer_id),
                                CStringGetTextDatum(a.query),
                                a.label ? CStringGetTextDatum(a.label) : Datum(0),
                                CStringGetTextDatum(a.algorithm),
                                CStringGetTextDatum(configuration),
                                CStringGetTextDatum(hyperparameters),
                                CStringGetTextDatum(metrics_json(a, result, training_days(&data))),
                                Float8GetDatum(result.final_epoch().metrics.threshold),
                                CStringGetTextDatum(device),
                                Int64GetDatum(int64(result.training_rows)),
                                Int64GetDatum(int64(result.validation_rows)),
                                Float8GetDatum(result.seconds),
                                CStringGetTextDatum(caller),
                                a.search_path ? CStringGetTextDatum(a.search_path) : Datum(0)};
    const char version_nulls[16] = {' ', ' ', ' ', ' ', a.label ? ' ' : 'n',      ' ', ' ', ' ', ' ', ' ', ' ',
                                    ' ', ' ', ' ', ' ', a.search_path ? ' ' : 'n'};
    // The search_path column since 0.5.0.
    execute_as_owner(
        psprintf("INSERT INTO dendrite.model_versions (model_id, version, featurizer_id, training_query, label_column, "
                 "algorithm, configuration, hyperparameters, metrics, threshold, device, training_rows, "
                 "validation_rows, seconds, "
                 "trained_by%s) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12, $13, "
                 "$14, $15%s) "
                 "RETURNING version_id",
                 with_path ? ", search_path" : "", with_path ? ", $16" : ""),
        with_path ? 16 : 15,
        oids({INT8OID, INT4OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, TEXTOID,
              INT8OID, INT8OID, FLOAT8OID, TEXTOID, TEXTOID}),
        version_values, version_nulls);
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not store version %d of model \"%s\"", version, a.model)));
    const int64 version_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

    const engine::Featurizer* featurizer = featurizer_by_id(featurizer_id)->featurizer;
    write_model_rows(version_id, result, run.baselines, featurizer->output_names());  // unlabelled: NULL metrics
    write_validation_importance(version_id, result, run.baselines, featurizer, data.features, data.n_features);
    return version;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

// dendrite.internal_check_training_settings(<train's arguments>): the checks train makes of its arguments before
// it reads a row (read_arguments, then the engine's parse_train_options), and nothing else: tune runs each
// candidate's settings through it before the first trial trains.
DENDRITE_FUNCTION(dendrite_check_training_settings) {
    TrainArguments arguments = read_arguments(fcinfo);
    const char* named_arguments = arguments_json(arguments);
    engine_call([&] { (void)dendrite::engine::parse_train_options(named_arguments, arguments.options); });
    PG_RETURN_VOID();
}

DENDRITE_FUNCTION(dendrite_train) {
    refuse_on_replica_catalog("train");  // before any row is read
    TrainArguments arguments = read_arguments(fcinfo);
    if (device_is_required(arguments.device)) require_gpu();  // before reading rows
    MemoryContext function_context = CurrentMemoryContext;
    // The settings, parsed once (bad ones are rejected before any row is read).
    const char* named_arguments = arguments_json(arguments);
    TrainRun* run = create_owned<TrainRun>(function_context, [&] {
        auto created = std::make_unique<TrainRun>();
        created->options = dendrite::engine::parse_train_options(named_arguments, arguments.options);
        return created.release();
    });
    const int planned_epochs = run->options.planned_epochs();
    const int threads = run->options.threads;

    TupleDesc result_descriptor;
    if (get_call_result_type(fcinfo, nullptr, &result_descriptor) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("dendrite.train must return a composite type")));
    result_descriptor = BlessTupleDesc(result_descriptor);

    TrainingData data;
    memset(&data, 0, sizeof data);
    data.data_context = function_context;
    data.label = arguments.label;
    data.split_column = arguments.split_column;
    data.budget_bytes = size_t(training_memory_kb) * 1024;
    connect_spi();
    require_model_manager(arguments.model);  // before any row is read
    if (arguments.query)
        arguments.search_path = search_path_to_store();  // the caller's query resolves names in the caller's path
    else
        use_stored_query(&arguments);
    const QueryRights* query_rights = arguments.stored_query ? &arguments.query_rights : nullptr;
    // The featurizer: the latest version of the one named, or a new one fitted on the query, named after
    // the model. Either way the version is pinned to the model version.
    int64 featurizer_id;
    if (arguments.featurizer) {
        featurizer_id = latest_featurizer(arguments.featurizer)->featurizer_id;
    } else {
        // Every row of the automatic featurizer's pass is a training row (its history, when the data gave it
        // one, starts with the first row): nothing comes before since.
        if (arguments.since != DT_NOBEGIN)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since needs a featurizer with history features"),
                     errhint("Without history, filter the rows in the query instead.")));
        const FitObserver keep{keep_started, keep_row, take_kept_rows, &data, threads};
        featurizer_id = fit_featurizer(arguments.model, arguments.query, nullptr, nullptr, nullptr, arguments.label,
                                       "error", DT_NOBEGIN, nullptr, "training query", &keep);
    }
    with_stored_query_rights(
        query_rights, [&] { check_query_columns(describe_query(arguments.query, "training query"), arguments.label); });
    const CachedFeaturizer* featurizer = featurizer_by_id(featurizer_id);
    for (const auto& column : featurizer->featurizer->spec().columns)
        if (arguments.label && strcmp(column.name.c_str(), arguments.label) == 0)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("label column \"%s\" is a feature of featurizer \"%s\"", arguments.label, featurizer->name),
                     errhint("Create the featurizer with label => '%s' so that it leaves the label out.",
                             arguments.label)));
    data.n_features = featurizer->n_outputs;
    data.time_column = featurizer->time_column;
    {
        const auto& index_outputs = featurizer->featurizer->index_outputs();
        data.n_index_features = int(index_outputs.size());
        data.index_feature = static_cast<int*>(palloc(sizeof(int) * (index_outputs.size() + 1)));
        data.index_rows = static_cast<int*>(palloc(sizeof(int) * (index_outputs.size() + 1)));
        for (size_t i = 0; i < index_outputs.size(); ++i) {
            data.index_feature[i] = index_outputs[i].output;
            data.index_rows[i] = index_outputs[i].rows;
        }
    }
    const DeviceChoice device =
        choose_device(arguments.device, run->options, data.n_index_features, data.index_feature);
    if (data.kept_context)
        featurize_kept_rows(&data, featurizer, threads);
    else
        with_stored_query_rights(query_rights, [&] {
            // Featurized on a second thread while this one reads (the same features), unless train may use
            // one thread only.
            const PipelinedEmit pipelined{collect_training_label, threads == 1};
            offline_pass(featurizer, arguments.query, arguments.since, collect_training_features, &data,
                         expect_training_rows, nullptr, restart_training_rows, &pipelined);
        });
    if (data.rows == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the training query returned no rows")));
    progress_begin(arguments.model, arguments.algorithm, planned_epochs, int64(data.rows));
    MemoryContext spi_context = MemoryContextSwitchTo(function_context);
    run_engine(run, &data, device);
    MemoryContextSwitchTo(spi_context);
    CHECK_FOR_INTERRUPTS();
    const int version = store_version(arguments, *run, device.name, featurizer_id, data);
    const dendrite::engine::TrainResult& result = run->result;
    if (result.labelled) warn_about_leaks(result, featurizer, arguments.model, version);
    finish_spi();
    // Metrics on the training rows flatter a model that memorizes them (gbdt's PR-AUC near 1), and a
    // leaderboard of such metrics picks that model: say so where it happens. Asked for (no validation rows)
    // it is a NOTICE; a split whose validation rows hold one class did not ask for it: a WARNING.
    if (result.metrics_on_training_rows && result.labelled) {
        const bool asked = result.validation_rows == 0;
        ereport(asked ? NOTICE : WARNING,
                (errmsg("the metrics of version %d of model \"%s\" are measured on its training rows", version,
                        arguments.model),
                 asked ? errdetail("There are no validation rows (validation_fraction is 0).")
                       : errdetail("The %lld validation rows hold only one class.", (long long)result.validation_rows),
                 errhint("Such metrics favour a model that memorizes its rows. To compare models or choose a "
                         "threshold, keep validation rows of both classes (validation_fraction, or split_column "
                         "for a split by time).")));
    }

    const dendrite::engine::EpochReport& kept = result.final_epoch();
    const dendrite::engine::Confusion& c = kept.metrics.confusion;
    Datum values[17] = {Int32GetDatum(version),
                        Int32GetDatum(result.epochs_run()),
                        Float8GetDatum(kept.loss),
                        Float8GetDatum(kept.validation_loss),
                        Float8GetDatum(c.precision()),
                        Float8GetDatum(c.recall()),
                        Float8GetDatum(c.f1()),
                        Float8GetDatum(kept.metrics.pr_auc),
                        Float8GetDatum(kept.metrics.roc_auc),
                        Int64GetDatum(int64(c.tp)),
                        Int64GetDatum(int64(c.fp)),
                        Int64GetDatum(int64(c.tn)),
                        Int64GetDatum(int64(c.fn)),
                        Float8GetDatum(kept.metrics.threshold),
                        Float8GetDatum(result.seconds),
                        CStringGetTextDatum(device.name),
                        Int32GetDatum(result.best_epoch)};
    bool nulls[17] = {};
    if (!result.labelled)  // precision .. fn mean nothing without labels; the threshold does
        for (int column = 4; column <= 12; ++column) nulls[column] = true;
    // The 0.1.0 result type has no best_epoch: fill what the declared type has.
    if (result_descriptor->natts != 16 && result_descriptor->natts != 17)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("dendrite.training_result has an unexpected shape"),
                        errhint("Run ALTER EXTENSION dendrite UPDATE.")));
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_descriptor, values, nulls)));
}
