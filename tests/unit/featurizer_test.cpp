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

using namespace dendrite::engine;

namespace {

constexpr int64_t kHour = 3600LL * 1000000LL;
constexpr int64_t kDay = 24 * kHour;

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no engine error was thrown";
    return ErrorKind::Internal;
}

std::vector<float> run(const Featurizer& f, const std::vector<RawValue>& row, const HistoryState* history = nullptr) {
    std::vector<float> out(f.output_count());
    f.transform(row.data(), history, out.data());
    return out;
}

RawValue text(const char* s) { return RawValue::of_text(s, uint32_t(std::strlen(s))); }

}  // namespace

TEST(FeaturizerSpec, AutomaticKindsAndOverrides) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number}, {"merchant", SqlTypeClass::Text},
                                           {"online", SqlTypeClass::Boolean}, {"at", SqlTypeClass::Timestamp},
                                           {"ip", SqlTypeClass::Inet},        {"blob", SqlTypeClass::Other},
                                           {"card", SqlTypeClass::Integer},   {"fraud", SqlTypeClass::Integer}};
    FeaturizerSpec spec = resolve_spec(columns, "", "", "fraud", "error");
    ASSERT_EQ(spec.columns.size(), 6u);  // blob ignored, label excluded
    EXPECT_EQ(spec.columns[0].kind, ColumnKind::Numeric);
    EXPECT_EQ(spec.columns[1].kind, ColumnKind::Categorical);
    EXPECT_EQ(spec.columns[2].kind, ColumnKind::Boolean);
    EXPECT_EQ(spec.columns[3].kind, ColumnKind::Timestamp);
    EXPECT_EQ(spec.columns[4].kind, ColumnKind::Inet);
    EXPECT_EQ(spec.columns[5].kind, ColumnKind::Numeric);

    spec = resolve_spec(columns, R"({"amount": "log1p", "card": {"kind": "categorical", "top_k": 3}, "ip": "ignore",
                                     "merchant": {"encoding": "target", "smoothing": 5}})",
                        "", "fraud", "missing");
    EXPECT_EQ(spec.columns[0].transform, NumericTransform::Log1p);
    EXPECT_EQ(spec.columns[1].encoding, CategoricalEncoding::Target);
    EXPECT_EQ(spec.columns.back().name, "card");
    EXPECT_EQ(spec.columns.back().top_k, 3);
    EXPECT_TRUE(spec.nonfinite_as_missing);
    for (const auto& c : spec.columns) EXPECT_NE(c.name, "ip");

    // Entity columns of history declarations are not features by default.
    spec = resolve_spec(columns, "", R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day"]}])",
                        "fraud", "error");
    for (const auto& c : spec.columns) EXPECT_NE(c.name, "card");
    ASSERT_EQ(spec.history.size(), 1u);
    EXPECT_TRUE(spec.history[0].count && spec.history[0].mean);
    EXPECT_EQ(spec.history[0].windows_us[0], kDay);
    EXPECT_EQ(HistoryState::output_names(spec.history[0])[1], "card_mean_1d");

    // output_count (per row, counted) agrees with output_names (named) for every aggregate.
    spec = resolve_spec(columns, "", R"([{"entity": "card", "time": "at", "value": "amount", "label": "fraud",
                                          "delay": "1 day", "windows": ["1 day", "7 days", "30 days"],
                                          "aggregates": ["count", "sum", "mean", "max", "ratio_to_mean",
                                                         "fraud_count", "fraud_rate"]},
                                         {"entity": "card", "time": "at", "windows": ["1 hour"]}])",
                        "fraud", "error");
    for (const HistorySpec& h : spec.history)
        EXPECT_EQ(size_t(HistoryState::output_count(h)), HistoryState::output_names(h).size());
    EXPECT_EQ(HistoryState::output_count(spec.history[0]), 21);
}

TEST(FeaturizerSpec, ClearErrors) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number}, {"merchant", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp}, {"card", SqlTypeClass::Integer}};
    auto bad = [&](const std::string& cols, const std::string& history, const std::string& label = "") {
        EXPECT_EQ(kind_of([&] { resolve_spec(columns, cols, history, label, "error"); }), ErrorKind::InvalidParameter)
            << cols << " " << history;
    };
    bad("{not json", "");
    bad("[1]", "");
    bad(R"({"nope": "numeric"})", "");
    bad(R"({"amount": "cubic"})", "");
    bad(R"({"merchant": "numeric"})", "");
    bad(R"({"amount": "timestamp"})", "");
    bad(R"({"merchant": "target"})", "");  // needs a label
    bad(R"({"amount": {"clip": [5, 1]}})", "");
    bad(R"({"amount": {"colour": 1}})", "");
    bad(R"({"merchant": {"top_k": 0}})", "");
    bad("", R"({"entity": "card"})");
    bad("", R"([{"entity": "card", "time": "at"}])");
    bad("", R"([{"entity": "card", "time": "at", "windows": ["soon"]}])");
    bad("", R"([{"entity": "card", "time": "at", "windows": ["-1 day"]}])");
    bad("", R"([{"entity": "card", "time": "amount", "windows": ["1 day"]}])");
    bad("", R"([{"entity": "nope", "time": "at", "windows": ["1 day"]}])");
    bad("", R"([{"entity": "card", "time": "at", "windows": ["1 day"], "aggregates": ["mean"]}])");
    bad("", R"([{"entity": "card", "time": "at", "label": "amount", "windows": ["1 day"]}])");  // no delay
    bad("", R"([{"entity": "card", "time": "at", "windows": ["1 day"], "aggregates": ["median"]}])");
    EXPECT_EQ(kind_of([&] { resolve_spec(columns, "", "", "", "sometimes"); }), ErrorKind::InvalidParameter);
    EXPECT_EQ(kind_of([&] { resolve_spec(columns, "", "", "nope", "error"); }), ErrorKind::InvalidParameter);
}

TEST(FeaturizerSpec, Intervals) {
    std::string name;
    EXPECT_EQ(parse_interval("1 hour", &name), kHour);
    EXPECT_EQ(name, "1h");
    EXPECT_EQ(parse_interval("7 days", &name), 7 * kDay);
    EXPECT_EQ(name, "7d");
    EXPECT_EQ(parse_interval("30d"), 30 * kDay);
    EXPECT_EQ(parse_interval("90 minutes"), 90 * 60 * 1000000LL);
    EXPECT_EQ(parse_interval("2 weeks"), 14 * kDay);
    EXPECT_EQ(parse_interval("3600"), kHour);
    EXPECT_THROW(parse_interval(""), Error);
    EXPECT_THROW(parse_interval("1 fortnight"), Error);
    EXPECT_THROW(parse_interval("0 days"), Error);
    EXPECT_THROW(parse_interval("99999 days"), Error);
}

TEST(Featurizer, NumericTransformsMissingAndNonFinite) {
    const std::vector<InputColumn> columns{{"a", SqlTypeClass::Number}, {"b", SqlTypeClass::Number},
                                           {"c", SqlTypeClass::Number}, {"d", SqlTypeClass::Number}};
    FeaturizerFitter fitter(resolve_spec(columns, R"({"b": "log1p", "c": "minmax", "d": {"clip": [0, 10], "transform": "none"}})",
                                         "", "", "error"));
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
    EXPECT_FLOAT_EQ(out[0], 2.0f);           // (4 - 2) / 1
    EXPECT_FLOAT_EQ(out[1], 0.0f);           // not missing
    EXPECT_NEAR(out[2], 0.0f, 1e-6);         // log1p: log 1+x = 1, the mean of {0, 1, 2}
    EXPECT_FLOAT_EQ(out[3], 0.75f);          // (5 - 2) / (6 - 2)
    EXPECT_FLOAT_EQ(out[4], 10.0f);          // clipped, raw
    out = run(f, {RawValue::null(), RawValue::of_number(0), RawValue::of_number(2), RawValue::of_number(-3)});
    EXPECT_FLOAT_EQ(out[0], 0.0f);  // imputed with the mean
    EXPECT_FLOAT_EQ(out[1], 1.0f);
    EXPECT_FLOAT_EQ(out[4], 0.0f);
    EXPECT_EQ(kind_of([&] { run(f, {RawValue::of_number(NAN), RawValue::of_number(0), RawValue::of_number(0), RawValue::of_number(0)}); }),
              ErrorKind::Data);
    EXPECT_EQ(kind_of([&] { run(f, {RawValue::of_number(1), RawValue::of_number(INFINITY), RawValue::of_number(0), RawValue::of_number(0)}); }),
              ErrorKind::Data);
}

TEST(Featurizer, NonFiniteAsMissing) {
    FeaturizerFitter fitter(resolve_spec({{"a", SqlTypeClass::Number}}, R"({"a": {"missing_indicator": true}})", "", "", "missing"));
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
        FeaturizerFitter fitter(resolve_spec({{"a", SqlTypeClass::Number}}, R"({"a": {"missing_indicator": true}})", "", "", policy));
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
            EXPECT_EQ(run(f, {RawValue::of_number(1e300)}), (std::vector<float>{0.0f, 1.0f}));  // the mean, flagged missing
        }
    }
}

TEST(Featurizer, CategoricalOneHotFrequencyTarget) {
    const std::vector<InputColumn> columns{{"m", SqlTypeClass::Text}, {"f", SqlTypeClass::Text},
                                           {"t", SqlTypeClass::Integer}, {"y", SqlTypeClass::Integer}};
    FeaturizerFitter fitter(resolve_spec(columns, R"({"m": {"top_k": 2}, "f": "frequency", "t": {"kind": "target", "smoothing": 2}})",
                                         "", "y", "error"));
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
    EXPECT_FLOAT_EQ(out[3], 0.5f);                                 // 3 of 6
    EXPECT_NEAR(out[4], (2 + 2 * (2.0 / 6)) / (3 + 2), 1e-6);       // smoothed mean of 7's labels
    // Unseen -> other / 0 / the prior; the text '8' is the same category as the integer 8.
    out = run(f, {text("zzz"), text("zzz"), text("8"), RawValue::null()});
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 3), (std::vector<float>{0, 0, 1}));
    EXPECT_FLOAT_EQ(out[3], 0.0f);
    EXPECT_NEAR(out[4], (0 + 2 * (2.0 / 6)) / (3 + 2), 1e-6);
    out = run(f, {text("c"), text("q"), RawValue::of_number(99), RawValue::null()});
    EXPECT_FLOAT_EQ(out[2], 1.0f);  // c was seen but is not in the top 2
    EXPECT_NEAR(out[4], 2.0 / 6, 1e-6);
}

TEST(Featurizer, CategoricalIndex) {
    const std::vector<InputColumn> columns{{"terminal", SqlTypeClass::Integer}, {"m", SqlTypeClass::Text}};
    FeaturizerFitter fitter(resolve_spec(columns, R"({"terminal": "index", "m": {"encoding": "index", "max_categories": 2}})",
                                         "", "", "error"));
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
    EXPECT_EQ(run(f, {RawValue::of_number(77), text("z")}), (std::vector<float>{0, 0}));
    EXPECT_EQ(run(f, {RawValue::null(), RawValue::null()})[0], 0.0f);
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
    EXPECT_FLOAT_EQ(out[4], 1.0f);  // weekend
    EXPECT_FLOAT_EQ(out[5], 1.0f);  // night
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
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number}, {"m", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp}, {"card", SqlTypeClass::Integer},
                                           {"y", SqlTypeClass::Integer}};
    const FeaturizerSpec spec = resolve_spec(
        columns, R"({"amount": {"transform": "log1p", "clip": [0, 1000]}, "m": {"encoding": "target"}})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean", "max"]},
            {"entity": "card", "time": "at", "label": "y", "delay": "2 days", "windows": ["7 days"], "name": "card_risk"}])",
        "y", "error");
    const FeaturizerSpec copy = FeaturizerSpec::from_json(spec.to_json());
    EXPECT_EQ(copy.to_json(), spec.to_json());
}

// train's automatic featurizer keeps the fit pass's rows in RawRows and featurizes them afterwards: every
// kind of value must come back as it went in, so that the features are those of a second pass.
TEST(RawRows, GiveBackEveryKindOfValueAndTheSameFeatures) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number}, {"m", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp}, {"ip", SqlTypeClass::Inet}};
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

// History: the incremental state against the definition, recomputed by brute force for every row.
TEST(History, IncrementalMatchesBruteForce) {
    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp},
                                           {"amount", SqlTypeClass::Number}, {"y", SqlTypeClass::Integer}};
    const FeaturizerSpec spec = resolve_spec(
        columns, R"({"amount": "raw", "at": "ignore"})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 hour", "1 day", "7 days"],
             "aggregates": ["count", "sum", "mean", "max", "ratio_to_mean"]},
            {"entity": "card", "time": "at", "label": "y", "delay": "2 days", "windows": ["1 day", "5 days"],
             "aggregates": ["count", "fraud_count", "fraud_rate"], "name": "risk"}])",
        "y", "error");
    struct Row {
        int64_t card, at;
        double amount;
        double y;  // NaN = unknown label
    };
    std::vector<Row> rows;
    Rng rng(5);
    int64_t now = 0;
    for (int i = 0; i < 4000; ++i) {
        now += int64_t(rng.uniform(0, 3 * kHour)) * (rng.uniform() < 0.1 ? 0 : 1);  // some equal times
        const double amount = rng.uniform() < 0.05 ? NAN : std::round(rng.uniform(1, 500) * 100) / 100;
        const double y = rng.uniform() < 0.1 ? NAN : (rng.uniform() < 0.2 ? 1 : 0);
        rows.push_back({int64_t(rng.below(40)), now, amount, y});
    }
    auto raw = [](const Row& r) {
        return std::vector<RawValue>{RawValue::of_number(double(r.card)), RawValue::of_time(r.at),
                                     std::isnan(r.amount) ? RawValue::null() : RawValue::of_number(r.amount),
                                     std::isnan(r.y) ? RawValue::null() : RawValue::of_number(r.y)};
    };
    HistoryState state(spec.history);
    std::vector<double> incremental(64);
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const auto values = raw(r);
        // Declaration 0: windows (t - w, t], the row included.
        HistoryEvent event{true, category_key(values[0]), r.at, r.amount, int8_t(std::isnan(r.y) ? -1 : int(r.y))};
        state.compute(0, event, incremental.data());
        size_t k = 0;
        for (int64_t w : spec.history[0].windows_us) {
            double count = 0, valued = 0, sum = 0, max = -INFINITY;
            for (size_t j = 0; j <= i; ++j)
                if (rows[j].card == r.card && rows[j].at > r.at - w && rows[j].at <= r.at) {
                    ++count;
                    if (!std::isnan(rows[j].amount)) {
                        ++valued;
                        sum += rows[j].amount;
                        max = std::max(max, rows[j].amount);
                    }
                }
            const double mean = valued ? sum / valued : 0;
            EXPECT_EQ(incremental[k++], count) << "row " << i;
            EXPECT_NEAR(incremental[k++], sum, 1e-7 * std::max(1.0, sum)) << "row " << i;
            EXPECT_NEAR(incremental[k++], mean, 1e-9 * std::max(1.0, mean)) << "row " << i;
            EXPECT_EQ(incremental[k++], valued ? max : 0) << "row " << i;
            const double ratio = !std::isnan(r.amount) && valued && mean != 0 ? r.amount / mean : 1.0;
            EXPECT_NEAR(incremental[k++], ratio, 1e-9 * std::max(1.0, ratio)) << "row " << i;
        }
        // Declaration 1: windows (t - 2d - w, t - 2d], labels only when known.
        state.compute(1, event, incremental.data());
        k = 0;
        for (int64_t w : spec.history[1].windows_us) {
            const int64_t upper = r.at - 2 * kDay;
            double count = 0, labelled = 0, frauds = 0;
            for (size_t j = 0; j < i; ++j)
                if (rows[j].card == r.card && rows[j].at > upper - w && rows[j].at <= upper) {
                    ++count;
                    if (!std::isnan(rows[j].y)) {
                        ++labelled;
                        frauds += rows[j].y;
                    }
                }
            EXPECT_EQ(incremental[k++], count) << "row " << i;
            EXPECT_EQ(incremental[k++], frauds) << "row " << i;
            EXPECT_DOUBLE_EQ(incremental[k++], labelled ? frauds / labelled : 0) << "row " << i;
        }
        state.observe(0, event);
        state.observe(1, event);
        if (::testing::Test::HasFailure()) break;
    }
    // Only the longest window plus the delay is kept per entity.
    EXPECT_LT(state.event_count(), rows.size() / 4);
    EXPECT_EQ(state.entity_count(), 80u);  // 40 cards in each declaration
}

// Many entities: the state's table grows and its records span many blocks; keys that agree in their low
// bits (FNV hashes of short texts differ mostly in the high ones) still find their own entity.
TEST(History, ManyEntitiesKeepTheirOwnState) {
    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp},
                                           {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, R"({"amount": "raw", "at": "ignore"})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "max"]}])",
        "", "error");
    HistoryState state(spec.history);
    constexpr int kEntities = 5000;
    const auto key = [](int e) { return (uint64_t(e) << 40) | 0x5bd1e995ULL; };
    std::vector<double> out(4);
    for (int round = 0; round < 3; ++round)
        for (int e = 0; e < kEntities; ++e) {
            // Entity e's events: amounts e, e + 1, e + 2, twelve hours apart, so the 1-day window drops the first.
            const HistoryEvent event{true, key(e), int64_t(round) * 12 * kHour, double(e + round), -1};
            state.prefetch(0, key(e));  // a hint for the table's slot (what transform() asks first); reads nothing
            state.compute(0, event, out.data());
            ASSERT_EQ(out[0], std::min(round, 1) + 1.0) << "entity " << e << " round " << round;  // count, 1 day
            ASSERT_EQ(out[1], double(e + round)) << "entity " << e;                               // max, 1 day
            ASSERT_EQ(out[2], round + 1.0) << "entity " << e;                                     // count, 7 days
            ASSERT_EQ(out[3], double(e + round)) << "entity " << e;                               // max, 7 days
            state.observe(0, event);
        }
    EXPECT_EQ(state.entity_count(), size_t(kEntities));
    EXPECT_EQ(state.event_count(), size_t(3 * kEntities));
}

// The offline pass (fit, then transform + observe in order) and the inline path (a fresh state fed row
// by row, transform before observe) give identical vectors, and NULL entities or times are skipped.
TEST(History, OfflineAndInlineAgreeBitForBit) {
    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Text}, {"at", SqlTypeClass::Timestamp},
                                           {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, "", R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "30 days"],
                          "aggregates": ["count", "mean", "max", "ratio_to_mean"]}])",
        "", "error");
    const char* cards[] = {"alice", "bob", "carol"};
    std::vector<std::vector<RawValue>> rows;
    Rng rng(9);
    for (int i = 0; i < 3000; ++i) {
        std::vector<RawValue> row{text(cards[rng.below(3)]), RawValue::of_time(int64_t(i) * 20 * 60 * 1000000LL),
                                  RawValue::of_number(rng.uniform(1, 100))};
        if (i % 97 == 0) row[0] = RawValue::null();
        rows.push_back(row);
    }
    FeaturizerFitter fitter(spec);
    for (const auto& row : rows) fitter.add(row.data());
    const Featurizer f = fitter.finish();
    auto offline = f.new_history();
    auto inline_state = f.new_history();
    for (const auto& row : rows) {
        const auto a = run(f, row, offline.get());
        f.observe(row.data(), offline.get());
        const auto b = run(f, row, inline_state.get());
        f.observe(row.data(), inline_state.get());
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    }
    // The history outputs were standardized with statistics fitted in the same pass.
    EXPECT_EQ(f.history_outputs().size(), 8u);
    EXPECT_GT(f.history_outputs()[0].scale, 0.0);
}
