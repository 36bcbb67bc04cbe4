// Scoring speed of a network, engine only (no PostgreSQL), on the features of the generator's transactions
// (featurizer_bench's workload: ~10 raw columns, 6 customer-history features):
//   one row: forward_one, one timed call per row (p50), with 0, 64 kB or 4 MB written between rows (a
//            trigger scores with caches that the insert's heap and index work has just used);
//   batch:   forward_batch over blocks of 1,024 rows (dendrite.guard_batch), amortised per row.
// Baselines in the same run: Eigen's dense matrix-vector product for one row and matrix-matrix product for
// a block, which is how both paths scored before session 11. Networks: the MLP 64-32, and wider
// ones to show where forward_batch's switch to matrix products (kOneRowBatchMaxWeights) belongs.
// Run: build/scoring_bench [rows]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_workload.hpp"
#include "engine/network.hpp"

using namespace dendrite::engine;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kBlock = 1024;

// The baseline: the layers as Eigen products over n rows (n = 1: matrix-vector), ReLU hidden layers and a
// sigmoid output, as output_logits computed them for every n before session 11.
void dense_scores(const NetworkView& view, const float* x, int n, float* scratch, float* scores) {
    int widest = view.inputs;
    for (int l = 0; l < view.layers; ++l) widest = std::max(widest, view.units[l]);
    float* in = scratch;
    float* out = scratch + size_t(widest) * size_t(n);
    const float* current = x;
    const float* parameters = view.parameters;
    int n_in = view.inputs;
    for (int l = 0; l < view.layers; ++l) {
        const int n_out = view.units[l];
        Eigen::Map<const Matrix> kernel(parameters, n_out, n_in);
        Eigen::Map<const Eigen::VectorXf> bias(parameters + size_t(n_out) * size_t(n_in), n_out);
        parameters += size_t(n_out) * size_t(n_in + 1);
        Eigen::Map<Matrix> z(out, n_out, n);
        z.noalias() = kernel * Eigen::Map<const Matrix>(current, n_in, n);
        z.colwise() += bias;
        if (l + 1 < view.layers) z = z.cwiseMax(0.0f);
        current = out;
        std::swap(in, out);
        n_in = n_out;
    }
    for (int i = 0; i < n; ++i) scores[i] = sigmoid(current[i]);
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const size_t wanted = argc > 1 ? size_t(std::atol(argv[1])) : 200000;
    const BenchWorkload workload = make_bench_workload(wanted, false);
    const size_t n = workload.n, width = workload.inputs.size();
    const Featurizer featurizer = workload.fit();
    const int features = featurizer.output_count();
    std::vector<float> x(n * size_t(features));
    auto history = featurizer.new_history();
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) {
        featurizer.transform(&workload.rows[i * width], history.get(), &x[i * size_t(features)]);
        featurizer.observe(&workload.rows[i * width], history.get());
    }
    for (float v : x) nonzero += v != 0.0f;
    const size_t timed = std::min<size_t>(n, 50000);
    const size_t blocks = timed / kBlock;

    std::printf(
        "%zu rows, %d features (%.1f non-zero in an average row); one row: p50 of %zu timed calls; "
        "batch: %zu blocks of %d rows\n\n",
        n, features, double(nonzero) / double(n), timed, blocks, kBlock);
    std::printf(
        "| network | weights | path | baseline (Eigen, dense) | dendrite | baseline / dendrite | max score difference "
        "|\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    volatile float sink = 0;
    for (const std::vector<int>& hidden : {std::vector<int>{64, 32}, std::vector<int>{128, 64},
                                           std::vector<int>{256, 128}, std::vector<int>{512, 256}}) {
        Network network(NetworkSpec::binary_classifier(features, hidden, Activation::Relu));
        Rng rng(7);
        network.initialize(rng);
        const SpecView spec_view(network.spec(), network.parameters().data());
        const NetworkView& view = spec_view.view();
        size_t weights = 0;
        for (int l = 0, n_in = features; l < view.layers; n_in = view.units[l], ++l)
            weights += size_t(view.units[l]) * size_t(n_in);
        char name[64];
        std::snprintf(name, sizeof name, "MLP %d-%d-%d-1", features, hidden[0], hidden[1]);

        // forward_batch's, plus dense_scores' two layers of kBlock columns (no layer here is wider than 512).
        std::vector<float> scratch(batch_scratch_floats(view, kBlock) + 2 * size_t(features + 512) * kBlock);
        std::vector<float> dense(timed), ours(timed);
        const auto one_row = [&](size_t evict_bytes, bool baseline) {
            std::vector<char> evict(evict_bytes);
            std::vector<double> latencies(timed);
            for (size_t i = 0; i < timed; ++i) {
                for (size_t b = 0; b < evict.size(); b += 64) evict[b] = char(b + i);
                const float* row = &x[i * size_t(features)];
                const auto t0 = Clock::now();
                if (baseline)
                    dense_scores(view, row, 1, scratch.data(), &dense[i]);
                else
                    ours[i] = forward_one(view, row, scratch.data());
                latencies[i] = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
            }
            return median(latencies);
        };
        float difference = 0;
        const auto report = [&](const char* path, double baseline_ns, double ours_ns) {
            std::printf("| %s | %zu | %s | %.3f us | %.3f us | %.2fx | %.1e |\n", name, weights, path,
                        baseline_ns / 1000, ours_ns / 1000, baseline_ns / ours_ns, double(difference));
        };
        const bool first = hidden[0] == 64;
        for (size_t evict : first ? std::vector<size_t>{0, size_t(64) << 10, size_t(4) << 20}
                                  : std::vector<size_t>{size_t(64) << 10}) {
            const double baseline_ns = one_row(evict, true), ours_ns = one_row(evict, false);
            difference = 0;
            for (size_t i = 0; i < timed; ++i) difference = std::max(difference, std::fabs(dense[i] - ours[i]));
            char path[64];
            std::snprintf(path, sizeof path, "one row, p50, %zu kB written between rows", evict >> 10);
            report(path, baseline_ns, ours_ns);
        }
        // Batch: the baseline's matrix products against rows one at a time through forward_one, and against
        // forward_batch, which takes one of the two by kOneRowBatchMaxWeights.
        enum class Batch { Baseline, OneAtATime, ForwardBatch };
        const auto batch = [&](Batch mode) {
            const auto t0 = Clock::now();
            for (size_t b = 0; b < blocks; ++b) {
                const float* block = &x[b * kBlock * size_t(features)];
                float* scores = &(mode == Batch::Baseline ? dense : ours)[b * kBlock];
                if (mode == Batch::Baseline)
                    dense_scores(view, block, kBlock, scratch.data(), scores);
                else if (mode == Batch::ForwardBatch)
                    forward_batch(view, block, kBlock, scores, scratch.data());
                else
                    for (int i = 0; i < kBlock; ++i)
                        scores[i] = forward_one(view, block + size_t(i) * size_t(features), scratch.data());
            }
            return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(blocks * kBlock);
        };
        batch(Batch::Baseline);  // warm up Eigen's blocking buffers
        const double baseline_ns = batch(Batch::Baseline);
        for (Batch mode : {Batch::OneAtATime, Batch::ForwardBatch}) {
            const double ours_ns = batch(mode);
            difference = 0;
            for (size_t i = 0; i < blocks * kBlock; ++i)
                difference = std::max(difference, std::fabs(dense[i] - ours[i]));
            report(mode == Batch::OneAtATime         ? "batch of 1,024, per row: rows one at a time"
                   : scores_rows_one_at_a_time(view) ? "batch of 1,024, per row: forward_batch (one at a time)"
                                                     : "batch of 1,024, per row: forward_batch (matrix products)",
                   baseline_ns, ours_ns);
        }
        sink = sink + ours[0];
    }
    return sink == 12345.0f ? 1 : 0;
}
