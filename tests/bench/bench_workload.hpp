// The benchmarks' workload, engine only: the project generator's transactions as raw rows of ~10 columns,
// and the featurizer spec of issue #6 (6 customer-history features; "handbook" adds the terminal's delayed
// count and fraud rate, 12 history features in all). Shared by featurizer_bench and scoring_bench.
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/generator.hpp"

namespace dendrite::engine {

struct BenchWorkload {
    FeaturizerSpec spec;
    std::vector<std::string> inputs;  // the featurizer's input order
    std::vector<RawValue> rows;       // n rows of inputs.size() values, in time order
    size_t n = 0;

    // The featurizer fitted on the first fifth of the rows.
    Featurizer fit() const {
        FeaturizerFitter fitter(spec);
        for (size_t i = 0; i < n / 5; ++i) fitter.add(&rows[i * inputs.size()]);
        return fitter.finish();
    }
};

inline BenchWorkload make_bench_workload(size_t wanted, bool handbook) {
    GeneratorOptions g;
    g.days = int(std::max<size_t>(10, wanted / (2 * size_t(g.customers))));
    const auto transactions = generate_transactions(g);
    const size_t n = std::min(wanted, transactions.size());

    const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number},    {"online", SqlTypeClass::Boolean},
                                           {"country", SqlTypeClass::Text},     {"category", SqlTypeClass::Text},
                                           {"at", SqlTypeClass::Timestamp},     {"ip", SqlTypeClass::Inet},
                                           {"customer", SqlTypeClass::Integer}, {"terminal", SqlTypeClass::Integer},
                                           {"fraud", SqlTypeClass::Integer},    {"id", SqlTypeClass::Integer}};
    // The issue's workload: ~10 raw columns with 6 history features (the customer's count and mean over
    // 1/7/30 days); "handbook" adds the terminal's delayed count and fraud rate (12 history features).
    const std::string history_json =
        std::string(
            R"([{"entity": "customer", "time": "at", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]})") +
        (handbook
             ? R"(, {"entity": "terminal", "time": "at", "label": "fraud", "delay": "7 days", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_rate"]}])"
             : "]");
    FeaturizerSpec spec =
        resolve_spec(columns, R"({"id": "ignore", "amount": "log1p"})", history_json, "fraud", "error");

    // Raw rows, in the featurizer's input order.
    const auto& countries = generator_countries();
    const auto& categories = generator_merchant_categories();
    const std::vector<std::string> inputs = FeaturizerFitter(spec).inputs();
    std::vector<RawValue> rows(n * inputs.size());
    for (size_t i = 0; i < n; ++i) {
        const Transaction& t = transactions[i];
        RawValue* row = &rows[i * inputs.size()];
        for (size_t j = 0; j < inputs.size(); ++j) {
            const std::string& c = inputs[j];
            if (c == "amount")
                row[j] = RawValue::of_number(t.amount);
            else if (c == "online")
                row[j] = RawValue::of_number(t.online);
            else if (c == "country")
                row[j] = RawValue::of_text(countries[t.country], 2);
            else if (c == "category")
                row[j] = RawValue::of_text(categories[t.merchant_category],
                                           uint32_t(std::strlen(categories[t.merchant_category])));
            else if (c == "at")
                row[j] = RawValue::of_time(int64_t(1767571200 + t.seconds) * 1000000);
            else if (c == "ip") {
                if (t.online) {
                    const uint8_t b[4] = {uint8_t(t.ipv4 >> 24), uint8_t(t.ipv4 >> 16), uint8_t(t.ipv4 >> 8),
                                          uint8_t(t.ipv4)};
                    row[j] = RawValue::of_inet(b, false);
                }
            } else if (c == "customer")
                row[j] = RawValue::of_number(t.customer_id);
            else if (c == "terminal")
                row[j] = RawValue::of_number(t.terminal_id);
            else if (c == "fraud")
                row[j] = RawValue::of_number(t.fraud);
        }
    }
    return BenchWorkload{std::move(spec), inputs, std::move(rows), n};
}

}  // namespace dendrite::engine
