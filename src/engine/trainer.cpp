#include "engine/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "engine/error.hpp"
#include "engine/loss.hpp"

namespace dendrite::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Split {
    std::vector<uint32_t> training, validation;
};

// Stratified: the same fraction of positives and of negatives goes to validation, so both sides keep
// both classes whenever the data allows it.
Split stratified_split(const Dataset& data, double validation_fraction, Rng& rng) {
    std::vector<uint32_t> positives, negatives;
    for (size_t i = 0; i < data.rows; ++i) (data.labels[i] > 0.5f ? positives : negatives).push_back(uint32_t(i));
    Split split;
    for (auto* group : {&positives, &negatives}) {
        rng.shuffle(group->data(), group->size());
        const size_t n_validation = size_t(std::floor(double(group->size()) * validation_fraction));
        split.validation.insert(split.validation.end(), group->begin(), group->begin() + n_validation);
        split.training.insert(split.training.end(), group->begin() + n_validation, group->end());
    }
    return split;
}

// Copies the listed rows into a contiguous columns x count matrix.
void gather(const Dataset& data, const uint32_t* rows, size_t count, Matrix& out, std::vector<float>& labels) {
    out.resize(data.columns, Eigen::Index(count));
    labels.resize(count);
    for (size_t j = 0; j < count; ++j) {
        const float* row = data.features + size_t(rows[j]) * data.columns;
        std::copy(row, row + data.columns, out.col(Eigen::Index(j)).data());
        labels[j] = data.labels[rows[j]];
    }
}

}  // namespace

ClassWeight ClassWeight::parse(const std::string& text) {
    ClassWeight weight;
    if (text == "balanced") return weight;
    if (text == "none") {
        weight.mode = Mode::None;
        return weight;
    }
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value) || value <= 0)
        fail(ErrorKind::InvalidParameter, "invalid class_weight \"" + text + "\"", {},
             "Use 'balanced', 'none' or a positive number, the weight of the positive class.");
    weight.mode = Mode::Positive;
    weight.positive = value;
    return weight;
}

void TrainOptions::validate() const {
    if (algorithm != "mlp" && algorithm != "logistic_regression")
        fail(ErrorKind::InvalidParameter, "unknown algorithm \"" + algorithm + "\"", {},
             "Use 'mlp' or 'logistic_regression'.");
    if (epochs < 1 || epochs > 100000) fail(ErrorKind::InvalidParameter, "epochs must be between 1 and 100000");
    if (batch_size < 1 || batch_size > 1 << 20)
        fail(ErrorKind::InvalidParameter, "batch_size must be between 1 and 1048576");
    if (!(validation_fraction >= 0 && validation_fraction < 1))
        fail(ErrorKind::InvalidParameter, "validation_fraction must be in [0, 1)");
    if (algorithm == "mlp" && hidden.empty())
        fail(ErrorKind::InvalidParameter, "an mlp needs at least one hidden layer", {},
             "Use algorithm => 'logistic_regression' for a model without hidden layers.");
    parse_activation(activation);
}

void predict(const NetworkSpec& spec, const float* parameters, const float* data, size_t rows, float* out) {
    Network network(spec);
    std::copy(parameters, parameters + spec.parameter_count(), network.parameters().begin());
    constexpr size_t chunk = 4096;
    for (size_t start = 0; start < rows; start += chunk) {
        const size_t count = std::min(chunk, rows - start);
        Eigen::Map<const Matrix> x(data + start * spec.inputs, spec.inputs, Eigen::Index(count));
        const RowVector& logits = network.forward(x);
        for (size_t j = 0; j < count; ++j) out[start + j] = sigmoid(logits[Eigen::Index(j)]);
    }
}

TrainResult train(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks) {
    const auto start = Clock::now();
    options.validate();
    if (data.rows == 0) fail(ErrorKind::Data, "the training query returned no rows");
    if (data.rows > UINT32_MAX) fail(ErrorKind::InvalidParameter, "at most 4294967295 training rows are supported");

    TrainResult result;
    for (size_t i = 0; i < data.rows; ++i) result.positives += data.labels[i] > 0.5f;
    const int64_t negatives = int64_t(data.rows) - result.positives;
    if (result.positives == 0 || negatives == 0)
        fail(ErrorKind::Data, "the training set has only one class",
             "It has " + std::to_string(result.positives) + " positive and " + std::to_string(negatives) +
                 " negative rows.",
             "A classifier needs rows of both classes; check the query's WHERE clause and the label column.");

    const std::vector<int> hidden = options.algorithm == "logistic_regression" ? std::vector<int>{} : options.hidden;
    Network network(NetworkSpec::binary_classifier(data.columns, hidden, parse_activation(options.activation)));
    Rng rng(options.seed);
    network.initialize(rng);
    auto optimizer = Optimizer::create(options.optimizer, network.spec().parameter_count());

    Split split = stratified_split(data, options.validation_fraction, rng);
    if (split.training.empty()) fail(ErrorKind::Data, "no rows are left for training after the validation split");
    result.training_rows = split.training.size();
    result.validation_rows = split.validation.size();
    bool validation_has_both = false;
    {
        int64_t validation_positives = 0;
        for (uint32_t i : split.validation) validation_positives += data.labels[i] > 0.5f;
        validation_has_both = validation_positives > 0 && validation_positives < int64_t(split.validation.size());
    }
    result.metrics_on_training_rows = !validation_has_both;
    const std::vector<uint32_t>& evaluation_rows = validation_has_both ? split.validation : split.training;

    // Class weights, from the training rows' class counts.
    float positive_weight = 1.0f, negative_weight = 1.0f;
    if (options.class_weight.mode == ClassWeight::Mode::Balanced) {
        int64_t training_positives = 0;
        for (uint32_t i : split.training) training_positives += data.labels[i] > 0.5f;
        const double n = double(split.training.size());
        if (training_positives > 0 && training_positives < int64_t(n)) {
            positive_weight = float(n / (2.0 * double(training_positives)));
            negative_weight = float(n / (2.0 * (n - double(training_positives))));
        }
    } else if (options.class_weight.mode == ClassWeight::Mode::Positive) {
        positive_weight = float(options.class_weight.positive);
    }

    const size_t batch_size = size_t(options.batch_size);
    AlignedFloats gradient(network.spec().parameter_count());
    std::vector<float> batch_labels, batch_weights, evaluation_labels, evaluation_scores;
    Matrix batch;
    RowVector dlogits;

    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        rng.shuffle(split.training.data(), split.training.size());
        double loss_sum = 0;
        size_t batches = 0;
        for (size_t offset = 0; offset < split.training.size(); offset += batch_size) {
            if (callbacks.should_stop && callbacks.should_stop()) fail(ErrorKind::Canceled, "training canceled");
            const size_t count = std::min(batch_size, split.training.size() - offset);
            gather(data, split.training.data() + offset, count, batch, batch_labels);
            batch_weights.resize(count);
            for (size_t j = 0; j < count; ++j)
                batch_weights[j] = batch_labels[j] > 0.5f ? positive_weight : negative_weight;
            const RowVector& logits = network.forward(batch);
            loss_sum += weighted_bce_with_logits(logits, batch_labels.data(), batch_weights.data(), &dlogits);
            ++batches;
            network.backward(dlogits, gradient.data());
            optimizer->step(network.parameters().data(), gradient.data());
        }
        const double epoch_loss = loss_sum / double(batches);
        if (!std::isfinite(epoch_loss))
            fail(ErrorKind::Data, "training diverged: the loss is not finite after epoch " + std::to_string(epoch), {},
                 "Lower the learning_rate.");

        // Evaluate on the validation rows.
        EpochReport report;
        report.epoch = epoch;
        report.loss = epoch_loss;
        evaluation_scores.resize(evaluation_rows.size());
        double validation_loss_sum = 0;
        constexpr size_t chunk = 4096;
        for (size_t offset = 0; offset < evaluation_rows.size(); offset += chunk) {
            if (callbacks.should_stop && callbacks.should_stop()) fail(ErrorKind::Canceled, "training canceled");
            const size_t count = std::min(chunk, evaluation_rows.size() - offset);
            gather(data, evaluation_rows.data() + offset, count, batch, batch_labels);
            const RowVector& logits = network.forward(batch);
            batch_weights.resize(count);
            for (size_t j = 0; j < count; ++j)
                batch_weights[j] = batch_labels[j] > 0.5f ? positive_weight : negative_weight;
            validation_loss_sum += weighted_bce_with_logits(logits, batch_labels.data(), batch_weights.data(), nullptr) *
                                   double(count);
            for (size_t j = 0; j < count; ++j) evaluation_scores[offset + j] = sigmoid(logits[Eigen::Index(j)]);
            evaluation_labels.resize(offset + count);
            std::copy(batch_labels.begin(), batch_labels.end(), evaluation_labels.begin() + offset);
        }
        report.validation_loss = validation_loss_sum / double(evaluation_rows.size());
        report.metrics = evaluate(evaluation_scores.data(), evaluation_labels.data(), evaluation_scores.size());
        report.seconds = seconds_since(start);
        result.epochs.push_back(report);
        if (callbacks.on_epoch) callbacks.on_epoch(report);
    }

    result.spec = network.spec();
    result.parameters.assign(network.parameters().begin(), network.parameters().end());
    result.seconds = seconds_since(start);
    return result;
}

}  // namespace dendrite::engine
