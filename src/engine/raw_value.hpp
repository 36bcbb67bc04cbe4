// One SQL value as the featurizer sees it. Text points into memory the caller owns (a detoasted datum):
// featurizing a row copies nothing.
#pragma once
#include "engine/engine_only.hpp"

#include <cstdint>

namespace dendrite::engine {

struct RawValue {
    enum class Type : uint8_t { Null, Number, Text, Time, Inet };
    Type type = Type::Null;
    bool inet_v6 = false;
    // Number: an integer beyond 2^53 (a bigint or an integral numeric), which number rounds (ids 1,024 apart
    // share a double near 1e18): its exact value is `integer`, and a key (category, entity) is made of that.
    bool exact_integer = false;
    uint32_t length = 0;  // Text: bytes
    double number = 0;    // Number (booleans are 0/1)
    int64_t integer = 0;  // Number with exact_integer
    int64_t time_us = 0;  // Time: microseconds since 1970-01-01 00:00, wall clock
    const char* text = nullptr;
    uint8_t inet[16] = {};  // Inet: address bytes, network order (4 used for IPv4)

    static RawValue null() { return {}; }
    static RawValue of_number(double x) {
        RawValue v;
        v.type = Type::Number;
        v.number = x;
        return v;
    }
    // Integers of at most 2^53 in magnitude are exact as doubles; larger ones keep their exact value too.
    static constexpr int64_t kExactDoubleLimit = int64_t(1) << 53;
    static RawValue of_integer(int64_t x) {
        RawValue v = of_number(double(x));
        if (x > kExactDoubleLimit || x < -kExactDoubleLimit) {
            v.exact_integer = true;
            v.integer = x;
        }
        return v;
    }
    static RawValue of_text(const char* text, uint32_t length) {
        RawValue v;
        v.type = Type::Text;
        v.text = text;
        v.length = length;
        return v;
    }
    static RawValue of_time(int64_t microseconds) {
        RawValue v;
        v.type = Type::Time;
        v.time_us = microseconds;
        return v;
    }
    static RawValue of_inet(const uint8_t* bytes, bool v6) {
        RawValue v;
        v.type = Type::Inet;
        v.inet_v6 = v6;
        for (int i = 0; i < (v6 ? 16 : 4); ++i) v.inet[i] = bytes[i];
        return v;
    }
    bool is_null() const { return type == Type::Null; }
    // A time that is no point on the clock: 'infinity' / '-infinity' (a timestamp or a date), or a finite one
    // too far out for microseconds since 1970 in 64 bits (beyond the year 294,000). No finite time maps to
    // these two values, which the featurizer treats as non-finite (an error, or missing per its spec).
    static constexpr int64_t kInfiniteFuture = INT64_MAX, kInfinitePast = INT64_MIN;
    bool is_infinite_time() const {
        return type == Type::Time && (time_us == kInfiniteFuture || time_us == kInfinitePast);
    }
};

// A stable 64-bit key for a categorical value or an entity: text by its bytes, numbers by their shortest
// decimal form, so that the text '42' and the integer 42 are the same category.
uint64_t category_key(const RawValue& value);
uint64_t category_key(const char* text, size_t length);

}  // namespace dendrite::engine
