// dendrite.train's rows: the training query's featurized rows (row-major) and labels collected within
// dendrite.training_memory, either from the offline pass or, with an automatic featurizer, kept raw during
// the fitting pass and featurized afterwards (one pass over the query).
#pragma once

#include "engine/raw_rows.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// The featurized rows of the training query (row-major) and their labels, palloc'd in data_context.
struct TrainingData {
    MemoryContext data_context;
    const char* label;
    int label_attnum;  // 0 until the first row
    Oid label_type;
    const char* split_column;  // NULL: none
    int split_attnum;
    Oid split_type;
    int n_features;
    float* features;
    float* labels;
    double* order;  // with split_column: each row's order key
    size_t rows;
    size_t featurized;  // a pipelined pass's rows whose features have come (<= rows)
    size_t capacity;
    size_t budget_bytes;         // dendrite.training_memory
    size_t expected_rows;        // the planner's estimate, plus a margin: the first allocation's size
    engine::RawRows* kept;       // the automatic featurizer's single pass: raw rows, featurized afterwards
    MemoryContext kept_context;  // owns kept
    size_t kept_bytes_per_row;   // while there are kept rows; 0 otherwise
    int estimated_features;      // while n_features is not known yet (0): the inputs' count
    const char* time_column;     // the featurizer's time column (NULL: none known): the rows' time span
    int time_attnum;             // 0 until the first row, -1 when the rows lack it
    Oid time_type;
    bool have_time;
    int64 first_time, last_time;  // microseconds, over the rows whose time is not NULL
    int n_index_features;         // the featurizer's 'index' outputs, which a network embeds
    int* index_feature;
    int* index_rows;
};

// The offline pass's callbacks (query_pass.hpp): the planner's estimate, then, pipelined, each row's
// label as it is read and its features when they come.
void expect_training_rows(void* context, double estimated_rows);
void collect_training_label(void* context, TupleTableSlot* slot);
void collect_training_features(void* context, const float* features, TupleTableSlot*);
void restart_training_rows(void* context);  // offline_pass's RestartRows
// The automatic featurizer's fitting pass's callbacks (featurize.hpp's FitObserver): keep every raw row.
size_t keep_started(void* context, TupleDesc, double estimated_rows, int n_inputs);
void keep_row(void* context, const engine::RawValue* raw, TupleTableSlot* slot);
void take_kept_rows(void* context, engine::RawRows* kept);
// Featurizes the kept rows with the featurizer as stored (the one scoring will use), on the training's
// threads, in slices so that a cancel is seen within a fraction of a second.
void featurize_kept_rows(TrainingData* data, const CachedFeaturizer* featurizer, int threads);
// The bytes of dendrite.training_memory left beyond what the collected rows count against it (0 when none):
// what the engine may add on the host for a device run (an encoded copy of the rows).
size_t training_memory_headroom(const TrainingData* data);
// How many days the rows span (from the featurizer's time column, or a timestamp split column); 0 unknown.
double training_days(const TrainingData* data);

}  // namespace dendrite::pg
