// Training speed of the engine alone (no PostgreSQL), on a float32 file that the PyTorch peer reads too:
// rows x (columns + 1) little-endian floats, the label last. Prints one line per configuration:
//   dendrite <algorithm> batch=<b> threads=<t> epochs=<e> step_samples_per_s=<x> total_samples_per_s=<y> seconds=<s> pr_auc=<p>
// step = the gradient steps alone (what the torch peer measures); total adds the per-epoch validation pass.
// Run: build/train_bench FILE ROWS COLUMNS EPOCHS BATCH THREADS [mlp|logistic_regression|gbdt]
// With DENDRITE_DEVICE_PLUGIN=path/to/dendrite_cuda.so the network trains on the GPU (lines say dendrite-cuda).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/trainer.hpp"

using namespace dendrite::engine;

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s FILE ROWS COLUMNS EPOCHS BATCH THREADS [algorithm]\n", argv[0]);
        return 2;
    }
    const size_t rows = size_t(std::atol(argv[2]));
    const int columns = std::atoi(argv[3]);
    std::vector<float> raw(rows * size_t(columns + 1));
    FILE* file = std::fopen(argv[1], "rb");
    if (!file || std::fread(raw.data(), sizeof(float), raw.size(), file) != raw.size()) {
        std::fprintf(stderr, "cannot read %zu rows from %s\n", rows, argv[1]);
        return 2;
    }
    std::fclose(file);
    std::vector<float> features(rows * size_t(columns)), labels(rows);
    for (size_t r = 0; r < rows; ++r) {
        std::copy(&raw[r * (columns + 1)], &raw[r * (columns + 1) + columns], &features[r * columns]);
        labels[r] = raw[r * (columns + 1) + columns];
    }
    TrainOptions options;
    options.algorithm = argc > 7 ? argv[7] : "mlp";
    options.hidden = {64, 32};
    options.epochs = std::atoi(argv[4]);
    options.batch_size = std::atoi(argv[5]);
    options.threads = std::atoi(argv[6]);
    options.gbdt.rounds = options.epochs;
    options.class_weight.mode = ClassWeight::Mode::None;  // as the torch peer
    options.validation_fraction = 0.1;
    options.piecewise_bins = 0;  // the peers' plain 30-64-32-1 network, not train's encoded default
    const char* plugin = std::getenv("DENDRITE_DEVICE_PLUGIN");
    if (plugin && *plugin) {
        std::string why;
        options.device = load_device_plugin(plugin, &why);
        if (!options.device) {
            std::fprintf(stderr, "cannot load %s: %s\n", plugin, why.c_str());
            return 2;
        }
        options.device_memory_budget = 0;
    }
    try {
        const auto start = std::chrono::steady_clock::now();
        const TrainResult r = train({features.data(), labels.data(), rows, columns}, options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        double step_seconds = 0;
        for (const auto& e : r.epochs) step_seconds += e.step_seconds;
        const double samples = double(r.training_rows) * double(r.epochs.size());
        std::printf(
            "%s %s batch=%d threads=%d epochs=%zu step_samples_per_s=%.0f total_samples_per_s=%.0f "
            "seconds=%.3f pr_auc=%.4f\n",
            options.device ? "dendrite-cuda" : "dendrite", options.algorithm.c_str(), options.batch_size, r.threads,
            r.epochs.size(), samples / step_seconds, samples / seconds, seconds, r.final_epoch().metrics.pr_auc);
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
