#include "pg/training_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/parallel.hpp"
#include "pg/boundary.hpp"
#include "pg/featurize.hpp"
#include "pg/row_binding.hpp"
#include "pg/settings.hpp"
#include "pg/values.hpp"

extern "C" {
#include "utils/date.h"
}

namespace dendrite::pg {

namespace {

// Bytes one training row costs: features, label, order key, and a kept raw row while there is one.
size_t training_row_bytes(const TrainingData* data) {
    const int features = data->n_features ? data->n_features : data->estimated_features;
    return sizeof(float) * (size_t(features) + 1) + (data->split_column ? sizeof(double) : 0) +
           data->kept_bytes_per_row;
}

// What rows count against dendrite.training_memory: the rows as the engine will hold them, plus its working
// copies (the split's row lists, gathered batches; xgboost's own matrices for gbdt), about twice the matrix.
size_t counted_training_bytes(const TrainingData* data, size_t rows) { return 2 * rows * training_row_bytes(data); }

// 53200 unless rows fit in dendrite.training_memory.
void check_training_memory(const TrainingData* data, size_t rows) {
    const size_t needed = counted_training_bytes(data, rows);
    if (needed <= data->budget_bytes) return;
    ereport(
        ERROR,
        (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("the training data does not fit in dendrite.training_memory"),
         data->n_features ? errdetail("%zu rows of %d features need about %zu MB; dendrite.training_memory is %d MB.",
                                      rows, data->n_features, needed >> 20, training_memory_kb >> 10)
                          : errdetail("%zu rows of %d columns need about %zu MB; dendrite.training_memory is %d MB.",
                                      rows, data->estimated_features, needed >> 20, training_memory_kb >> 10),
         errhint("Train on fewer rows (a WHERE clause or TABLESAMPLE in the query), or raise "
                 "dendrite.training_memory if the machine has the memory.")));
}

}  // namespace

size_t training_memory_headroom(const TrainingData* data) {
    const size_t held = counted_training_bytes(data, data->rows);
    return data->budget_bytes > held ? data->budget_bytes - held : 0;
}

namespace {

// Appends a row's label (and order key) to data, growing its arrays within the memory budget; the caller
// fills the row's features (at data->rows - 1). Returns nothing: errors are ERRORs naming the row.
void collect_label(TrainingData* data, TupleTableSlot* slot) {
    TupleDesc descriptor = slot->tts_tupleDescriptor;
    if (data->label_attnum == 0 && data->label)  // an autoencoder may train without one
        data->label_attnum = label_column(descriptor, data->label, "the training query", nullptr, &data->label_type);
    if (data->split_column && data->split_attnum == 0) {
        data->split_attnum = SPI_fnumber(descriptor, data->split_column);
        if (data->split_attnum <= 0)
            ereport(ERROR,
                    (errcode(ERRCODE_UNDEFINED_COLUMN),
                     errmsg("split column \"%s\" is not in the result of the training query", data->split_column)));
        const Oid type = getBaseType(SPI_gettypeid(descriptor, data->split_attnum));
        if (!is_feature_type(type) && type != TIMESTAMPOID && type != TIMESTAMPTZOID && type != DATEOID)
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("split column \"%s\" has type %s", data->split_column, format_type_be(type)),
                            errhint("A time-ordered split needs a timestamp, date or numeric column.")));
        data->split_type = type;
    }
    if (data->rows == data->capacity) {
        const size_t capacity = data->capacity ? data->capacity * 2 : std::max<size_t>(65536, data->expected_rows);
        const size_t row_bytes = training_row_bytes(data);
        check_training_memory(data, data->rows + 1);
        const size_t affordable = std::max(data->rows + 1, std::min(capacity, data->budget_bytes / (2 * row_bytes)));
        MemoryContext old = MemoryContextSwitchTo(data->data_context);
        auto grow = [&](void* pointer, size_t element) {
            return pointer ? repalloc_huge(pointer, affordable * element)
                           : palloc_extended(affordable * element, MCXT_ALLOC_HUGE);
        };
        if (!data->kept_context)  // kept rows are featurized once the pass is over
            data->features = static_cast<float*>(grow(data->features, sizeof(float) * data->n_features));
        data->labels = static_cast<float*>(grow(data->labels, sizeof(float)));
        if (data->split_column) data->order = static_cast<double*>(grow(data->order, sizeof(double)));
        MemoryContextSwitchTo(old);
        data->capacity = affordable;
    }
    if (data->split_column) {
        const Datum key = slot->tts_values[data->split_attnum - 1];
        if (slot->tts_isnull[data->split_attnum - 1])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("split column \"%s\" is null in row %zu of the training query", data->split_column,
                                   data->rows + 1),
                            errhint("A time-ordered split needs every row's time; filter nulls out in the query.")));
        double order;
        if (data->split_type == TIMESTAMPOID || data->split_type == TIMESTAMPTZOID)
            order = double(DatumGetTimestamp(key));
        else if (data->split_type == DATEOID)
            order = double(DatumGetDateADT(key));
        else
            order = feature_value(key, data->split_type);
        if (std::isnan(order))
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                            errmsg("split column \"%s\" is NaN in row %zu of the training query", data->split_column,
                                   data->rows + 1)));
        data->order[data->rows] = order;
    }
    if (data->time_column && data->time_attnum == 0) {
        data->time_attnum = SPI_fnumber(descriptor, data->time_column);
        if (data->time_attnum > 0) data->time_type = getBaseType(SPI_gettypeid(descriptor, data->time_attnum));
        if (data->time_attnum <= 0 || (data->time_type != TIMESTAMPOID && data->time_type != TIMESTAMPTZOID))
            data->time_attnum = -1;
    }
    if (data->time_attnum > 0 && !slot->tts_isnull[data->time_attnum - 1]) {
        const int64 time = DatumGetTimestamp(slot->tts_values[data->time_attnum - 1]);
        if (!TIMESTAMP_NOT_FINITE(time)) {
            data->first_time = data->have_time ? std::min(data->first_time, time) : time;
            data->last_time = data->have_time ? std::max(data->last_time, time) : time;
            data->have_time = true;
        }
    }
    if (data->label)
        data->labels[data->rows] = float(
            label_value(slot, data->label_attnum, data->label_type, data->label, data->rows + 1, "the training query"));
    data->rows++;
}

}  // namespace

// Sizes the first allocation from the planner's estimate: growing by doubling copies the rows again and
// touches fresh pages each time, a third of the reading time on 500k rows.
void expect_training_rows(void* context, double estimated_rows) {
    auto* data = static_cast<TrainingData*>(context);
    if (estimated_rows > 0 && estimated_rows < 1e10) data->expected_rows = size_t(estimated_rows * 1.05) + 1024;
}

// The offline pass read rows out of time order and reads the query again, sorted: the rows collected so
// far are forgotten (their arrays are kept, to be written again).
void restart_training_rows(void* context) {
    auto* data = static_cast<TrainingData*>(context);
    data->rows = 0;
    data->featurized = 0;
    data->have_time = false;
    data->first_time = data->last_time = 0;
}

// The offline pass's rows (pipelined): each row's label as it is read, and its features once featurized.
void collect_training_label(void* context, TupleTableSlot* slot) {
    collect_label(static_cast<TrainingData*>(context), slot);
}

void collect_training_features(void* context, const float* features, TupleTableSlot*) {
    auto* data = static_cast<TrainingData*>(context);
    if (data->featurized >= data->rows)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("the pass featurized more rows than it read (%zu)", data->rows)));
    memcpy(data->features + data->featurized * data->n_features, features, sizeof(float) * data->n_features);
    ++data->featurized;
}

// train's automatic featurizer in one pass over the query: the fit pass keeps every row's raw inputs
// (compactly, engine::RawRows), label and order key, and the rows are featurized from memory once the
// featurizer is fitted. A second pass would run the query again: a third of the statement's time on a
// 500k-row table (docs/benchmarks.md).
// The fit keeps the raw rows itself, on its helper thread (featurize.hpp's FitObserver): here, each row's
// label and order key as it is read, then the kept rows once the pass is over.
size_t keep_started(void* context, TupleDesc, double estimated_rows, int n_inputs) {
    auto* data = static_cast<TrainingData*>(context);
    expect_training_rows(data, estimated_rows);
    data->kept_bytes_per_row = size_t(n_inputs) * engine::RawRows::kBytesPerValue;
    data->estimated_features = n_inputs;  // until the featurizer is fitted: for the memory budget
    data->kept_context = AllocSetContextCreate(data->data_context, "dendrite kept rows", ALLOCSET_SMALL_SIZES);
    // Room for the planner's estimate, never beyond what the budget allows (estimates can be far off).
    return std::min(data->expected_rows, data->budget_bytes / (2 * training_row_bytes(data)));
}

void keep_row(void* context, const engine::RawValue*, TupleTableSlot* slot) {
    collect_label(static_cast<TrainingData*>(context), slot);
}

void take_kept_rows(void* context, engine::RawRows* kept) {
    auto* data = static_cast<TrainingData*>(context);
    if (!kept) return;                         // no row was read
    own_in_context(data->kept_context, kept);  // owned before anything else can fail
    data->kept = kept;
    if (kept->size() != data->rows)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("the fit pass kept %zu rows of %zu read", kept->size(), data->rows)));
}

void featurize_kept_rows(TrainingData* data, const CachedFeaturizer* featurizer, int threads) {
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    if (!data->kept || size_t(featurizer->n_inputs) != data->kept->width())
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR), errmsg("the stored featurizer has %d inputs, the fit pass kept %zu",
                                                         featurizer->n_inputs, data->kept ? data->kept->width() : 0)));
    check_training_memory(data, data->rows);
    MemoryContext old = MemoryContextSwitchTo(data->data_context);
    data->features = static_cast<float*>(
        palloc_extended(std::max<size_t>(data->rows, 1) * sizeof(float) * data->n_features, MCXT_ALLOC_HUGE));
    MemoryContextSwitchTo(old);
    // With history (an automatic one), the kept rows are in time order (the fit pass was ordered by it):
    // featurized one after another from the history of the rows before, as the offline pass does.
    engine::HistoryState* history = nullptr;
    if (engine_featurizer->keeps_history()) {
        engine_call([&] { history = engine_featurizer->new_history().release(); });
        own_in_context(data->kept_context, history);
    }
    constexpr size_t kSlice = 65536;
    for (size_t first = 0; first < data->rows; first += kSlice) {
        CHECK_FOR_INTERRUPTS();
        const size_t end = std::min(data->rows, first + kSlice);
        engine_call([&] {
            data->kept->featurize(*engine_featurizer, first, end, data->features + first * data->n_features, threads,
                                  history);
        });
    }
    MemoryContextDelete(data->kept_context);  // the raw rows, before the engine's own copies
    data->kept_context = nullptr;
    data->kept = nullptr;
    data->kept_bytes_per_row = 0;
}

double training_days(const TrainingData* data) {
    if (data->have_time) return double(data->last_time - data->first_time) / double(USECS_PER_DAY);
    if (data->split_column && data->order && data->rows > 0 &&
        (data->split_type == TIMESTAMPOID || data->split_type == TIMESTAMPTZOID)) {
        double first = data->order[0], last = data->order[0];
        for (size_t i = 1; i < data->rows; ++i) {
            first = std::min(first, data->order[i]);
            last = std::max(last, data->order[i]);
        }
        return (last - first) / double(USECS_PER_DAY);
    }
    return 0;
}

}  // namespace dendrite::pg
