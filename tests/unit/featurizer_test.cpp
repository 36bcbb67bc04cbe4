// The featurizer: spec resolution, every column kind, missing/unseen/NaN paths, and entity history
// checked against a brute-force recomputation from its definition.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.hpp"
#include "engine/featurizer.hpp"
#include "engine/raw_rows.hpp"
#include "engine/rng.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;

using namespace dendrite::engine::testing;

TEST(Featurizer, NumericTransformsMissingAndNonFinite) {
    const std::vector<InputColumn> columns{{"a", SqlTypeClass::Number},
                                           {"b", SqlTypeClass::Number},
                                           {"c", SqlTypeClass::Number},
                                           {"d", SqlTypeClass::Number}};
    FeaturizerFitter fitter(resolve_spec(
        columns, R"({"b": "log1p", "c": "minmax", "d": {"clip": [0, 10], "transform": "none"}})", "", "", "error"));
    const double a[] = {1, 3, 5}, b[] = {0, std::exp(1.0) - 1, std::exp(2.0) - 1}, c[] = {2, 4, 6}, d[] = {-5, 5, 50};
    for (int i = 0; i < 3; ++i) {
        std::vector<RawValue> row{RawValue::of_number(a[i]), RawValue::of_number(b[i]), RawValue::of_number(c[i]),
                                  RawValue::of_number(d[i])};
        if (i == 2) row[0] = RawValue::null();
        fitter.add(row.data());
    }
    const Featurizer f = fitter.finish();
    // a: mean 2, sd 1 over {1, 3}; a missing indicator because a NULL was seen.
    EXPECT_EQ(f.output_names(), (std::vector<std::string>{"a", "a_missing", "b", "c", "d"}));
    auto out = run(f, {RawValue::of_number(4), RawValue::of_number(std::exp(1.0) - 1), RawValue::of_number(5),
                       RawValue::of_number(20)});
    EXPECT_FLOAT_EQ(out[0], 2.0f);    // (4 - 2) / 1
    EXPECT_FLOAT_EQ(out[1], 0.0f);    // not missing
    EXPECT_NEAR(out[2], 0.0f, 1e-6);  // log1p: log 1+x = 1, the mean of {0, 1, 2}
    EXPECT_FLOAT_EQ(out[3], 0.75f);   // (5 - 2) / (6 - 2)
    EXPECT_FLOAT_EQ(out[4], 10.0f);   // clipped, raw
    out = run(f, {RawValue::null(), RawValue::of_number(0), RawValue::of_number(2), RawValue::of_number(-3)});
    EXPECT_FLOAT_EQ(out[0], 0.0f);  // imputed with the mean
    EXPECT_FLOAT_EQ(out[1], 1.0f);
    EXPECT_FLOAT_EQ(out[4], 0.0f);
    EXPECT_EQ(
        kind_of([&] {
            run(f, {RawValue::of_number(NAN), RawValue::of_number(0), RawValue::of_number(0), RawValue::of_number(0)});
        }),
        ErrorKind::Data);
    EXPECT_EQ(kind_of([&] {
                  run(f, {RawValue::of_number(1), RawValue::of_number(INFINITY), RawValue::of_number(0),
                          RawValue::of_number(0)});
              }),
              ErrorKind::Data);
}

TEST(Featurizer, NonFiniteAsMissing) {
    FeaturizerFitter fitter(
        resolve_spec({{"a", SqlTypeClass::Number}}, R"({"a": {"missing_indicator": true}})", "", "", "missing"));
    for (double x : {1.0, 3.0, double(NAN)}) {
        RawValue v = RawValue::of_number(x);
        fitter.add(&v);
    }
    const Featurizer f = fitter.finish();
    RawValue v = RawValue::of_number(-INFINITY);
    EXPECT_EQ(run(f, {v}), (std::vector<float>{0.0f, 1.0f}));
}

// A finite input whose feature overflows a float (1e300 standardized) is not finite either: the nonfinite
// policy decides, as for an infinite input (issue #22): an error, or the column's imputation when 'missing'.
TEST(Featurizer, OverflowedFeatureFollowsTheNonFinitePolicy) {
    for (const char* policy : {"error", "missing"}) {
        FeaturizerFitter fitter(
            resolve_spec({{"a", SqlTypeClass::Number}}, R"({"a": {"missing_indicator": true}})", "", "", policy));
        for (double x : {1.0, 3.0}) {
            RawValue v = RawValue::of_number(x);
            fitter.add(&v);
        }
        const Featurizer f = fitter.finish();
        EXPECT_EQ(run(f, {RawValue::of_number(3.0)}), (std::vector<float>{1.0f, 0.0f}));
        if (std::strcmp(policy, "error") == 0) {
            EXPECT_EQ(kind_of([&] { run(f, {RawValue::of_number(1e300)}); }), ErrorKind::Data);
            EXPECT_EQ(kind_of([&] { run(f, {RawValue::of_number(-1e300)}); }), ErrorKind::Data);
        } else {
            EXPECT_EQ(run(f, {RawValue::of_number(1e300)}),
                      (std::vector<float>{0.0f, 1.0f}));  // the mean, flagged missing
        }
    }
}

TEST(Featurizer, CategoricalOneHotFrequencyTarget) {
    const std::vector<InputColumn> columns{{"m", SqlTypeClass::Text},
                                           {"f", SqlTypeClass::Text},
                                           {"t", SqlTypeClass::Integer},
                                           {"y", SqlTypeClass::Integer}};
    FeaturizerFitter fitter(
        resolve_spec(columns, R"({"m": {"top_k": 2}, "f": "frequency", "t": {"kind": "target", "smoothing": 2}})", "",
                     "y", "error"));
    // m: a x3, b x2, c x1; t: 7 -> labels {1, 1, 0}, 8 -> {0, 0, 0}; prior = 2 / 6.
    const char* m[] = {"a", "a", "a", "b", "b", "c"};
    const double t[] = {7, 7, 7, 8, 8, 8}, y[] = {1, 1, 0, 0, 0, 0};
    for (int i = 0; i < 6; ++i) {
        std::vector<RawValue> row{text(m[i]), text(m[i]), RawValue::of_number(t[i]), RawValue::of_number(y[i])};
        fitter.add(row.data());
    }
    const Featurizer f = fitter.finish();
    EXPECT_EQ(f.output_names(), (std::vector<std::string>{"m=a", "m=b", "m=__other__", "f_frequency", "t_target"}));
    auto out = run(f, {text("b"), text("a"), RawValue::of_number(7), RawValue::null()});
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 3), (std::vector<float>{0, 1, 0}));
    EXPECT_FLOAT_EQ(out[3], 0.5f);                             // 3 of 6
    EXPECT_NEAR(out[4], (2 + 2 * (2.0 / 6)) / (3 + 2), 1e-6);  // smoothed mean of 7's labels
    // Unseen -> other / 0 / the prior; the text '8' is the same category as the integer 8.
    out = run(f, {text("zzz"), text("zzz"), text("8"), RawValue::null()});
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 3), (std::vector<float>{0, 0, 1}));
    EXPECT_FLOAT_EQ(out[3], 0.0f);
    EXPECT_NEAR(out[4], (0 + 2 * (2.0 / 6)) / (3 + 2), 1e-6);
    out = run(f, {text("c"), text("q"), RawValue::of_number(99), RawValue::null()});
    EXPECT_FLOAT_EQ(out[2], 1.0f);  // c was seen but is not in the top 2
    EXPECT_NEAR(out[4], 2.0 / 6, 1e-6);
    // top_k cut m's vocabulary (c taught "other"); frequency and target have unseen values: nothing to say.
    EXPECT_EQ(f.unseen_category_rows(), 0u);
}

// A one-hot column whose fitting rows all had a kept category (fewer than top_k) counts the rows that bring a
// new one (the pg side's NOTICE), and names the column; a known category or a NULL does not count.
TEST(Featurizer, NewCategoryOfAClosedVocabularyIsCounted) {
    const std::vector<InputColumn> columns{{"country", SqlTypeClass::Text}, {"x", SqlTypeClass::Number}};
    FeaturizerFitter fitter(resolve_spec(columns, "", "", "", "error"));
    const char* country[] = {"FR", "DE", "FR", "IT"};
    for (int i = 0; i < 4; ++i) {
        std::vector<RawValue> row{text(country[i]), RawValue::of_number(i)};
        fitter.add(row.data());
    }
    const Featurizer f = fitter.finish();
    run(f, {text("DE"), RawValue::of_number(1)});
    run(f, {RawValue::null(), RawValue::of_number(1)});
    EXPECT_EQ(f.unseen_category_rows(), 0u);
    const auto out = run(f, {text("ES"), RawValue::of_number(1)});
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 4), (std::vector<float>{0, 0, 0, 1}));  // "__other__"
    EXPECT_EQ(f.unseen_category_rows(), 1u);
    ASSERT_NE(f.last_unseen_category_column(), nullptr);
    EXPECT_EQ(f.last_unseen_category_column()->spec.name, "country");
    const Featurizer copy = f;  // copies carry the count
    EXPECT_EQ(copy.unseen_category_rows(), 1u);
}

TEST(Featurizer, CategoricalIndex) {
    const std::vector<InputColumn> columns{{"terminal", SqlTypeClass::Integer}, {"m", SqlTypeClass::Text}};
    FeaturizerFitter fitter(resolve_spec(
        columns, R"({"terminal": "index", "m": {"encoding": "index", "max_categories": 2}})", "", "", "error"));
    // terminal: 5 x3, 9 x2, 4 x1 -> ranks 1, 2, 3; m keeps its 2 most frequent.
    const double terminal[] = {5, 5, 5, 9, 9, 4};
    const char* m[] = {"x", "x", "y", "y", "y", "z"};
    for (int i = 0; i < 6; ++i) {
        std::vector<RawValue> row{RawValue::of_number(terminal[i]), text(m[i])};
        fitter.add(row.data());
    }
    const Featurizer f = fitter.finish();
    EXPECT_EQ(f.output_names(), (std::vector<std::string>{"terminal_index", "m_index"}));
    ASSERT_EQ(f.index_outputs().size(), 2u);
    EXPECT_EQ(f.index_outputs()[0].output, 0);
    EXPECT_EQ(f.index_outputs()[0].rows, 4);  // 3 categories + the unseen row
    EXPECT_EQ(f.index_outputs()[1].rows, 3);
    EXPECT_EQ(run(f, {RawValue::of_number(5), text("y")}), (std::vector<float>{1, 1}));
    EXPECT_EQ(run(f, {RawValue::of_number(4), text("x")}), (std::vector<float>{3, 2}));
    // Unseen, dropped by max_categories, and missing: the unseen row 0.
    EXPECT_EQ(f.unseen_category_rows(), 0u);
    EXPECT_EQ(run(f, {RawValue::of_number(77), text("z")}), (std::vector<float>{0, 0}));
    EXPECT_EQ(run(f, {RawValue::null(), RawValue::null()})[0], 0.0f);
    // terminal kept every category it saw: 77 is new to it (counted); m's z was cut by max_categories (not).
    EXPECT_EQ(f.unseen_category_rows(), 1u);
    ASSERT_NE(f.last_unseen_category_column(), nullptr);
    EXPECT_EQ(f.last_unseen_category_column()->spec.name, "terminal");
    // The spec survives its JSON.
    EXPECT_EQ(FeaturizerSpec::from_json(f.spec().to_json()).columns[1].encoding, CategoricalEncoding::Index);
}

TEST(Featurizer, TimestampFeatures) {
    FeaturizerFitter fitter(resolve_spec({{"at", SqlTypeClass::Timestamp}}, "", "", "", "error"));
    // 2024-01-06 (a Saturday) 23:30.
    const int64_t saturday_2330 = (19728LL * 24 * 3600 + 23 * 3600 + 30 * 60) * 1000000LL;
    RawValue v = RawValue::of_time(saturday_2330);
    fitter.add(&v);
    const Featurizer f = fitter.finish();
    auto out = run(f, {v});
    const double hour = 23.5;
    EXPECT_NEAR(out[0], std::sin(2 * M_PI * hour / 24), 1e-6);
    EXPECT_NEAR(out[1], std::cos(2 * M_PI * hour / 24), 1e-6);
    EXPECT_NEAR(out[2], std::sin(2 * M_PI * 5 / 7), 1e-6);
    EXPECT_FLOAT_EQ(out[4], 1.0f);                                             // weekend
    EXPECT_FLOAT_EQ(out[5], 1.0f);                                             // night
    out = run(f, {RawValue::of_time(saturday_2330 - 2 * kDay - 12 * kHour)});  // Thursday 11:30
    EXPECT_FLOAT_EQ(out[4], 0.0f);
    EXPECT_FLOAT_EQ(out[5], 0.0f);
    // Before 1970 too.
    out = run(f, {RawValue::of_time(-kDay + 2 * kHour)});  // 1969-12-31 02:00, a Wednesday
    EXPECT_NEAR(out[2], std::sin(2 * M_PI * 2 / 7), 1e-6);
    EXPECT_FLOAT_EQ(out[5], 1.0f);
}

TEST(Featurizer, InetFeatures) {
    FeaturizerFitter fitter(resolve_spec({{"ip", SqlTypeClass::Inet}}, R"({"ip": {"buckets": 8}})", "", "", "error"));
    const uint8_t public_a[4] = {8, 8, 4, 4}, public_b[4] = {8, 8, 4, 200}, private_ip[4] = {192, 168, 1, 7};
    const uint8_t loopback[4] = {127, 0, 0, 1};
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    RawValue v = RawValue::of_inet(public_a, false);
    fitter.add(&v);
    const Featurizer f = fitter.finish();
    EXPECT_EQ(f.output_count(), 2 * 8 + 3);
    auto a = run(f, {RawValue::of_inet(public_a, false)});
    auto b = run(f, {RawValue::of_inet(public_b, false)});
    EXPECT_EQ(a, b);  // the same /24
    float ones = 0;
    for (float x : a) ones += x;
    EXPECT_EQ(ones, 2.0f);  // one bucket per prefix length, no flag
    EXPECT_FLOAT_EQ(run(f, {RawValue::of_inet(private_ip, false)})[16], 1.0f);
    EXPECT_FLOAT_EQ(run(f, {RawValue::of_inet(loopback, false)})[17], 1.0f);
    EXPECT_FLOAT_EQ(run(f, {RawValue::of_inet(v6, true)})[18], 1.0f);
    auto missing = run(f, {RawValue::null()});
    for (float x : missing) EXPECT_EQ(x, 0.0f);
}

TEST(Featurizer, SpecRoundTripGivesTheSameOutputs) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},
                                           {"m", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp},
                                           {"card", SqlTypeClass::Integer},
                                           {"y", SqlTypeClass::Integer}};
    const FeaturizerSpec spec = resolve_spec(
        columns, R"({"amount": {"transform": "log1p", "clip": [0, 1000]}, "m": {"encoding": "target"}})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean", "max"]},
            {"entity": "card", "time": "at", "label": "y", "delay": "2 days", "windows": ["7 days"], "name": "card_risk"}])",
        "y", "error");
    const FeaturizerSpec copy = FeaturizerSpec::from_json(spec.to_json());
    EXPECT_EQ(copy.to_json(), spec.to_json());
}
