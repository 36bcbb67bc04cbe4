// A blend: an MLP and gradient-boosted trees trained on the same rows, scored as the sigmoid of a weighted mean
// of their logits (model.hpp). Diversity pays where averaging does not: on the handbook's weeks the blend of
// the two defaults averaged AP 0.742 against 0.728 (the MLP) and 0.732 (gbdt), while two seeds of the same
// network blended gained 0.002 (docs/benchmarks.md, #28).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/error.hpp"
#include "engine/gbdt.hpp"
#include "engine/metrics.hpp"
#include "engine/model.hpp"
#include "engine/network.hpp"
#include "engine/parallel.hpp"
#include "engine/trainer.hpp"

namespace dendrite::engine {

TrainResult train_blend(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks) {
    const auto start = std::chrono::steady_clock::now();
    if (!data.labels) fail(ErrorKind::Internal, "a classifier was given no labels");
    // The split, the evaluation rows and the class weights every member sees (they split alike: from the
    // seed and the options alone), checked before either member trains.
    TrainOptions network_options = options;
    network_options.algorithm = "mlp";
    options.validate();
    PreparedTraining prepared = prepare_training(data, network_options);  // the blend's leak check measured here
    network_options.measure_separation = false;                           // and not again for each member
    TrainOptions trees_options = network_options;
    trees_options.algorithm = "gbdt";

    TrainResult network = train(data, network_options, callbacks);
    const int network_epochs = network.epochs_run();
    TrainCallbacks trees_callbacks;
    trees_callbacks.should_stop = callbacks.should_stop;
    if (callbacks.on_epoch)
        trees_callbacks.on_epoch = [&](const EpochReport& round) {
            EpochReport numbered = round;
            numbered.step = round.epoch;
            numbered.epoch += network_epochs;
            callbacks.on_epoch(numbered);
        };
    TrainResult trees = train_gbdt(data, trees_options, trees_callbacks);

    TrainResult result = std::move(prepared.result);
    result.algorithm = "blend";
    result.spec = network.spec;
    result.parameters = std::move(network.parameters);
    result.trees = std::move(trees.trees);
    result.network_weight = float(options.network_weight);
    result.network_epochs = network_epochs;
    result.threads = network.threads;
    result.epochs = network.epochs;
    for (EpochReport& epoch : result.epochs) epoch.step = epoch.epoch;
    for (EpochReport round : trees.epochs) {
        round.step = round.epoch;
        round.epoch += network_epochs;
        result.epochs.push_back(round);
    }

    ModelView blend;
    blend.kind = ModelView::Kind::Blend;
    const SpecView network_view(result.spec, result.parameters.data());
    blend.network = network_view.view();
    blend.trees = view_of(result.trees);
    blend.network_weight = result.network_weight;

    // The blend's scores on the evaluation rows, shared out over the threads (each row is independent).
    const std::vector<uint32_t>& rows = prepared.evaluation_rows;
    std::vector<float> scores(rows.size()), labels(rows.size());
    {
        WorkerPool pool(std::max(1, std::min<int>(result.threads, int(std::max<size_t>(rows.size(), 1)))));
        const int shares = pool.size();
        pool.run(shares, [&](int share) {
            std::vector<float> scratch(size_t(std::max(1, model_scratch_floats(blend))));
            for (size_t k = size_t(share); k < rows.size(); k += size_t(shares)) {
                if (share == 0 && k % 4096 == 0 && callbacks.should_stop && callbacks.should_stop())
                    fail(ErrorKind::Canceled, "training canceled");
                const float* x = data.features + size_t(rows[k]) * size_t(data.columns);
                scores[k] = score_one(blend, x, scratch.data());
                labels[k] = data.labels[rows[k]];
            }
        });
    }
    for (const float score : scores)
        if (std::isnan(score))
            fail(
                ErrorKind::Data, "the blend's score is not a number on some validation rows", {},
                "The network's arithmetic overflowed there; lower the learning_rate or clip gradients with clip_norm.");

    EpochReport report;
    report.epoch = network_epochs + trees.epochs_run() + 1;
    report.unit = "blend";
    double loss = 0;
    for (size_t k = 0; k < rows.size(); ++k) {
        const double p = std::min(std::max(double(scores[k]), 1e-7), 1 - 1e-7);
        const bool positive = labels[k] > 0.5f;
        loss -= (positive ? prepared.positive_weight : prepared.negative_weight) *
                (positive ? std::log(p) : std::log(1 - p));
    }
    report.validation_loss = loss / double(std::max<size_t>(1, rows.size()));
    report.loss = report.validation_loss;  // a blend has no training loss of its own
    report.metrics = evaluate(scores.data(), labels.data(), scores.size(), options.threshold);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.epochs.push_back(report);
    if (callbacks.on_epoch) callbacks.on_epoch(report);
    result.best_epoch = report.epoch;
    result.stopped_early = false;
    result.curve = summarize_curve(Curve::of(scores.data(), labels.data(), scores.size()));
    result.histogram = score_histogram(scores.data(), labels.data(), scores.size());
    result.score_us_per_row = inline_scoring_microseconds(blend, data.features, data.rows, data.columns);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace dendrite::engine
