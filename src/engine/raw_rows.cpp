#include "engine/raw_rows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

namespace {

// An address is interned as 17 bytes: the family flag, then the 16 address bytes.
constexpr size_t kInetKeyBytes = 17;

}  // namespace

uint32_t RawRows::intern(std::string_view bytes) {
    const auto found = index_.find(bytes);
    if (found != index_.end()) return found->second;
    if (interned_.size() >= UINT32_MAX)
        throw Error(ErrorKind::OutOfMemory, "too many distinct texts to keep in memory");
    interned_.emplace_back(bytes);
    const uint32_t id = uint32_t(interned_.size() - 1);
    index_.emplace(std::string_view(interned_.back()), id);
    return id;
}

void RawRows::add(const RawValue* row) {
    const size_t first = types_.size();
    types_.resize(first + width_);
    slots_.resize(first + width_);
    uint8_t* types = types_.data() + first;
    uint64_t* slots = slots_.data() + first;
    for (size_t j = 0; j < width_; ++j) {
        const RawValue& value = row[j];
        uint64_t slot = 0;
        switch (value.type) {
            case RawValue::Type::Null:
                break;
            case RawValue::Type::Number:
                if (value.exact_integer)
                    slot = uint64_t(value.integer);
                else
                    std::memcpy(&slot, &value.number, sizeof slot);
                break;
            case RawValue::Type::Time:
                slot = uint64_t(value.time_us);
                break;
            case RawValue::Type::Text:
                slot = intern(std::string_view(value.text, value.length));
                break;
            case RawValue::Type::Inet: {
                char key[kInetKeyBytes];
                key[0] = value.inet_v6 ? 1 : 0;
                std::memcpy(key + 1, value.inet, sizeof value.inet);
                slot = intern(std::string_view(key, kInetKeyBytes));
                break;
            }
        }
        types[j] =
            uint8_t(value.type) | (value.type == RawValue::Type::Number && value.exact_integer ? kExactInteger : 0);
        slots[j] = slot;
    }
}

// Sets only the fields that the value's type reads (the featurizer reads by type): building whole
// RawValues cost as much as featurizing them.
void RawRows::get(size_t i, RawValue* out) const {
    const size_t first = i * width_;
    for (size_t j = 0; j < width_; ++j) {
        const uint64_t slot = slots_[first + j];
        RawValue& value = out[j];
        const uint8_t type = types_[first + j];
        value.type = RawValue::Type(type & ~kExactInteger);
        switch (value.type) {
            case RawValue::Type::Null:
                break;
            case RawValue::Type::Number:
                value.exact_integer = (type & kExactInteger) != 0;
                if (value.exact_integer) {
                    value.integer = int64_t(slot);
                    value.number = double(value.integer);
                } else {
                    std::memcpy(&value.number, &slot, sizeof slot);
                }
                break;
            case RawValue::Type::Time:
                value.time_us = int64_t(slot);
                break;
            case RawValue::Type::Text: {
                const std::string& text = interned_[slot];
                value.text = text.data();
                value.length = uint32_t(text.size());
                break;
            }
            case RawValue::Type::Inet: {
                const std::string& key = interned_[slot];
                value.inet_v6 = key[0] == 1;
                std::memcpy(value.inet, key.data() + 1, sizeof value.inet);
                break;
            }
        }
    }
}

bool RawRows::finite_numbers(size_t i, double* out) const {
    const size_t first = i * width_;
    for (size_t j = 0; j < width_; ++j) {
        const uint8_t type = types_[first + j];
        const uint64_t slot = slots_[first + j];
        if (type == uint8_t(RawValue::Type::Number)) {
            std::memcpy(&out[j], &slot, sizeof slot);
            if (!std::isfinite(out[j])) return false;
        } else if (type == (uint8_t(RawValue::Type::Number) | kExactInteger)) {
            out[j] = double(int64_t(slot));  // as get() gives its number
        } else {
            return false;
        }
    }
    return true;
}

void RawRows::featurize(const Featurizer& f, size_t first, size_t end, float* out, int threads,
                        HistoryState* history) const {
    constexpr size_t kBlock = 1024;
    const size_t outputs = size_t(f.output_count());
    if (history) {
        std::vector<RawValue> raw(width_);
        for (size_t i = first; i < end; ++i) {
            get(i, raw.data());
            f.transform(raw.data(), history, out + (i - first) * outputs);
            f.observe(raw.data(), history);
        }
        return;
    }
    const int blocks = int((end - first + kBlock - 1) / kBlock);
    const bool numbers_only = f.numbers_only();
    WorkerPool pool(threads);
    pool.run(blocks, [&](int block) {
        std::vector<RawValue> raw(width_);
        std::vector<double> numbers(width_);
        const size_t from = first + size_t(block) * kBlock, to = std::min(end, from + kBlock);
        for (size_t i = from; i < to; ++i) {
            float* row_out = out + (i - first) * outputs;
            // A table of numbers: most rows need no RawValues (a NULL, a NaN or an overflow takes transform).
            if (numbers_only && finite_numbers(i, numbers.data()) && f.transform_numbers(numbers.data(), row_out))
                continue;
            get(i, raw.data());
            f.transform(raw.data(), nullptr, row_out);
        }
    });
}

}  // namespace dendrite::engine
