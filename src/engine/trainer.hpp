// Mini-batch training of a binary classifier (MLP or logistic regression) on one contiguous float matrix.
#pragma once
#include "engine/engine_only.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/device_abi.h"
#include "engine/gbdt.hpp"
#include "engine/loss.hpp"
#include "engine/metrics.hpp"
#include "engine/network.hpp"
#include "engine/optimizer.hpp"

namespace dendrite::engine {

// rows x columns, row-major (each row contiguous: the column-major columns x rows matrix the network eats).
struct Dataset {
    const float* features = nullptr;
    const float* labels = nullptr;  // 0 or 1; may be null for an autoencoder (no labels: no metrics)
    size_t rows = 0;
    int columns = 0;
    // Optional, one per row: a time-ordered split puts the rows with the largest keys into validation.
    const double* order = nullptr;
};

struct ClassWeight {
    enum class Mode { Balanced, None, Positive } mode = Mode::Balanced;
    double positive = 1.0;                              // with Mode::Positive
    static ClassWeight parse(const std::string& text);  // 'balanced' | 'none' | a positive number
};

struct IndexFeature {
    int feature;  // 0-based column of the data
    int rows;     // the index's range, 0 .. rows - 1
};

// The embedding width for a feature of `rows` categories when the user set none (fastai's rule of thumb,
// capped for the small networks of fraud scoring).
int default_embedding_dim(int rows);

struct TrainOptions {
    std::string algorithm = "mlp";  // mlp | logistic_regression | gbdt | blend | autoencoder
    std::vector<int> hidden{64, 32};
    std::string activation = "relu";
    double dropout = 0;       // inverted dropout after each hidden layer, while training
    bool layer_norm = false;  // layer normalization of each hidden layer's pre-activation
    int epochs = 10;
    int batch_size = 256;
    OptimizerOptions optimizer;
    Schedule schedule;
    double clip_norm = 0;  // gradient clipping by global L2 norm; 0 = none
    LossOptions loss;
    ClassWeight class_weight;
    double negative_sampling = 1;  // fraction of the negative rows drawn afresh for each epoch (1 = all)
    double validation_fraction = 0.2;
    int patience = 0;  // early stopping: epochs without a better validation PR-AUC; 0 = off
    // Networks: each epoch's model is the mean of its parameters and those of the averaged_epochs() - 1 epochs
    // before it (stochastic weight averaging, Izmailov et al. 2018); its validation metrics, early stopping
    // and the kept parameters are the mean's, while the steps go on from the epoch's own parameters.
    // 1 = no averaging; 0 = automatic: the last half of the epochs, or none with early stopping (which keeps
    // the one best epoch).
    int average_epochs = 0;
    ThresholdRule threshold;
    int threads = 0;  // 0 = one per hardware thread; a network's result does not depend on it
    uint64_t seed = 42;
    GbdtOptions gbdt;  // algorithm 'gbdt' (which ignores the network settings above) and a blend's trees
    // A blend (an mlp with the settings above and gbdt with these, on the same rows): the network's share of
    // the logit, the trees' being 1 - network_weight. 0.3 since gbdt's depth-4 defaults: with the better trees
    // an equal share cost the blend 0.001-0.003 AP on the handbook's weeks (docs/benchmarks.md, session 31).
    double network_weight = 0.3;
    // Features that hold a category index (the featurizer's 'index' encoding), set by the caller from the
    // featurizer, not by the user: a network embeds each (gbdt splits on the index like on a number).
    std::vector<IndexFeature> index_features;
    int embedding_dim = 0;  // per embedded feature; 0: min(16, round(1.6 * categories^0.56))
    // Networks that classify: the most bins of each numeric input's piecewise-linear encoding
    // (piecewise_encoding.hpp); 0 = none; -1 = automatic: 4 for an mlp and a blend's network, which trailed the
    // trees on the handbook's weeks by ~0.01-0.03 average precision without them (docs/benchmarks.md, session
    // 34), none for logistic regression (a linear model stays linear) and an autoencoder (which reconstructs
    // its inputs as they are).
    int piecewise_bins = -1;
    int network_piecewise_bins() const {
        return piecewise_bins >= 0 ? piecewise_bins : (algorithm == "mlp" || algorithm == "blend") ? 4 : 0;
    }
    // Set by the caller, not by the user: a device plugin's table (engine/device.hpp) to run the gradient
    // steps and the evaluation's forward passes on; null: the CPU. Everything else stays on the host.
    const dendrite_device_api* device = nullptr;
    size_t device_memory_budget = 0;  // bytes; 0: the device's free memory is the limit
    // Set by the caller: the bytes its host memory budget (dendrite.training_memory) leaves beyond the rows it
    // already holds. A device run of a network with piecewise-linear encodings keeps an encoded copy of every
    // row on the host (the CPU encodes a batch at a time); it is refused (OutOfMemory) beyond this.
    size_t host_memory_headroom = SIZE_MAX;
    // Recorded with the other settings (model_versions.hyperparameters) for a retraining to ask again;
    // the caller acts on them: the device as asked ('auto', 'cpu', 'cuda'), the split column (empty: none).
    std::string device_request = "auto";
    std::string split_column;
    // Set by the caller, not by the user: false skips TrainResult::feature_separation (a blend measures it once
    // for itself, not again for each member).
    bool measure_separation = true;

    void validate() const;  // throws InvalidParameter
    int averaged_epochs() const {
        return average_epochs > 0 ? average_epochs : patience > 0 ? 1 : std::max(1, epochs / 2);
    }
    // Epochs, or boosting rounds for gbdt: the rows dendrite.epochs will get at most.
    // A blend: the network's epochs, then the trees' rounds, then one row for the blend itself.
    int planned_epochs() const {
        return algorithm == "gbdt" ? gbdt.rounds : algorithm == "blend" ? epochs + gbdt.rounds + 1 : epochs;
    }
};

struct EpochReport {
    int epoch = 0;  // 1-based
    // What the row is: a network's "epoch", a boosting "round", or a blend's own measurement ("blend", its
    // last row). In a blend, step is the member's own epoch or round number (epoch counts on across both).
    const char* unit = "epoch";
    int step = 0;
    double loss = 0;  // mean weighted training loss over the epoch's batches
    double validation_loss = 0;
    Metrics metrics;          // on the validation rows (or the training rows when there are none)
    double seconds = 0;       // since training started
    double step_seconds = 0;  // this epoch's gradient steps alone (no evaluation): the training speed
};

struct TrainCallbacks {
    std::function<bool()> should_stop;                 // polled between batches; true -> ErrorKind::Canceled
    std::function<void(const EpochReport&)> on_epoch;  // after each epoch
};

struct TrainResult {
    std::string algorithm;
    NetworkSpec spec;               // mlp, logistic_regression, a blend's network
    TreeEnsemble trees;             // gbdt, a blend's trees
    float network_weight = 0.5f;    // a blend's (ModelView::network_weight)
    int network_epochs = 0;         // a blend's: its first network_epochs epochs are the network's
    std::vector<float> parameters;  // the best epoch's with early stopping, else the last epoch's
    std::vector<EpochReport> epochs;
    int best_epoch = 0;  // the epoch whose parameters were kept (1-based)
    bool stopped_early = false;
    size_t training_rows = 0, validation_rows = 0;
    int64_t positives = 0;
    bool metrics_on_training_rows = false;  // no validation positives to measure on
    // False for an autoencoder trained without labels, or whose evaluation rows lack a class: the metrics
    // (PR-AUC, confusion) mean nothing, only the losses and the threshold do.
    bool labelled = true;
    double seconds = 0;
    double score_us_per_row = 0;            // one row scored as a trigger does, timed on the training rows
    CurveSummary curve;                     // the kept epoch's PR and ROC curves on the rows its metrics came from
    ScoreHistogram histogram;               // and its scores per class there
    std::vector<uint32_t> evaluation_rows;  // those rows: the validation rows, or the training rows
    // Per feature: how well the feature alone separates the classes on the rows the metrics come from,
    // max(ROC-AUC, 1 - ROC-AUC) of its value as a score (0.5: not at all, 1: perfectly). A feature near 1 is
    // most often a leak (a column known only after the fact), which the caller warns about.
    std::vector<double> feature_separation;
    int threads = 1;
    // The kept epoch's report (gbdt reports only the rounds it evaluated, best_epoch among them).
    const EpochReport& final_epoch() const {
        for (const EpochReport& e : epochs)
            if (e.epoch == best_epoch) return e;
        return epochs.back();
    }
    // Epochs (boosting rounds) run: the last report's, which is the last one run.
    int epochs_run() const { return epochs.empty() ? 0 : epochs.back().epoch; }
};

// Trains the options' algorithm (gbdt through train_gbdt, a blend through train_blend).
TrainResult train(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks = {});

// A blend: the network (options.algorithm read as 'mlp') and the trees (as 'gbdt') trained one after the other on
// the same split, each as it would be alone; then their logits mixed by options.network_weight on the evaluation
// rows, where the blend's metrics, threshold and curves are measured. Epoch reports: the network's epochs, the
// trees' evaluated rounds numbered after them, and the blend's as the last (the kept) epoch.
TrainResult train_blend(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks);

// Training and validation rows: stratified at random (the same fraction of each class, drawn from the
// seed alone, so every algorithm trained with one seed sees the same split), or by data.order.
struct Split {
    std::vector<uint32_t> training, validation;
};
// stratify false: at random from the seed alone, whatever the labels (an autoencoder's, which labels only measure).
Split split_rows(const Dataset& data, double validation_fraction, uint64_t seed, bool stratify = true);

// What every algorithm does first: checks the options and the data (rows, both classes on each side),
// splits, picks the rows metrics are computed on and the class weights.
struct PreparedTraining {
    TrainResult result;  // counts filled in
    Split split;
    std::vector<uint32_t> evaluation_rows;  // the validation rows, or the training rows when those lack a class
    float positive_weight = 1, negative_weight = 1;
    int64_t training_positives = 0;
};
PreparedTraining prepare_training(const Dataset& data, const TrainOptions& options);

// TrainResult::feature_separation over the given rows (at most max_rows of them, taken at an even stride);
// empty when they hold fewer than 10 rows of a class (too few to tell a leak from chance). Features are shared
// out over threads (as WorkerPool takes it): the same numbers as one thread.
std::vector<double> feature_separation(const Dataset& data, const std::vector<uint32_t>& rows, size_t max_rows = 20000,
                                       int threads = 1);

// Early stopping on validation PR-AUC, the same rule for epochs and boosting rounds. patience 0: never stops,
// and the last epoch is the kept one.
class EarlyStopping {
public:
    explicit EarlyStopping(int patience) : patience_(patience) {}
    enum class Verdict { Improved, Continue, Stop };
    // After each epoch (1-based, in order): Improved when the caller should keep this epoch's parameters
    // (always the first; then a larger metric than the best so far).
    Verdict observe(int epoch, double pr_auc);
    // The kept epoch, given how many ran.
    int kept_epoch(int epochs_run) const { return patience_ > 0 ? best_epoch_ : epochs_run; }

private:
    int patience_;
    double best_pr_auc_ = 0;
    int best_epoch_ = 0;
};

// Scores every row of data (rows x spec.inputs, row-major) into out.
void predict(const NetworkSpec& spec, const float* parameters, const float* data, size_t rows, float* out);

}  // namespace dendrite::engine
