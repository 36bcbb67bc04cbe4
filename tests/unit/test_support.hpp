// Helpers shared by the engine's unit tests: the kind of engine error a call throws, a small labelled data
// set, and a featurizer row's outputs.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <vector>

#include "engine/error.hpp"
#include "engine/featurizer.hpp"
#include "engine/raw_value.hpp"
#include "engine/rng.hpp"
#include "engine/trainer.hpp"

namespace dendrite::engine::testing {

// The kind of the engine error f throws (a test failure when it throws none).
inline ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no engine error was thrown";
    return ErrorKind::Internal;
}

// Two informative columns (the label is 1 when x0 + 0.5 x1 is large) and one noise column; ~10 % positive.
struct Data {
    std::vector<float> features, labels;
    Dataset view(int columns = 3) const { return {features.data(), labels.data(), labels.size(), columns}; }
};

inline Data make_data(size_t rows, uint64_t seed) {
    Rng rng(seed);
    Data d;
    for (size_t r = 0; r < rows; ++r) {
        const float x0 = float(rng.normal()), x1 = float(rng.normal()), noise = float(rng.normal());
        d.features.insert(d.features.end(), {x0, x1, noise});
        d.labels.push_back(x0 + 0.5f * x1 > 1.4f ? 1.0f : 0.0f);
    }
    return d;
}

constexpr int64_t kHour = 3600LL * 1000000LL;  // engine time: microseconds
constexpr int64_t kDay = 24 * kHour;

// One row's outputs of a featurizer (history from history, when it has history features).
inline std::vector<float> run(const Featurizer& f, const std::vector<RawValue>& row,
                              const HistoryState* history = nullptr) {
    std::vector<float> out(f.output_count());
    f.transform(row.data(), history, out.data());
    return out;
}

inline RawValue text(const char* s) { return RawValue::of_text(s, uint32_t(std::strlen(s))); }

}  // namespace dendrite::engine::testing
