// A featurizer version as rows: dendrite.featurizers (its spec, inputs and outputs) and the rows that belong
// to it (feature_columns, feature_categories, feature_history: every fitted number). store_featurizer writes
// them; read_featurizer_rows reads them back, validated (an edited row is XX001 naming the table and row).
#pragma once

#include "pg/featurizer_cache.hpp"

namespace dendrite::pg {

// Stores a fitted featurizer as a new version of name; returns its featurizer_id.
int64 store_featurizer(const char* name, const char* query, const char* history_query,
                       const engine::Featurizer& featurizer, const char* const* input_types, int64 rows);

// A stored version as a cache entry allocated in entry_context (its engine featurizer owned by it). Needs no
// SPI connection (makes its own).
CachedFeaturizer* read_featurizer_rows(int64 featurizer_id, MemoryContext entry_context);

}  // namespace dendrite::pg
