// dendrite.train: query -> cursor read in batches -> one float matrix -> engine -> parameters as rows.
#include "engine/trainer.hpp"
#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/featurize.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/values.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dendrite::pg {

namespace {

// The arguments, as plain data (no object with a destructor may outlive an engine_call).
struct TrainArguments {
    char* model;
    char* query;
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
};

// The featurized rows of the training query (row-major) and their labels, palloc'd in data_context.
struct TrainingData {
    MemoryContext data_context;
    const char* label;
    int label_attnum;  // 0 until the first row
    Oid label_type;
    int n_features;
    float* features;
    float* labels;
    size_t rows;
    size_t capacity;
};

struct EpochRow {
    int epoch;
    double loss, validation_loss, precision, recall, f1, pr_auc, roc_auc, threshold, seconds;
    int64 tp, fp, tn, fn;
};

// What the engine produced, copied into palloc'd memory before leaving engine_call.
struct TrainOutput {
    int n_layers;
    int* units;
    engine::Activation* activations;
    float* parameters;
    int n_epochs;
    EpochRow* epochs;
    int64 training_rows, validation_rows;
    bool metrics_on_training_rows;
    double seconds;
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
    a.query = required_text_argument(fcinfo, 1, "query");
    a.label = required_text_argument(fcinfo, 2, "label");
    a.algorithm = required_text_argument(fcinfo, 3, "algorithm");
    if (PG_ARGISNULL(4))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("hidden must not be null"),
                        errhint("Use '{}' with algorithm => 'logistic_regression' for no hidden layer.")));
    ArrayType* hidden = PG_GETARG_ARRAYTYPE_P(4);
    if (ARR_NDIM(hidden) > 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("hidden must be a one-dimensional array")));
    if (array_contains_nulls(hidden))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("hidden must not contain nulls")));
    a.hidden_count = ArrayGetNItems(ARR_NDIM(hidden), ARR_DIMS(hidden));
    a.hidden = reinterpret_cast<int*>(ARR_DATA_PTR(hidden));
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
    return a;
}

engine::TrainOptions to_options(const TrainArguments& a) {
    engine::TrainOptions options;
    options.algorithm = a.algorithm;
    options.hidden.assign(a.hidden, a.hidden + a.hidden_count);
    options.activation = a.activation;
    options.epochs = a.epochs;
    options.batch_size = a.batch_size;
    options.optimizer.kind = a.optimizer;
    options.optimizer.learning_rate = a.learning_rate;
    options.class_weight = engine::ClassWeight::parse(a.class_weight);
    options.validation_fraction = a.validation_fraction;
    options.seed = uint64_t(a.seed);
    options.validate();
    engine::Optimizer::create(options.optimizer, 1);  // validates the optimizer's settings
    return options;
}

// 'auto' and 'cpu' train on the CPU; the GPU backend is not part of this version.
const char* resolve_device(const char* device) {
    if (strcmp(device, "cpu") == 0 || strcmp(device, "auto") == 0) return "cpu";
    if (strcmp(device, "cuda") == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("training on the GPU is not supported yet"),
                        errdetail("This build of dendrite has no GPU training backend."),
                        errhint("Use device => 'cpu' or device => 'auto'.")));
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown device \"%s\"", device),
                    errhint("Use 'auto', 'cpu' or 'cuda'.")));
    return nullptr;
}

// Receives each featurized row of the offline pass, with its label from the same tuple.
void collect_training_row(void* context, const float* features, HeapTuple tuple, TupleDesc descriptor) {
    auto* data = static_cast<TrainingData*>(context);
    if (data->label_attnum == 0) {
        data->label_attnum = SPI_fnumber(descriptor, data->label);
        if (data->label_attnum <= 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("label column \"%s\" is not in the result of the training query", data->label)));
        const Oid type = getBaseType(SPI_gettypeid(descriptor, data->label_attnum));
        if (!is_feature_type(type))
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("label column \"%s\" has type %s", data->label, format_type_be(type)),
                            errhint("The label must be boolean or a number that is 0 or 1.")));
        data->label_type = type;
    }
    if (data->rows == data->capacity) {
        const size_t capacity = data->capacity ? data->capacity * 2 : 65536;
        MemoryContext old = MemoryContextSwitchTo(data->data_context);
        data->features = static_cast<float*>(
            data->features ? repalloc_huge(data->features, capacity * data->n_features * sizeof(float))
                           : palloc_extended(capacity * data->n_features * sizeof(float), MCXT_ALLOC_HUGE));
        data->labels = static_cast<float*>(data->labels ? repalloc_huge(data->labels, capacity * sizeof(float))
                                                        : palloc_extended(capacity * sizeof(float), MCXT_ALLOC_HUGE));
        MemoryContextSwitchTo(old);
        data->capacity = capacity;
    }
    bool isnull;
    const Datum value = SPI_getbinval(tuple, descriptor, data->label_attnum, &isnull);
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("label column \"%s\" is null in row %zu of the training query", data->label, data->rows + 1),
                        errhint("Filter unlabelled rows out with WHERE %s IS NOT NULL.", data->label)));
    const double label = feature_value(value, data->label_type);
    if (label != 0.0 && label != 1.0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("label column \"%s\" must be 0 or 1, found %g in row %zu", data->label, label, data->rows + 1)));
    data->labels[data->rows] = float(label);
    memcpy(data->features + data->rows * data->n_features, features, sizeof(float) * data->n_features);
    data->rows++;
}

bool should_stop() { return QueryCancelPending || ProcDiePending; }

// Trains inside the engine and copies the result into palloc'd memory (current context).
void run_engine(const TrainArguments& arguments, TrainingData* data, TrainOutput* out) {
    engine_call([&] {
        const engine::TrainOptions options = to_options(arguments);

        engine::TrainCallbacks callbacks;
        callbacks.should_stop = should_stop;
        callbacks.on_epoch = [&](const engine::EpochReport& r) {
            pg_guard([&] {
                ereport(NOTICE, (errmsg("epoch %d/%d: loss %.5f, validation loss %.5f, pr_auc %.4f, roc_auc %.4f, "
                                        "precision %.4f, recall %.4f (%.1f s)",
                                        r.epoch, options.epochs, r.loss, r.validation_loss, r.metrics.pr_auc,
                                        r.metrics.roc_auc, r.metrics.confusion.precision(),
                                        r.metrics.confusion.recall(), r.seconds)));
            });
        };
        const engine::Dataset dataset{data->features, data->labels, data->rows, data->n_features};
        const engine::TrainResult result = engine::train(dataset, options, callbacks);

        out->n_layers = int(result.spec.layers.size());
        out->units = static_cast<int*>(palloc_or_throw(sizeof(int) * out->n_layers));
        out->activations = static_cast<engine::Activation*>(palloc_or_throw(sizeof(engine::Activation) * out->n_layers));
        for (int l = 0; l < out->n_layers; ++l) {
            out->units[l] = result.spec.layers[l].units;
            out->activations[l] = result.spec.layers[l].activation;
        }
        out->parameters = static_cast<float*>(palloc_or_throw(sizeof(float) * result.parameters.size()));
        std::copy(result.parameters.begin(), result.parameters.end(), out->parameters);
        out->n_epochs = int(result.epochs.size());
        out->epochs = static_cast<EpochRow*>(palloc_or_throw(sizeof(EpochRow) * out->n_epochs));
        for (int e = 0; e < out->n_epochs; ++e) {
            const engine::EpochReport& r = result.epochs[e];
            const engine::Confusion& c = r.metrics.confusion;
            out->epochs[e] = EpochRow{r.epoch,       r.loss,         r.validation_loss,   c.precision(),
                                      c.recall(),    c.f1(),         r.metrics.pr_auc,    r.metrics.roc_auc,
                                      r.metrics.threshold, r.seconds, c.tp, c.fp, c.tn, c.fn};
        }
        out->training_rows = int64(result.training_rows);
        out->validation_rows = int64(result.validation_rows);
        out->metrics_on_training_rows = result.metrics_on_training_rows;
        out->seconds = result.seconds;
    });
}

char* configuration_json(const TrainOutput& out) {
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfoString(&json, "{\"layers\": [");
    for (int l = 0; l < out.n_layers; ++l)
        appendStringInfo(&json, "%s{\"dense\": %d, \"activation\": \"%s\"}", l ? ", " : "", out.units[l],
                         engine::activation_name(out.activations[l]));
    appendStringInfoString(&json, "]}");
    return json.data;
}

char* hyperparameters_json(const TrainArguments& a, const char* device) {
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfo(&json, "{\"algorithm\": \"%s\", \"hidden\": [", a.algorithm);
    for (int i = 0; i < a.hidden_count; ++i) appendStringInfo(&json, "%s%d", i ? ", " : "", a.hidden[i]);
    appendStringInfo(&json,
                     "], \"activation\": \"%s\", \"epochs\": %d, \"batch_size\": %d, \"learning_rate\": %.17g, "
                     "\"optimizer\": \"%s\", \"class_weight\": \"%s\", \"validation_fraction\": %.17g, "
                     "\"seed\": " INT64_FORMAT ", \"device\": \"%s\"}",
                     a.activation, a.epochs, a.batch_size, a.learning_rate, a.optimizer, a.class_weight,
                     a.validation_fraction, a.seed, device);
    return json.data;
}

char* metrics_json(const TrainOutput& out) {
    const EpochRow& e = out.epochs[out.n_epochs - 1];
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfo(&json,
                     "{\"loss\": %.9g, \"validation_loss\": %.9g, \"precision\": %.9g, \"recall\": %.9g, "
                     "\"f1\": %.9g, \"pr_auc\": %.9g, \"roc_auc\": %.9g, \"tp\": " INT64_FORMAT
                     ", \"fp\": " INT64_FORMAT ", \"tn\": " INT64_FORMAT ", \"fn\": " INT64_FORMAT
                     ", \"evaluated_on\": \"%s\"}",
                     e.loss, e.validation_loss, e.precision, e.recall, e.f1, e.pr_auc, e.roc_auc, e.tp, e.fp, e.tn,
                     e.fn, out.metrics_on_training_rows ? "training" : "validation");
    return json.data;
}

// Writes the model, its featurizer version, the version, its parameters and epochs. Returns the version.
int store_version(const TrainArguments& a, const TrainingData& data, const TrainOutput& out, const char* device,
                  int64 featurizer_id) {
    // The model row (created on first training); its lock serialises concurrent trainings of one model.
    Datum model_values[2] = {CStringGetTextDatum(a.model), CStringGetTextDatum(configuration_json(out))};
    const int64 model_id = query_int64(
        "INSERT INTO dendrite.models AS m (name, configuration) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET configuration = EXCLUDED.configuration RETURNING m.model_id",
        2, oids({TEXTOID, TEXTOID}), model_values);

    Datum model_id_value[1] = {Int64GetDatum(model_id)};
    const int version = int(query_int64(
        "SELECT coalesce(max(version), 0) + 1 FROM dendrite.model_versions WHERE model_id = $1", 1,
        oids({INT8OID}), model_id_value));
    const EpochRow& last = out.epochs[out.n_epochs - 1];
    Datum version_values[15] = {Int64GetDatum(model_id),
                                Int32GetDatum(version),
                                Int64GetDatum(featurizer_id),
                                CStringGetTextDatum(a.query),
                                CStringGetTextDatum(a.label),
                                CStringGetTextDatum(a.algorithm),
                                CStringGetTextDatum(configuration_json(out)),
                                CStringGetTextDatum(hyperparameters_json(a, device)),
                                CStringGetTextDatum(metrics_json(out)),
                                Float8GetDatum(last.threshold),
                                CStringGetTextDatum(device),
                                Int64GetDatum(out.training_rows),
                                Int64GetDatum(out.validation_rows),
                                Float8GetDatum(out.seconds),
                                (Datum)0};
    const int64 version_id = query_int64(
        "INSERT INTO dendrite.model_versions (model_id, version, featurizer_id, training_query, label_column, "
        "algorithm, configuration, hyperparameters, metrics, threshold, device, training_rows, validation_rows, seconds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14) "
        "RETURNING version_id",
        14,
        oids({INT8OID, INT4OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, TEXTOID,
                INT8OID, INT8OID, FLOAT8OID}),
        version_values);

    // One row per named tensor: dense_<l>.kernel {inputs, units} and dense_<l>.bias {units}.
    SPIPlanPtr insert_parameter = prepare(
        "INSERT INTO dendrite.parameters (version_id, layer_index, layer, name, shape, value) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        6, oids({INT8OID, INT4OID, TEXTOID, TEXTOID, INT4ARRAYOID, FLOAT4ARRAYOID}));
    const float* parameters = out.parameters;
    int inputs = data.n_features;
    for (int l = 0; l < out.n_layers; ++l) {
        const int units = out.units[l];
        char* layer = psprintf("dense_%d", l);
        const int kernel_shape[2] = {inputs, units};
        Datum kernel[6] = {Int64GetDatum(version_id),         Int32GetDatum(l),
                           CStringGetTextDatum(layer),         CStringGetTextDatum("kernel"),
                           PointerGetDatum(int4_array(kernel_shape, 2)),
                           PointerGetDatum(float4_array(parameters, size_t(inputs) * units))};
        execute_plan(insert_parameter, kernel);
        parameters += size_t(inputs) * units;
        Datum bias[6] = {Int64GetDatum(version_id),          Int32GetDatum(l),
                         CStringGetTextDatum(layer),          CStringGetTextDatum("bias"),
                         PointerGetDatum(int4_array(&units, 1)), PointerGetDatum(float4_array(parameters, units))};
        execute_plan(insert_parameter, bias);
        parameters += units;
        inputs = units;
    }

    SPIPlanPtr insert_epoch = prepare(
        "INSERT INTO dendrite.epochs (version_id, epoch, loss, validation_loss, precision, recall, f1, pr_auc, "
        "roc_auc, tp, fp, tn, fn, threshold, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15)",
        15,
        oids({INT8OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
                INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, FLOAT8OID}));
    for (int e = 0; e < out.n_epochs; ++e) {
        const EpochRow& r = out.epochs[e];
        Datum values[15] = {Int64GetDatum(version_id), Int32GetDatum(r.epoch),   Float8GetDatum(r.loss),
                            Float8GetDatum(r.validation_loss), Float8GetDatum(r.precision), Float8GetDatum(r.recall),
                            Float8GetDatum(r.f1),      Float8GetDatum(r.pr_auc), Float8GetDatum(r.roc_auc),
                            Int64GetDatum(r.tp),       Int64GetDatum(r.fp),      Int64GetDatum(r.tn),
                            Int64GetDatum(r.fn),       Float8GetDatum(r.threshold), Float8GetDatum(r.seconds)};
        execute_plan(insert_epoch, values);
    }
    return version;
}

}  // namespace

}  // namespace dendrite::pg

using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_train) {
    const TrainArguments arguments = read_arguments(fcinfo);
    const char* device = resolve_device(arguments.device);
    engine_call([&] { to_options(arguments); });  // reject bad settings before reading any row

    TupleDesc result_descriptor;
    if (get_call_result_type(fcinfo, nullptr, &result_descriptor) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("dendrite.train must return a composite type")));
    result_descriptor = BlessTupleDesc(result_descriptor);

    MemoryContext function_context = CurrentMemoryContext;
    TrainingData data;
    memset(&data, 0, sizeof data);
    data.data_context = function_context;
    data.label = arguments.label;
    TrainOutput out;
    connect_spi();
    // The featurizer: the latest version of the one named, or a new one fitted on the query, named after
    // the model. Either way the version is pinned to the model version.
    int64 featurizer_id;
    if (arguments.featurizer) {
        featurizer_id = latest_featurizer(arguments.featurizer)->featurizer_id;
    } else {
        featurizer_id = fit_featurizer(arguments.model, arguments.query, nullptr, nullptr, arguments.label, "error",
                                       DT_NOBEGIN, nullptr, "training query");
    }
    check_query_columns(describe_query(arguments.query, "training query"), arguments.label);
    const CachedFeaturizer* featurizer = featurizer_by_id(featurizer_id);
    for (const auto& column : featurizer->featurizer->spec().columns)
        if (strcmp(column.name.c_str(), arguments.label) == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("label column \"%s\" is a feature of featurizer \"%s\"", arguments.label, featurizer->name),
                            errhint("Create the featurizer with label => '%s' so that it leaves the label out.", arguments.label)));
    data.n_features = featurizer->n_outputs;
    offline_pass(featurizer, arguments.query, arguments.since, collect_training_row, &data);
    if (data.rows == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the training query returned no rows")));
    MemoryContext spi_context = MemoryContextSwitchTo(function_context);
    run_engine(arguments, &data, &out);
    MemoryContextSwitchTo(spi_context);
    CHECK_FOR_INTERRUPTS();
    const int version = store_version(arguments, data, out, device, featurizer_id);
    finish_spi();

    const EpochRow& last = out.epochs[out.n_epochs - 1];
    Datum values[16] = {Int32GetDatum(version),       Int32GetDatum(out.n_epochs), Float8GetDatum(last.loss),
                        Float8GetDatum(last.validation_loss), Float8GetDatum(last.precision),
                        Float8GetDatum(last.recall), Float8GetDatum(last.f1), Float8GetDatum(last.pr_auc),
                        Float8GetDatum(last.roc_auc), Int64GetDatum(last.tp), Int64GetDatum(last.fp),
                        Int64GetDatum(last.tn),       Int64GetDatum(last.fn), Float8GetDatum(last.threshold),
                        Float8GetDatum(out.seconds), CStringGetTextDatum(device)};
    bool nulls[16] = {};
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_descriptor, values, nulls)));
}
