// Rows of raw input values kept compactly, so that a featurizer fitted in one pass over a query can
// featurize the same rows afterwards without running the query again (train's automatic featurizer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/raw_value.hpp"

namespace dendrite::engine {

class RawRows {
public:
    explicit RawRows(size_t width) : width_(width) {}

    // Room for rows rows without reallocating (growing copies what is kept and touches fresh pages).
    void reserve(size_t rows) {
        types_.reserve(rows * width_);
        slots_.reserve(rows * width_);
    }
    // Appends one row of width() values. Texts and addresses are interned: each distinct one is kept once.
    void add(const RawValue* row);
    // Row i as it was added; text values point into this object and live as long as it does.
    void get(size_t i, RawValue* out) const;

    // Featurizes rows [first, end) into out (f.output_count() floats a row, row first at out), with f,
    // spread over threads (one per hardware thread when <= 0) in blocks of 1,024 rows. With history (f's
    // spec declares some), one thread: each row is featurized from the history of the rows before it, then
    // observed, as the offline pass does; the rows must have been added in time order and [first, end)
    // must follow the previous call's range.
    void featurize(const Featurizer& f, size_t first, size_t end, float* out, int threads,
                   HistoryState* history = nullptr) const;

    size_t width() const { return width_; }
    size_t size() const { return width_ ? types_.size() / width_ : 0; }
    // Bytes a row costs, apart from interned texts: what a memory budget should count.
    static constexpr size_t kBytesPerValue = sizeof(uint64_t) + sizeof(uint8_t);

private:
    uint32_t intern(std::string_view bytes);
    // Row i's values as doubles when every one is a finite number (what get() would give as RawValues).
    bool finite_numbers(size_t i, double* out) const;

    size_t width_;
    // RawValue::Type, one per value, with kExactInteger set for a Number whose slot holds an exact integer
    // (RawValue::exact_integer) rather than a double's bits.
    static constexpr uint8_t kExactInteger = 0x80;
    std::vector<uint8_t> types_;
    std::vector<uint64_t> slots_;       // the number's bits, the time, or the interned text's index
    std::deque<std::string> interned_;  // a deque: its strings never move, so the map's views stay valid
    std::unordered_map<std::string_view, uint32_t> index_;
};

}  // namespace dendrite::engine
