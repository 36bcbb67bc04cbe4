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

#include "bench_workload.hpp"

using namespace dendrite::engine;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const size_t wanted = argc > 1 ? size_t(std::atol(argv[1])) : 1000000;
    const bool handbook = argc > 2 && std::strcmp(argv[2], "handbook") == 0;
    const BenchWorkload workload = make_bench_workload(wanted, handbook);
    const size_t n = workload.n;
    const std::vector<std::string>& inputs = workload.inputs;
    const std::vector<RawValue>& rows = workload.rows;
    const Featurizer f = workload.fit();
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
    std::printf("| batch: transform + observe, amortised | %.3f us | <= 2 us | %.1fx |\n", batch_ns / 1000,
                batch_ns / baseline_ns);
    std::printf("| inline: one row, transform + observe, p50 | %.3f us | <= 5 us | %.1fx |\n",
                latencies[timed / 2] / 1000, latencies[timed / 2] / baseline_ns);
    std::printf("| inline: one row, transform + observe, p99 | %.3f us | | |\n", latencies[timed * 99 / 100] / 1000);
    std::printf("| inline, caches evicted between rows, p50 | %.3f us | | %.1fx |\n", cold[timed / 2] / 1000,
                cold[timed / 2] / baseline_ns);
    std::printf("| inline, caches evicted between rows, p99 | %.3f us | | |\n", cold[timed * 99 / 100] / 1000);
    return sink == 12345.0f ? 1 : 0;
}
