// Conversions between SQL values and the engine's floats, shared by training and scoring.
#pragma once

#include "engine/raw_value.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// PostgreSQL counts timestamps from 2000-01-01, the engine from 1970-01-01 (both in microseconds).
constexpr int64 kUnixToPostgresMicros = int64(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
// A timestamp (or timestamptz) in engine time. 'infinity', '-infinity' and the finite times too far out for
// 64 bits of microseconds since 1970 (beyond the year 294,000) give the engine's infinite times
// (RawValue::is_infinite_time), which the featurizer refuses or treats as missing, never as a time.
inline int64 engine_time(Timestamp t) {
    using engine::RawValue;
    if (TIMESTAMP_IS_NOBEGIN(t)) return RawValue::kInfinitePast;
    int64 us;
    if (TIMESTAMP_IS_NOEND(t) || __builtin_add_overflow(t, kUnixToPostgresMicros, &us))
        return RawValue::kInfiniteFuture;
    return us;
}
// A date in engine time: its midnight, as a timestamp's.
inline int64 engine_time(DateADT d) {
    using engine::RawValue;
    if (DATE_IS_NOBEGIN(d)) return RawValue::kInfinitePast;
    int64 us;
    if (DATE_IS_NOEND(d) || __builtin_mul_overflow(int64(d), int64(USECS_PER_DAY), &us) ||
        __builtin_add_overflow(us, kUnixToPostgresMicros, &us))
        return d < 0 ? RawValue::kInfinitePast : RawValue::kInfiniteFuture;
    return us;
}
// A `since` argument in engine time; DT_NOBEGIN (no since) is kInfinitePast: every finite time is at or
// after it.
inline int64 engine_since(Timestamp since) { return engine_time(since); }

// Types whose columns become features: bool, int2/4/8, float4/8, numeric.
bool is_feature_type(Oid type);

// The value of a non-NULL datum of a feature type as a double (numeric NaN gives NaN).
double feature_value(Datum value, Oid type);

// The 1-based number of the column of descriptor named name, 0 when there is none. Columns are read by name,
// so a second column of that name is 42701 ("<role> "<name>" appears more than once in <where>", with detail
// when not NULL) rather than the first read without a word.
int unique_column_number(TupleDesc descriptor, const char* name, const char* role, const char* where,
                         const char* detail = nullptr);

// The label column of a query's rows (train's and evaluate's): its 1-based attribute number and base type,
// 42703 when the rows lack it (query names them in the message: "the training query"; hint may be NULL),
// 42804 when it is neither boolean nor a number.
int label_column(TupleDesc descriptor, const char* column, const char* query, const char* hint, Oid* type);
// A row's label: 22004 when NULL, 22000 when neither 0 nor 1 (row is 1-based, for the message).
double label_value(TupleTableSlot* slot, int attnum, Oid type, const char* column, size_t row, const char* query);

// Raises 22000 when value is NaN or infinite, naming the column.
void require_finite(double value, const char* column, const char* context);

// A row key as text, as `key::text` gives it (what record_outcome and joins on score_query's keys are handed):
// its type's output, except that a char(n) key (blank_padded: its base type is bpchar) loses its padding, as
// the cast drops it. key_text_form fills in both for a key column of type type.
void key_text_form(Oid type, Oid* output_function, bool* blank_padded);
char* key_as_text(Oid output_function, bool blank_padded, Datum value);

// A text[] / float8[] / int4[] / real[] from C arrays, in the current memory context.
ArrayType* text_array(char* const* values, int n);
ArrayType* float8_array(const double* values, int n);
ArrayType* int4_array(const int* values, int n);
ArrayType* float4_array(const float* values, size_t n);

// A text argument that must not be NULL (22004 otherwise), as a palloc'd C string.
char* required_text_argument(FunctionCallInfo fcinfo, int argument, const char* name);

}  // namespace dendrite::pg
