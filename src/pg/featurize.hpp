// Fitting featurizers from queries (dendrite.create_featurizer, and train's automatic featurizer).
#pragma once

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Fits a new version of featurizer `name` on the rows of query (SPI must be connected). columns_json and
// history_json may be NULL; rows before since (DT_NOBEGIN: none) only feed the history. Returns the
// featurizer_id.
int64 fit_featurizer(const char* name, const char* query, const char* columns_json, const char* history_json,
                     const char* label, const char* nonfinite, Timestamp since, const char* history_query,
                     const char* what);  // "training query" or "featurizer query", for messages

// The result columns of a query without running it (22023 unless it is a single SELECT).
TupleDesc describe_query(const char* query, const char* what);
// 42701 for a duplicate column name, 42703 when label (if not NULL) is not a column.
void check_query_columns(TupleDesc descriptor, const char* label);

}  // namespace dendrite::pg
