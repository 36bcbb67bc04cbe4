// Raw rows kept compactly (engine/raw_rows.hpp): every kind of value comes back as it went in, and
// featurizes to the same features.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/packed_values.hpp"
#include "engine/raw_rows.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

// train's automatic featurizer keeps the fit pass's rows in RawRows and featurizes them afterwards: every
// kind of value must come back as it went in, so that the features are those of a second pass.
TEST(RawRows, GiveBackEveryKindOfValueAndTheSameFeatures) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},
                                           {"m", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp},
                                           {"ip", SqlTypeClass::Inet}};
    FeaturizerFitter fitter(resolve_spec(columns, "", "", "", "error"));
    const uint8_t v4[4] = {10, 1, 2, 3};
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    std::vector<std::vector<RawValue>> rows;
    Rng rng(3);
    const char* merchants[] = {"alpha", "beta", "", "gamma"};
    for (int i = 0; i < 200; ++i) {
        std::vector<RawValue> row{i % 17 == 0 ? RawValue::null() : RawValue::of_number(rng.normal() * 100),
                                  i % 13 == 0 ? RawValue::null() : text(merchants[i % 4]),
                                  RawValue::of_time(int64_t(i) * kHour - 5 * kDay),
                                  i % 2 ? RawValue::of_inet(v4, false) : RawValue::of_inet(v6, true)};
        rows.push_back(row);
    }
    RawRows kept(columns.size());
    for (const auto& row : rows) {
        fitter.add(row.data());
        kept.add(row.data());
    }
    ASSERT_EQ(kept.size(), rows.size());
    const Featurizer f = fitter.finish();
    std::vector<RawValue> back(columns.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        kept.get(i, back.data());
        for (size_t j = 0; j < columns.size(); ++j) {
            const RawValue &a = rows[i][j], &b = back[j];
            ASSERT_EQ(a.type, b.type) << "row " << i << " column " << j;
            if (a.type == RawValue::Type::Number) {
                EXPECT_EQ(a.number, b.number);
            }
            if (a.type == RawValue::Type::Time) {
                EXPECT_EQ(a.time_us, b.time_us);
            }
            if (a.type == RawValue::Type::Text) {
                EXPECT_EQ(std::string(a.text, a.length), std::string(b.text, b.length));
            }
            if (a.type == RawValue::Type::Inet) {
                EXPECT_EQ(a.inet_v6, b.inet_v6);
                EXPECT_EQ(0, std::memcmp(a.inet, b.inet, sizeof a.inet));
            }
        }
        EXPECT_EQ(run(f, rows[i]), run(f, back)) << "row " << i;
    }
}

// Integers beyond 2^53 (bigint ids, card numbers) keep their exact value through RawRows and the packed
// form the helper threads read, and their key is that of their decimal text: two ids 1 apart, which share a
// double, are two categories and two entities.
TEST(RawRows, ExactIntegersBeyondTwoToThe53KeepTheirValue) {
    const int64_t a = 6011000000000000004, b = a + 1;
    ASSERT_EQ(double(a), double(b));  // the collision this guards against
    const RawValue va = RawValue::of_integer(a), vb = RawValue::of_integer(b), small = RawValue::of_integer(42);
    EXPECT_TRUE(va.exact_integer);
    EXPECT_FALSE(small.exact_integer);  // 2^53 and less: the double is exact, the fast path as before
    EXPECT_NE(category_key(va), category_key(vb));
    EXPECT_EQ(category_key(va), category_key(text("6011000000000000004")));
    EXPECT_EQ(category_key(small), category_key(RawValue::of_number(42)));

    const RawValue row[2] = {va, vb};
    RawRows kept(2);
    kept.add(row);
    RawValue back[2] = {RawValue::of_number(1.5), RawValue::of_number(2.5)};
    kept.get(0, back);
    std::vector<PackedValue> packed(2);
    std::vector<char> bytes;
    pack_row(row, 2, packed.data(), bytes);
    RawValue unpacked[2];
    unpack_row(packed.data(), 2, bytes.data(), unpacked);
    for (const RawValue* got : {back, unpacked}) {
        for (int j = 0; j < 2; ++j) {
            EXPECT_EQ(got[j].type, RawValue::Type::Number);
            EXPECT_TRUE(got[j].exact_integer);
            EXPECT_EQ(got[j].integer, row[j].integer);
            EXPECT_EQ(got[j].number, row[j].number);
            EXPECT_EQ(category_key(got[j]), category_key(row[j]));
        }
    }
    // A plain number read into a value that held an exact integer is plain again.
    const RawValue plain = RawValue::of_number(7);
    RawRows other(1);
    other.add(&plain);
    other.get(0, back);
    EXPECT_FALSE(back[0].exact_integer);
    pack_row(&plain, 1, packed.data(), bytes);
    unpack_row(packed.data(), 1, bytes.data(), unpacked);
    EXPECT_FALSE(unpacked[0].exact_integer);
    EXPECT_EQ(category_key(unpacked[0]), category_key(plain));
}

// A featurizer of numbers and booleans (no clip, no history) featurizes kept rows from their numbers alone
// (Featurizer::transform_numbers); the features are transform's to the bit, and rows the shortcut cannot
// take (a NULL, a NaN or an infinity under nonfinite 'missing', an overflow, an exact integer beyond 2^53)
// are transform's too.
TEST(RawRows, NumbersOnlyFeaturizesAsTransformDoes) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},
                                           {"ratio", SqlTypeClass::Number},
                                           {"card", SqlTypeClass::Integer},
                                           {"flag", SqlTypeClass::Boolean}};
    for (const char* spec_columns : {"", R"({"amount": "log1p", "ratio": "minmax"})"}) {
        FeaturizerFitter fitter(resolve_spec(columns, spec_columns, "", "", "missing"));
        Rng rng(7);
        std::vector<std::vector<RawValue>> rows;
        for (int i = 0; i < 5000; ++i) {
            std::vector<RawValue> row{RawValue::of_number(std::exp(6 * rng.uniform())),
                                      RawValue::of_number(rng.normal()), RawValue::of_integer(int64_t(rng.below(1000))),
                                      RawValue::of_number(rng.uniform() < 0.3 ? 1 : 0)};
            if (i % 97 == 1) row[1] = RawValue::null();  // a missing indicator for ratio
            if (i % 101 == 2) row[0] = RawValue::of_number(NAN);
            if (i % 103 == 3) row[1] = RawValue::of_number(-INFINITY);
            if (i % 107 == 4) row[1] = RawValue::of_number(1e300);  // an overflow once standardized
            if (i % 109 == 5) row[2] = RawValue::of_integer(6011000000000000004);
            if (i % 113 == 6) row[3] = RawValue::null();
            rows.push_back(row);
        }
        RawRows kept(columns.size());
        for (const auto& row : rows) {
            fitter.add(row.data());
            kept.add(row.data());
        }
        const Featurizer f = fitter.finish();
        ASSERT_TRUE(f.numbers_only());
        const size_t outputs = size_t(f.output_count());
        ASSERT_EQ(outputs, columns.size() + 3);  // amount (its NaNs), ratio and flag have missing indicators
        std::vector<float> fast(rows.size() * outputs), slow(rows.size() * outputs);
        kept.featurize(f, 0, rows.size(), fast.data(), 2);
        std::vector<RawValue> back(columns.size());
        for (size_t i = 0; i < rows.size(); ++i) {
            kept.get(i, back.data());
            f.transform(back.data(), nullptr, slow.data() + i * outputs);
        }
        for (size_t i = 0; i < rows.size(); ++i)
            ASSERT_EQ(0, std::memcmp(fast.data() + i * outputs, slow.data() + i * outputs, sizeof(float) * outputs))
                << "row " << i << " with columns " << spec_columns;
    }
}

// What the shortcut does not cover: a clip, a text, a history (transform featurizes every row then).
TEST(RawRows, NumbersOnlyIsNotClaimedForOtherColumns) {
    const std::vector<InputColumn> numbers{{"amount", SqlTypeClass::Number}, {"card", SqlTypeClass::Integer}};
    const std::vector<InputColumn> with_text{{"amount", SqlTypeClass::Number}, {"m", SqlTypeClass::Text}};
    const std::vector<InputColumn> with_time{
        {"amount", SqlTypeClass::Number}, {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}};
    auto fitted = [](const std::vector<InputColumn>& columns, const char* spec, const char* history) {
        FeaturizerFitter fitter(resolve_spec(columns, spec, history, "", "error"));
        std::vector<RawValue> row{RawValue::of_number(2),
                                  columns[1].type == SqlTypeClass::Text ? text("a") : RawValue::of_number(3)};
        if (columns.size() > 2) row.push_back(RawValue::of_time(0));
        fitter.add(row.data());
        return fitter.finish();
    };
    EXPECT_TRUE(fitted(numbers, "", "").numbers_only());
    EXPECT_FALSE(fitted(numbers, R"({"amount": {"clip": [0, 10]}})", "").numbers_only());
    EXPECT_FALSE(fitted(with_text, "", "").numbers_only());
    EXPECT_FALSE(
        fitted(
            with_time, R"({"at": "ignore"})",
            R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"], "aggregates": ["count"]}])")
            .numbers_only());
}
