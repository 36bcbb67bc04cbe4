// What a featurizer does with each input column, and which entity-history ("velocity") features it adds.
// Parsed from the jsonb arguments of dendrite.create_featurizer, resolved against the query's columns, and
// stored (resolved) as jsonb with the featurizer version.
#pragma once
#include "engine/engine_only.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dendrite::engine {

// The SQL type of an input column, as far as the featurizer cares.
enum class SqlTypeClass { Number, Integer, Boolean, Text, Timestamp, Inet, Other };

struct InputColumn {
    std::string name;
    SqlTypeClass type;
};

// A column the featurizer computes from the row: an SQL expression over the row's columns, compiled and
// evaluated by PostgreSQL (src/pg/derived_columns.hpp) in the same way offline and inline. The engine sees it
// as one more input column; type is the class of the expression's result (known once compiled).
struct DerivedColumn {
    std::string name;
    std::string expression;
    SqlTypeClass type = SqlTypeClass::Other;
};

enum class ColumnKind { Numeric, Boolean, Categorical, Timestamp, Inet, Ignore };
enum class NumericTransform { Standardize, Log1p, MinMax, None };
// Index: one output holding the category's rank (1 = the most frequent, up to max_categories; 0 for an
// unseen or missing value), for an embedding layer of the network to look up.
enum class CategoricalEncoding { OneHot, Frequency, Target, Index };
enum class MissingIndicator { Auto, Always, Never };

struct ColumnSpec {
    std::string name;
    ColumnKind kind = ColumnKind::Numeric;
    NumericTransform transform = NumericTransform::Standardize;
    bool clip = false;
    double clip_low = 0, clip_high = 0;
    CategoricalEncoding encoding = CategoricalEncoding::OneHot;
    int top_k = 20;               // one-hot: the most frequent categories, the rest is "other"
    int max_categories = 100000;  // frequency / target: categories kept
    double smoothing = 20;        // target encoding: weight of the prior
    int buckets = 16;             // inet: hashed buckets per prefix length
    MissingIndicator missing_indicator = MissingIndicator::Auto;
};

// Aggregates of one entity's trailing windows, at the time of each row.
struct HistorySpec {
    std::string name;         // output prefix (default: the entity column, + "_delayed" with a delay)
    std::string entity;       // column whose value identifies the entity (card, customer, terminal, IP)
    std::string time;         // timestamp column
    std::string value;        // numeric column for sum / mean / max / ratio (optional)
    std::string label;        // 0/1 column for fraud_count / fraud_rate (optional; needs a delay)
    std::string distinct_of;  // column whose distinct values the distinct aggregate counts (optional)
    std::vector<int64_t> windows_us;
    std::vector<std::string> window_names;  // "1h", "7d", ...
    int64_t delay_us = 0;                   // windows end this long before the row: (t - delay - w, t - delay]
    bool count = false, sum = false, mean = false, max = false, min = false, stddev = false, ratio_to_mean = false;
    bool fraud_count = false, fraud_rate = false;
    bool distinct = false;  // per window: distinct values of distinct_of (a scan of the window's rows)
    // Not per window: hours since the entity's previous event (any earlier event: an event's time is known at
    // once, only its label waits for the delay), at most the declaration's horizon (longest window + delay),
    // which is also the value of an entity's first event.
    bool since_last = false;
    // Applied to every output before standardization: Standardize (none: the raw aggregate, the default) or
    // Log1p (sign(x) log(1 + |x|), which compresses heavy tails: bounded scores, but on the handbook's data
    // 0.01-0.05 less average precision, see docs/benchmarks.md, so it is opt-in).
    NumericTransform transform = NumericTransform::Standardize;
    // "within": the shard key and shard count of a card-sharded table (docs/scaleout.md): the entity is then
    // keyed by (entity, dendrite.shard_of(within_key, within_shards)), a derived text column named
    // <entity>_within_shard, so that offline over every shard's rows each entity's history is what the
    // shard holding the row sees inline. Empty / 0: not scoped.
    std::string within_key;
    int within_shards = 0;
};

// A table hash-partitioned on one column into `shards` equal parts (each partition MODULUS shards): what
// "within": "shard" in a history declaration resolves to when the featurizer's query reads such a table.
struct ShardLayout {
    std::string key;
    int shards = 0;
};

// The anomaly score of an autoencoder version as one more feature (issue #30; docs/sql.md, "The anomaly score
// as a feature"): the version's featurizer has no derived columns and no anomaly features of its own; this
// featurizer reads its columns from the row (and keeps its history declarations in its own history state)
// and scores them with the version, offline and inline by the same code (Featurizer::attach_anomaly_model).
// The output is the score, 0..1, centred and scaled as a uniform variable is: (score - 0.5) * sqrt(12).
struct AnomalySpec {
    std::string name;  // the output (default: <model>_anomaly)
    std::string model;
    int version = 0;                  // pinned when the featurizer is fitted (0 in a declaration: the serving one)
    std::vector<std::string> inputs;  // the autoencoder featurizer's input columns, in its order
    std::vector<SqlTypeClass> input_types;  // as that featurizer was fitted: resolve_spec checks them; not stored
    // That featurizer's history declarations: this featurizer's history state keeps them too (after its own),
    // fed by the rows it sees, so that the autoencoder's history features are those of this featurizer's rows
    // offline and inline. Their time column is this featurizer's.
    std::vector<HistorySpec> history;
};

// The declarations of create_featurizer's anomaly argument: a JSON array of {"model": name, "version": n,
// "name": output} ("version" and "name" optional), or one such object. inputs are left for the caller to
// fill in from the version. Throws InvalidParameter.
std::vector<AnomalySpec> parse_anomaly(const std::string& anomaly_json);

// What a sample of a query's rows says about one column, for the automatic choices (text, integer and
// timestamp columns; the rest is chosen by type alone).
struct ColumnProfile {
    std::string name;
    int64_t non_null = 0, distinct = 0;  // over the sample
    double with_space = 0;               // text: share of values containing a space
    double mean_length = 0;              // text: mean length in characters
    double min_value = 0;                // integer: the smallest value
    std::string sql_type;                // timestamp columns: "date", "timestamp" or "timestamptz"
};

// One choice the automatic featurization made from the data, not from the type alone (stored with the
// spec and listed in a NOTICE).
struct AutomaticChoice {
    std::string column;
    std::string choice;  // "ignore", "frequency", "age_years"
    std::string reason;
};

struct FeaturizerSpec {
    std::vector<DerivedColumn> derived;  // computed from the row before anything else reads it
    std::vector<ColumnSpec> columns;     // the feature columns, in the query's order, then derived columns'
    std::vector<HistorySpec> history;
    std::vector<AnomalySpec> anomaly;   // outputs after the columns', before the history's
    std::string label;                  // excluded from features; the target of target encoding
    bool nonfinite_as_missing = false;  // NaN/Infinity: error (default) or missing
    std::vector<AutomaticChoice> automatic;

    std::string to_json() const;
    static FeaturizerSpec from_json(const std::string& json);  // a spec written by to_json
    // Its own history declarations, then the anomaly models' (what its history state keeps; the Featurizer
    // keeps one slot for declarations that are the same but for their names).
    std::vector<HistorySpec> all_history() const;
    // The column whose order every pass over the rows follows: the time of the first of all_history() ("" when
    // there is no history).
    std::string event_time() const;
    // The input columns the featurizer reads, each once: feature columns, then history columns, then the
    // anomaly models' columns.
    std::vector<std::string> inputs() const;
};

// The derived columns declared by derived_json (may be empty): an object mapping each new column's name to
// its SQL expression, in declaration order. Their types are left Other for the caller to fill in.
std::vector<DerivedColumn> parse_derived(const std::string& derived_json);

// Builds the spec for a query: columns_json (may be empty) overrides the automatic choice by type, per
// column (of the query or derived); history_json (may be empty) is an array of history declarations;
// derived are the derived columns with their types. Throws InvalidParameter with a message naming what is
// wrong.
// With profiles (a sample of the rows), the automatic choice of a column without an override also looks at
// its data: a column that identifies rows (text >= 95 %, integer >= 99.5 % distinct over >= 1,000 rows) and
// long free text (most values with a space, 12+ characters on average, 100+ distinct) are left out; text
// with more than 50 distinct values and integers of 10+ digits (card numbers) get frequency encoding; a
// timestamp that is not the event time (the history's time column, else the timestamp with the most
// distinct values) becomes its age in years at the event time (a derived column <name>_age_years). Each such
// choice is listed in spec.automatic. shards: how the query's table is sharded (nullptr: it is not), for a
// history declaration's "within": "shard". anomaly: parse_anomaly's declarations with their inputs and
// input types filled in; each input must be a column of the query (or a derived one) of the same type
// class, and not the label.
FeaturizerSpec resolve_spec(const std::vector<InputColumn>& query_columns, const std::string& columns_json,
                            const std::string& history_json, const std::string& label, const std::string& nonfinite,
                            const std::vector<DerivedColumn>& derived = {},
                            const std::vector<ColumnProfile>& profiles = {}, const ShardLayout* shards = nullptr,
                            const std::vector<AnomalySpec>& anomaly = {});
// Whether two history declarations are the same (as stored), or the same but for their names (the same state).
bool same_declaration(const HistorySpec& a, const HistorySpec& b);
bool same_state(HistorySpec a, HistorySpec b);

// The NOTICE text listing spec.automatic ("" when empty).
std::string describe_automatic_choices(const FeaturizerSpec& spec);

// "1 hour", "7 days", "30 d", "90 minutes", "2 weeks", "3600" (seconds) -> microseconds; throws
// InvalidParameter. short_name receives "1h", "7d", "90m", "2w", "3600s".
int64_t parse_interval(const std::string& text, std::string* short_name = nullptr);

const char* kind_name(ColumnKind kind);

}  // namespace dendrite::engine
