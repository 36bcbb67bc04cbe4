// Mini-batch training of a binary classifier (MLP or logistic regression) on one contiguous float matrix.
#pragma once
#include "engine/engine_only.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/metrics.hpp"
#include "engine/network.hpp"
#include "engine/optimizer.hpp"

namespace dendrite::engine {

// rows x columns, row-major (each row contiguous: the column-major columns x rows matrix the network eats).
struct Dataset {
    const float* features = nullptr;
    const float* labels = nullptr;  // 0 or 1
    size_t rows = 0;
    int columns = 0;
};

struct ClassWeight {
    enum class Mode { Balanced, None, Positive } mode = Mode::Balanced;
    double positive = 1.0;  // with Mode::Positive
    static ClassWeight parse(const std::string& text);  // 'balanced' | 'none' | a positive number
};

struct TrainOptions {
    std::string algorithm = "mlp";  // mlp | logistic_regression
    std::vector<int> hidden{64, 32};
    std::string activation = "relu";
    int epochs = 10;
    int batch_size = 256;
    OptimizerOptions optimizer;
    ClassWeight class_weight;
    double validation_fraction = 0.2;
    uint64_t seed = 42;

    void validate() const;  // throws InvalidParameter
};

struct EpochReport {
    int epoch = 0;           // 1-based
    double loss = 0;         // mean weighted training loss over the epoch's batches
    double validation_loss = 0;
    Metrics metrics;         // on the validation rows (or the training rows when there are none)
    double seconds = 0;      // since training started
};

struct TrainCallbacks {
    std::function<bool()> should_stop;                  // polled between batches; true -> ErrorKind::Canceled
    std::function<void(const EpochReport&)> on_epoch;   // after each epoch
};

struct TrainResult {
    NetworkSpec spec;
    std::vector<float> parameters;
    std::vector<EpochReport> epochs;
    size_t training_rows = 0, validation_rows = 0;
    int64_t positives = 0;
    bool metrics_on_training_rows = false;  // no validation positives to measure on
    double seconds = 0;
    const EpochReport& final_epoch() const { return epochs.back(); }
};

TrainResult train(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks = {});

// Scores every row of data (rows x spec.inputs, row-major) into out.
void predict(const NetworkSpec& spec, const float* parameters, const float* data, size_t rows, float* out);

}  // namespace dendrite::engine
