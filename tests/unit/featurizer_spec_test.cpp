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

// The automatic choice looks at a sample of the data (profiles) for the columns without an override: row
// identifiers and free text are left out, identifiers get frequency encoding, a date of birth becomes an
// age at the event time; each choice is listed and stored.
TEST(FeaturizerSpec, AutomaticChoicesFromTheData) {
    const std::vector<InputColumn> columns{
        {"trans_num", SqlTypeClass::Text},    {"row_index", SqlTypeClass::Integer}, {"cc_num", SqlTypeClass::Integer},
        {"merchant", SqlTypeClass::Text},     {"category", SqlTypeClass::Text},     {"street", SqlTypeClass::Text},
        {"tx_time", SqlTypeClass::Timestamp}, {"dob", SqlTypeClass::Timestamp},     {"amount", SqlTypeClass::Number},
        {"zip", SqlTypeClass::Integer},       {"fraud", SqlTypeClass::Boolean}};
    const std::vector<ColumnProfile> profiles{{"trans_num", 5000, 5000, 0, 32, 0, ""},
                                              {"row_index", 5000, 5000, 0, 0, 0, ""},
                                              {"cc_num", 5000, 300, 0, 0, 4e15, ""},
                                              {"merchant", 5000, 120, 0.2, 9, 0, ""},
                                              {"category", 5000, 14, 0, 6, 0, ""},
                                              {"street", 5000, 300, 1.0, 22, 0, ""},
                                              {"tx_time", 5000, 4990, 0, 0, 0, "timestamptz"},
                                              {"dob", 5000, 300, 0, 0, 0, "date"},
                                              {"zip", 5000, 900, 0, 0, 10001, ""}};
    const FeaturizerSpec spec = resolve_spec(columns, R"({"merchant": "onehot"})", "", "fraud", "error", {}, profiles);
    auto kind_of_column = [&](const std::string& name) -> const ColumnSpec* {
        for (const auto& c : spec.columns)
            if (c.name == name) return &c;
        return nullptr;
    };
    EXPECT_EQ(kind_of_column("trans_num"), nullptr);  // identifies rows
    EXPECT_EQ(kind_of_column("row_index"), nullptr);
    EXPECT_EQ(kind_of_column("street"), nullptr);  // free text
    EXPECT_EQ(kind_of_column("dob"), nullptr);     // replaced by its age
    // The identifier with the most distinct values is the entity of an automatic history (not a feature).
    EXPECT_EQ(kind_of_column("cc_num"), nullptr);
    ASSERT_EQ(spec.history.size(), 1u);
    EXPECT_EQ(spec.history[0].entity, "cc_num");
    EXPECT_EQ(spec.history[0].time, "tx_time");
    EXPECT_EQ(spec.history[0].value, "amount");
    EXPECT_TRUE(spec.history[0].count && spec.history[0].since_last && spec.history[0].ratio_to_mean);
    EXPECT_EQ(spec.history[0].window_names, (std::vector<std::string>{"1h", "1d", "7d"}));
    EXPECT_EQ(kind_of_column("merchant")->encoding, CategoricalEncoding::OneHot);  // the override wins
    EXPECT_EQ(kind_of_column("category")->encoding, CategoricalEncoding::OneHot);  // few values
    EXPECT_EQ(kind_of_column("zip")->kind, ColumnKind::Numeric);                   // neither unique nor 10 digits
    EXPECT_EQ(kind_of_column("tx_time")->kind, ColumnKind::Timestamp);             // the event time
    ASSERT_NE(kind_of_column("dob_age_years"), nullptr);
    EXPECT_EQ(kind_of_column("dob_age_years")->kind, ColumnKind::Numeric);
    ASSERT_EQ(spec.derived.size(), 1u);
    EXPECT_EQ(spec.derived[0].expression, R"(dendrite.age_years("dob", "tx_time"))");
    ASSERT_EQ(spec.automatic.size(), 5u);  // trans_num, row_index, cc_num (history), street, dob
    const std::string notice = describe_automatic_choices(spec);
    EXPECT_NE(notice.find("trans_num: ignore, identifies rows (5000 distinct values in 5000 sampled rows)"),
              std::string::npos)
        << notice;
    EXPECT_NE(notice.find("street: ignore, free text"), std::string::npos) << notice;
    EXPECT_NE(notice.find("cc_num: history, the identifier with the most distinct values (300)"), std::string::npos)
        << notice;
    // Kept with the stored spec.
    EXPECT_EQ(FeaturizerSpec::from_json(spec.to_json()).automatic.size(), 5u);

    // Under 1,000 sampled rows, all-distinct values do not prove a row identifier: the integer stays a
    // number, the text (more than 50 values) is frequency-encoded rather than left out.
    const std::vector<ColumnProfile> few{{"trans_num", 200, 200, 0, 32, 0, ""}, {"row_index", 200, 200, 0, 0, 0, ""}};
    const FeaturizerSpec small = resolve_spec(columns, "", "", "fraud", "error", {}, few);
    ASSERT_EQ(small.automatic.size(), 1u);
    EXPECT_EQ(small.automatic[0].column, "trans_num");
    EXPECT_EQ(small.automatic[0].choice, "frequency");

    // Two latitude/longitude pairs: their distance, a derived column.
    std::vector<InputColumn> with_places = columns;
    for (const char* name : {"lat", "long", "merch_lat", "merch_long"})
        with_places.push_back({name, SqlTypeClass::Number});
    const FeaturizerSpec placed = resolve_spec(with_places, "", "", "fraud", "error", {}, profiles);
    bool distance = false;
    for (const auto& d : placed.derived)
        distance |= d.name == "distance_km" &&
                    d.expression == R"(dendrite.distance_km("lat", "long", "merch_lat", "merch_long"))";
    EXPECT_TRUE(distance);
    EXPECT_EQ(placed.automatic.size(), 7u);  // the five above, merchant (no override here), distance_km

    // With history, the event time is the history's time column, whatever has more distinct values.
    const FeaturizerSpec with_history = resolve_spec(
        columns, "", R"([{"entity": "cc_num", "time": "dob", "windows": ["1 day"]}])", "fraud", "error", {}, profiles);
    for (const auto& a : with_history.automatic) EXPECT_NE(a.column, "cc_num");  // an entity keeps its role
    bool tx_time_aged = false;
    for (const auto& d : with_history.derived) tx_time_aged |= d.name == "tx_time_age_years";
    EXPECT_FALSE(tx_time_aged);  // timestamptz against a date event time: no expression, left as it was
}

// "entity": ["card", "merchant"]: a composite entity is a derived text column, the entity of the history.
TEST(FeaturizerSpec, CompositeEntity) {
    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Integer},
                                           {"merchant", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp},
                                           {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, "", R"([{"entity": ["card", "merchant"], "time": "at", "value": "amount", "windows": ["1 day"]}])", "",
        "error");
    ASSERT_EQ(spec.derived.size(), 1u);
    EXPECT_EQ(spec.derived[0].name, "card_merchant");
    EXPECT_EQ(spec.derived[0].expression, R"("card"::text || chr(31) || "merchant"::text)");
    EXPECT_EQ(spec.history[0].entity, "card_merchant");
    EXPECT_EQ(spec.history[0].name, "card_merchant");
    for (const auto& c : spec.columns) EXPECT_NE(c.name, "card_merchant");  // an entity, not a feature
    EXPECT_EQ(FeaturizerSpec::from_json(spec.to_json()).inputs(), spec.inputs());

    auto bad = [&](const std::string& history) {
        EXPECT_EQ(kind_of([&] { resolve_spec(columns, "", history, "", "error"); }), ErrorKind::InvalidParameter)
            << history;
    };
    bad(R"([{"entity": ["card"], "time": "at", "windows": ["1 day"]}])");
    bad(R"([{"entity": ["card", "nope"], "time": "at", "windows": ["1 day"]}])");
    bad(R"([{"entity": ["card", "amount"], "time": "at", "windows": ["1 day"]}])");  // a number is no entity
    bad(R"([{"entity": ["card", 3], "time": "at", "windows": ["1 day"]}])");
}

// "within": history of an entity the shards split is keyed by (entity, the row's shard): a derived text
// column that calls dendrite.shard_of, named or resolved from the query's shard layout.
TEST(FeaturizerSpec, HistoryWithinShard) {
    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Integer},
                                           {"terminal", SqlTypeClass::Integer},
                                           {"merchant", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp}};
    const FeaturizerSpec named = resolve_spec(
        columns, "",
        R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "card", "shards": 4}}])", "",
        "error");
    ASSERT_EQ(named.derived.size(), 1u);
    EXPECT_EQ(named.derived[0].name, "terminal_within_shard");
    EXPECT_EQ(named.derived[0].expression, R"("terminal"::text || chr(31) || dendrite.shard_of("card", 4)::text)");
    EXPECT_EQ(named.history[0].entity, "terminal_within_shard");
    EXPECT_EQ(named.history[0].within_key, "card");
    EXPECT_EQ(named.history[0].within_shards, 4);
    const FeaturizerSpec reread = FeaturizerSpec::from_json(named.to_json());
    EXPECT_EQ(reread.history[0].within_key, "card");
    EXPECT_EQ(reread.history[0].within_shards, 4);
    EXPECT_EQ(reread.inputs(), named.inputs());

    // "shard": the layout of the table the query reads (the coordinator's), the same spec.
    const ShardLayout layout{"card", 4};
    const FeaturizerSpec resolved =
        resolve_spec(columns, "", R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": "shard"}])",
                     "", "error", {}, {}, &layout);
    EXPECT_EQ(resolved.to_json(), named.to_json());

    // A composite entity is scoped as a whole.
    const FeaturizerSpec composite = resolve_spec(
        columns, "",
        R"([{"entity": ["terminal", "merchant"], "time": "at", "windows": ["1 day"], "within": {"key": "card", "shards": 2}}])",
        "", "error");
    ASSERT_EQ(composite.derived.size(), 2u);
    EXPECT_EQ(composite.derived[1].name, "terminal_merchant_within_shard");
    EXPECT_EQ(composite.derived[1].expression,
              R"(("terminal"::text || chr(31) || "merchant"::text) || chr(31) || dendrite.shard_of("card", 2)::text)");

    auto bad = [&](const std::string& history, const ShardLayout* shards = nullptr) {
        EXPECT_EQ(kind_of([&] { resolve_spec(columns, "", history, "", "error", {}, {}, shards); }),
                  ErrorKind::InvalidParameter)
            << history;
    };
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": "shard"}])");  // no layout
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": "cluster"}])", &layout);
    bad(R"([{"entity": "card", "time": "at", "windows": ["1 day"], "within": "shard"}])", &layout);  // the key itself
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "card"}}])");
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "nope", "shards": 2}}])");
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "at", "shards": 2}}])");
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "card", "shards": 0}}])");
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": {"key": "card", "shards": 2, "x": 1}}])");
    bad(R"([{"entity": "terminal", "time": "at", "windows": ["1 day"], "within": 3}])");
}
