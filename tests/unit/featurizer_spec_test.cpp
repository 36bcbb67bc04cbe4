// A featurizer's spec (engine/featurizer_spec.hpp): automatic kinds from the column types, overrides,
// intervals, and clear errors naming what is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine/error.hpp"
#include "engine/featurizer_spec.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

TEST(FeaturizerSpec, AutomaticKindsAndOverrides) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},  {"merchant", SqlTypeClass::Text},
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
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},
                                           {"merchant", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp},
                                           {"card", SqlTypeClass::Integer}};
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

// Derived columns: declared as an object of name -> SQL expression, read like the query's columns after
// them, kept in the stored spec; a derived column may not hide a query column nor be a history's time.
TEST(FeaturizerSpec, DerivedColumns) {
    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},
                                           {"at", SqlTypeClass::Timestamp},
                                           {"card", SqlTypeClass::Integer},
                                           {"merchant", SqlTypeClass::Text},
                                           {"fraud", SqlTypeClass::Boolean}};
    std::vector<DerivedColumn> derived =
        parse_derived(R"j({"home_km": "dendrite.distance_km(a, b, c, d)", "card_merchant": "card || merchant"})j");
    ASSERT_EQ(derived.size(), 2u);
    EXPECT_EQ(derived[0].name, "home_km");  // in the order written
    EXPECT_EQ(derived[1].expression, "card || merchant");
    EXPECT_EQ(derived[0].type, SqlTypeClass::Other);  // known once PostgreSQL has compiled it
    derived[0].type = SqlTypeClass::Number;
    derived[1].type = SqlTypeClass::Text;

    const FeaturizerSpec spec =
        resolve_spec(columns, R"({"home_km": "log1p"})",
                     R"([{"entity": "card_merchant", "time": "at", "value": "home_km", "windows": ["1 day"]}])",
                     "fraud", "error", derived);
    ASSERT_EQ(spec.derived.size(), 2u);
    EXPECT_EQ(spec.columns.back().name, "home_km");  // after the query's columns
    EXPECT_EQ(spec.columns.back().transform, NumericTransform::Log1p);
    for (const auto& c : spec.columns) EXPECT_NE(c.name, "card_merchant");  // an entity, not a feature
    const std::vector<std::string> inputs = spec.inputs();
    EXPECT_NE(std::find(inputs.begin(), inputs.end(), "card_merchant"), inputs.end());

    const FeaturizerSpec stored = FeaturizerSpec::from_json(spec.to_json());
    ASSERT_EQ(stored.derived.size(), 2u);
    EXPECT_EQ(stored.derived[0].name, "home_km");
    EXPECT_EQ(stored.derived[0].expression, "dendrite.distance_km(a, b, c, d)");
    EXPECT_EQ(stored.inputs(), inputs);
    // A spec stored before derived columns existed has none.
    EXPECT_TRUE(FeaturizerSpec::from_json(R"({"label": "", "nonfinite": "error", "columns": [], "history": []})")
                    .derived.empty());

    auto bad_declaration = [](const std::string& json) {
        EXPECT_EQ(kind_of([&] { parse_derived(json); }), ErrorKind::InvalidParameter) << json;
    };
    bad_declaration("{not json");
    bad_declaration(R"(["amount * 2"])");
    bad_declaration(R"({"x": 2})");
    bad_declaration(R"({"x": "  "})");
    bad_declaration(R"({"": "amount"})");
    bad_declaration("{\"" + std::string(64, 'x') + "\": \"amount\"}");

    auto bad_spec = [&](const std::vector<DerivedColumn>& d, const std::string& history) {
        EXPECT_EQ(kind_of([&] { resolve_spec(columns, "", history, "fraud", "error", d); }),
                  ErrorKind::InvalidParameter)
            << history;
    };
    bad_spec({{"amount", "amount * 2", SqlTypeClass::Number}}, "");  // hides a query column
    bad_spec({{"t", "at", SqlTypeClass::Timestamp}}, R"([{"entity": "card", "time": "t", "windows": ["1 day"]}])");
}
