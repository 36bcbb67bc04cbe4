// Featurizer speed, engine only (no PostgreSQL): ~10 raw columns with 6 entity-history features.
//   batch:  transform + observe over every row in time order (the offline pass), amortised per row
//   inline: one row's transform + observe, timed one call at a time (p50 / p99), as a trigger would
// Baseline in the same run: copying the raw values (the floor of any per-row work).
// Run: build/featurizer_bench [rows] [handbook]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/generator.hpp"

using namespace dendrite::engine;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const size_t wanted = argc > 1 ? size_t(std::atol(argv[1])) : 1000000;
    GeneratorOptions g;
    g.days = int(std::max<size_t>(10, wanted / (2 * size_t(g.customers))));
    const auto transactions = generate_transactions(g);
    const size_t n = std::min(wanted, transactions.size());

    const std::vector<InputColumn> columns{
        {"amount", SqlTypeClass::Number},   {"online", SqlTypeClass::Boolean},  {"country", SqlTypeClass::Text},
        {"category", SqlTypeClass::Text},   {"at", SqlTypeClass::Timestamp},     {"ip", SqlTypeClass::Inet},
        {"customer", SqlTypeClass::Integer}, {"terminal", SqlTypeClass::Integer}, {"fraud", SqlTypeClass::Integer},
        {"id", SqlTypeClass::Integer}};
    // The issue's workload: ~10 raw columns with 6 history features (the customer's count and mean over
    // 1/7/30 days); "handbook" adds the terminal's delayed count and fraud rate (12 history features).
    const bool handbook = argc > 2 && std::strcmp(argv[2], "handbook") == 0;
    const std::string history_json =
        std::string(R"([{"entity": "customer", "time": "at", "value": "amount", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "mean"]})") +
        (handbook ? R"(, {"entity": "terminal", "time": "at", "label": "fraud", "delay": "7 days", "windows": ["1 day", "7 days", "30 days"], "aggregates": ["count", "fraud_rate"]}])"
                  : "]");
    const FeaturizerSpec spec = resolve_spec(columns, R"({"id": "ignore", "amount": "log1p"})", history_json, "fraud", "error");

    // Raw rows, in the featurizer's input order.
    const auto& countries = generator_countries();
    const auto& categories = generator_merchant_categories();
    FeaturizerFitter fitter(spec);
    const std::vector<std::string> inputs = fitter.inputs();
    std::vector<RawValue> rows(n * inputs.size());
    for (size_t i = 0; i < n; ++i) {
        const Transaction& t = transactions[i];
        RawValue* row = &rows[i * inputs.size()];
        for (size_t j = 0; j < inputs.size(); ++j) {
            const std::string& c = inputs[j];
            if (c == "amount") row[j] = RawValue::of_number(t.amount);
            else if (c == "online") row[j] = RawValue::of_number(t.online);
            else if (c == "country") row[j] = RawValue::of_text(countries[t.country], 2);
            else if (c == "category") row[j] = RawValue::of_text(categories[t.merchant_category], uint32_t(std::strlen(categories[t.merchant_category])));
            else if (c == "at") row[j] = RawValue::of_time(int64_t(1767571200 + t.seconds) * 1000000);
            else if (c == "ip") {
                if (t.online) {
                    const uint8_t b[4] = {uint8_t(t.ipv4 >> 24), uint8_t(t.ipv4 >> 16), uint8_t(t.ipv4 >> 8), uint8_t(t.ipv4)};
                    row[j] = RawValue::of_inet(b, false);
                }
            } else if (c == "customer") row[j] = RawValue::of_number(t.customer_id);
            else if (c == "terminal") row[j] = RawValue::of_number(t.terminal_id);
            else if (c == "fraud") row[j] = RawValue::of_number(t.fraud);
        }
    }
    const size_t fit_rows = n / 5;
    for (size_t i = 0; i < fit_rows; ++i) fitter.add(&rows[i * inputs.size()]);
    const Featurizer f = fitter.finish();
    std::vector<float> out(size_t(f.output_count()));
    volatile float sink = 0;

    // Baseline: copying the raw values of each row.
    std::vector<RawValue> copy(inputs.size());
    auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
        std::memcpy(copy.data(), &rows[i * inputs.size()], inputs.size() * sizeof(RawValue));
        sink = sink + float(copy[0].number);
    }
    const double baseline_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(n);

    // Batch: the offline pass.
    auto history = f.new_history();
    start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
        f.transform(&rows[i * inputs.size()], history.get(), out.data());
        f.observe(&rows[i * inputs.size()], history.get());
        sink = sink + out[0];
    }
    const double batch_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(n);

    // Inline: the last rows again, one timed call each, on a state that holds the history before them,
    // sorted latencies. With evict_bytes, that many bytes are written between timed calls: in a trigger the
    // insert's own heap and index work (a few MB a row on a table with indexes) evicts the history state.
    const size_t timed = std::min<size_t>(100000, n / 2);
    const auto time_inline = [&](size_t evict_bytes) {
        auto state = f.new_history();
        for (size_t i = 0; i < n - timed; ++i) f.observe(&rows[i * inputs.size()], state.get());
        std::vector<char> evict(evict_bytes);
        std::vector<double> latencies;
        latencies.reserve(timed);
        for (size_t i = n - timed; i < n; ++i) {
            for (size_t b = 0; b < evict.size(); b += 64) evict[b] = char(b + i);
            const auto t0 = Clock::now();
            f.transform(&rows[i * inputs.size()], state.get(), out.data());
            f.observe(&rows[i * inputs.size()], state.get());
            latencies.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
            sink = sink + out[0];
        }
        std::sort(latencies.begin(), latencies.end());
        return latencies;
    };
    const std::vector<double> latencies = time_inline(0);
    const std::vector<double> cold = time_inline(size_t(4) << 20);

    std::printf("featurizer: %zu raw inputs -> %d features (%d from entity history), %zu rows, %zu entities kept\n",
                inputs.size(), f.output_count(), int(f.history_outputs().size()), n, history->entity_count());
    std::printf("| path | per row | goal | vs baseline |\n|---|---|---|---|\n");
    std::printf("| baseline: copy the raw values | %.3f us | | 1.0x |\n", baseline_ns / 1000);
    std::printf("| batch: transform + observe, amortised | %.3f us | <= 2 us | %.1fx |\n", batch_ns / 1000, batch_ns / baseline_ns);
    std::printf("| inline: one row, transform + observe, p50 | %.3f us | <= 5 us | %.1fx |\n", latencies[timed / 2] / 1000,
                latencies[timed / 2] / baseline_ns);
    std::printf("| inline: one row, transform + observe, p99 | %.3f us | | |\n", latencies[timed * 99 / 100] / 1000);
    std::printf("| inline, caches evicted between rows, p50 | %.3f us | | %.1fx |\n", cold[timed / 2] / 1000,
                cold[timed / 2] / baseline_ns);
    std::printf("| inline, caches evicted between rows, p99 | %.3f us | | |\n", cold[timed * 99 / 100] / 1000);
    return sink == 12345.0f ? 1 : 0;
}
