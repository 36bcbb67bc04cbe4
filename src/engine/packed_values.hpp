// Rows of RawValues copied compactly for another thread: a number or a time in place, a text's or an
// address's bytes in a byte store beside the values. What the backend hands to its helper (guard_batch's
// captured rows, the featurizer's fit while the query is read) travels in this form.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/raw_value.hpp"

namespace dendrite::engine {

// A RawValue in 16 bytes: the backend's thread writes, and the helper's reads, a third of the cache lines
// that RawValues would take.
struct PackedValue {
    RawValue::Type type;
    bool inet_v6;
    bool exact_integer;  // a Number held as its exact integer (RawValue::exact_integer)
    uint32_t length;
    union {
        double number;
        int64_t integer;  // a Number with exact_integer (its double is that integer's)
        int64_t time_us;
        uint64_t offset;  // of a text's or an address's bytes in the byte store
    };
};
static_assert(sizeof(PackedValue) == 16, "a packed value is 16 bytes");

// Copies n values (texts and addresses included) into packed, their bytes appended to bytes.
inline void pack_row(const RawValue* row, size_t n, PackedValue* packed, std::vector<char>& bytes) {
    for (size_t j = 0; j < n; ++j) {
        const RawValue& value = row[j];
        PackedValue& p = packed[j];
        p.type = value.type;
        switch (value.type) {
            case RawValue::Type::Number:
                p.exact_integer = value.exact_integer;
                if (value.exact_integer)
                    p.integer = value.integer;
                else
                    p.number = value.number;
                break;
            case RawValue::Type::Time:
                p.time_us = value.time_us;
                break;
            case RawValue::Type::Text:
                p.length = value.length;
                p.offset = bytes.size();
                bytes.insert(bytes.end(), value.text, value.text + value.length);
                break;
            case RawValue::Type::Inet:
                p.inet_v6 = value.inet_v6;
                p.offset = bytes.size();
                bytes.insert(bytes.end(), value.inet, value.inet + (value.inet_v6 ? 16 : 4));
                break;
            case RawValue::Type::Null:
                break;
        }
    }
}

// The n values of a packed row as RawValues (texts point into bytes, which must outlive them). Only the
// fields a value's type reads are set.
inline void unpack_row(const PackedValue* packed, size_t n, const char* bytes, RawValue* row) {
    for (size_t j = 0; j < n; ++j) {
        const PackedValue& p = packed[j];
        RawValue& value = row[j];
        value.type = p.type;
        switch (p.type) {
            case RawValue::Type::Number:
                value.exact_integer = p.exact_integer;
                if (p.exact_integer) {
                    value.integer = p.integer;
                    value.number = double(p.integer);
                } else {
                    value.number = p.number;
                }
                break;
            case RawValue::Type::Time:
                value.time_us = p.time_us;
                break;
            case RawValue::Type::Text:
                value.length = p.length;
                value.text = bytes + p.offset;
                break;
            case RawValue::Type::Inet:
                value.inet_v6 = p.inet_v6;
                std::memcpy(value.inet, bytes + p.offset, p.inet_v6 ? 16 : 4);
                break;
            case RawValue::Type::Null:
                break;
        }
    }
}

}  // namespace dendrite::engine
