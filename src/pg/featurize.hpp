// Fitting featurizers from queries (dendrite.create_featurizer, and train's automatic featurizer).
#pragma once

#include "engine/raw_rows.hpp"
#include "engine/raw_value.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

struct CachedFeaturizer;

// Fits a new version of featurizer `name` on the rows of query (SPI must be connected). columns_json,
// history_json and derived_json may be NULL; rows before since (DT_NOBEGIN: none) only feed the history. Returns the
// featurizer_id.
// A caller that wants the rows of the fit pass as they are read (train's automatic featurizer keeps them
// instead of running the query again): start once before any row, with the planner's row estimate and the
// number of inputs; row for each row the featurizer is fitted on, its inputs in the featurizer's order.
// With kept (not NULL), the fit also keeps those rows' inputs (engine::RawRows, on the thread that fits,
// with room for as many rows as start returned) and hands them to kept, which owns them from then on, once
// the fit has read them all.
struct FitObserver {
    size_t (*start)(void* context, TupleDesc descriptor, double estimated_rows, int n_inputs);
    void (*row)(void* context, const engine::RawValue* raw, TupleTableSlot* slot);
    void (*kept)(void* context, engine::RawRows* rows);
    void* context;
    // The threads the caller may use (train's threads setting; <= 0: every hardware thread): the fit's
    // statistics take a helper thread only when that is more than one.
    int threads;
};

int64 fit_featurizer(const char* name, const char* query, const char* columns_json, const char* history_json,
                     const char* derived_json, const char* label, const char* nonfinite, Timestamp since,
                     const char* history_query,
                     const char* what,  // "training query" or "featurizer query", for messages
                     const FitObserver* observer = nullptr,
                     const char* anomaly_json = nullptr);  // create_featurizer's anomaly (engine::parse_anomaly)

// Before a pass of a featurizer's history over query (SPI connected): 55000 when a declaration scoped "within"
// a shard names another layout than the sharded table the query reads (docs/scaleout.md).
void check_shard_layout(const CachedFeaturizer* featurizer, const char* query);

// A `since` argument: DT_NOBEGIN when NULL, 22023 when infinite.
Timestamp since_argument(FunctionCallInfo fcinfo, int argument);

// The result columns of a query without running it (22023 unless it is a single SELECT).
TupleDesc describe_query(const char* query, const char* what);
// 42701 for a duplicate column name, 42703 when label (if not NULL) is not a column.
void check_query_columns(TupleDesc descriptor, const char* label);

}  // namespace dendrite::pg
