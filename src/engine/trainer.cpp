#include "engine/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>

#include "engine/anomaly.hpp"
#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/loss.hpp"
#include "engine/model.hpp"
#include "engine/parallel.hpp"
#include "engine/piecewise_encoding.hpp"

namespace dendrite::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A batch is cut into shards of this many rows, whatever the number of threads: each shard's gradient is
// computed on its own and the shards are summed in order, so a seed gives the same model on 1 or 16 threads.
constexpr size_t kShardRows = 128;
constexpr size_t kEvaluationChunk = 4096;
// An autoencoder's table of training errors: each epoch's, on a sample of the training rows, measures it;
// the kept model's, on every training row, is stored with it and maps its errors to scores.
constexpr int kEpochErrorQuantiles = 1001, kStoredErrorQuantiles = 10001;
constexpr size_t kEpochQuantileRows = 20000;

// Stream identifiers mixed into the seed, so that the split, the initialisation, the shuffles and the
// dropout masks draw from independent sequences.
constexpr uint64_t kSplitStream = 0x5eed5b117ull, kInitStream = 0x1417ull, kShuffleStream = 0x5fffull;
constexpr uint64_t kDropoutStream = 0xd50ull;

uint64_t mix(uint64_t seed, uint64_t stream, uint64_t a = 0, uint64_t b = 0) {
    uint64_t x = seed ^ (stream * 0x9e3779b97f4a7c15ull);
    x = Rng::splitmix64(x) ^ a;
    x = Rng::splitmix64(x) ^ b;
    return Rng::splitmix64(x);
}

// Copies the listed rows into a contiguous columns x count matrix.
void gather(const Dataset& data, const uint32_t* rows, size_t count, Matrix& out, float* labels) {
    out.resize(data.columns, Eigen::Index(count));
    for (size_t j = 0; j < count; ++j) {
        const float* row = data.features + size_t(rows[j]) * data.columns;
        std::copy(row, row + data.columns, out.col(Eigen::Index(j)).data());
        labels[j] = data.labels[rows[j]];
    }
}

// The piecewise-linear encodings of a classifier's inputs (piecewise_encoding.hpp), fitted on its training rows
// (never the validation rows, whose labels measure it): every feature but the embedded ones, a task per
// feature. Features the fit finds nothing in (flags, constants) stay as they are, and so does every feature
// when the training rows hold fewer than kMinEncodingClassRows of either class: bins drawn around a handful of
// frauds would follow those rows, not where the label's rate changes.
constexpr size_t kMaxEncodingRows = size_t(1) << 20;  // more training rows: an even stride of them
constexpr size_t kMinEncodingClassRows = 50;

void fit_encodings(const Dataset& data, const std::vector<uint32_t>& training, int max_bins,
                   const std::vector<IndexFeature>& index_features, WorkerPool& pool,
                   const std::function<void()>& check_stop, NetworkSpec& spec) {
    const size_t stride = (training.size() + kMaxEncodingRows - 1) / kMaxEncodingRows;
    std::vector<uint32_t> rows;
    for (size_t i = 0; i < training.size(); i += std::max<size_t>(1, stride)) rows.push_back(training[i]);
    std::vector<float> labels(rows.size());
    size_t positives = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        labels[i] = data.labels[rows[i]];
        positives += labels[i] > 0.5f;
    }
    if (std::min(positives, rows.size() - positives) < kMinEncodingClassRows) return;
    std::vector<std::vector<float>> edges(size_t(data.columns));
    // A feature per task, as many at a time as the pool has threads, the caller's stop checked in between (a
    // million rows take ~0.1 s a feature to sort).
    for (int first = 0; first < data.columns; first += pool.size()) {
        check_stop();
        pool.run(std::min(pool.size(), data.columns - first), [&](int t) {
            const int j = first + t;
            for (const IndexFeature& f : index_features)
                if (f.feature == j) return;
            std::vector<float> column(rows.size());
            for (size_t i = 0; i < rows.size(); ++i)
                column[i] = data.features[size_t(rows[i]) * data.columns + size_t(j)];
            edges[size_t(j)] =
                fit_bin_edges(column.data(), labels.data(), rows.size(), max_bins, bin_edges_min_leaf(rows.size()));
        });
    }
    for (int j = 0; j < data.columns; ++j) {
        const std::vector<float>& e = edges[size_t(j)];
        if (e.empty()) continue;
        spec.encodings.push_back({j, int(e.size()) - 1});
        spec.encoding_edges.insert(spec.encoding_edges.end(), e.begin(), e.end());
    }
}

// What one shard of a batch needs: its rows, its pass and its gradient.
struct Shard {
    Pass pass;
    Matrix x;
    std::vector<float> labels, weights;
    RowVector dlogits;
    Matrix doutputs;  // an autoencoder's d(loss)/d(outputs)
    AlignedFloats gradient;
    double loss = 0;
};

}  // namespace

Split split_rows(const Dataset& data, double validation_fraction, uint64_t seed, bool stratify) {
    Split split;
    if (data.order) {
        // Time-ordered: the last validation_fraction of the rows by order key (ties by position).
        std::vector<uint32_t> rows(data.rows);
        std::iota(rows.begin(), rows.end(), 0u);
        std::stable_sort(rows.begin(), rows.end(),
                         [&](uint32_t a, uint32_t b) { return data.order[a] < data.order[b]; });
        const size_t n_validation = size_t(std::floor(double(data.rows) * validation_fraction));
        split.training.assign(rows.begin(), rows.end() - n_validation);
        split.validation.assign(rows.end() - n_validation, rows.end());
        std::sort(split.validation.begin(), split.validation.end());
        return split;
    }
    // Stratified: the same fraction of positives and of negatives goes to validation, so both sides keep
    // both classes whenever the data allows it.
    Rng rng(mix(seed, kSplitStream));
    std::vector<uint32_t> positives, negatives;
    for (size_t i = 0; i < data.rows; ++i)
        (stratify && data.labels[i] > 0.5f ? positives : negatives).push_back(uint32_t(i));
    for (auto* group : {&positives, &negatives}) {
        rng.shuffle(group->data(), group->size());
        const size_t n_validation = size_t(std::floor(double(group->size()) * validation_fraction));
        split.validation.insert(split.validation.end(), group->begin(), group->begin() + n_validation);
        split.training.insert(split.training.end(), group->begin() + n_validation, group->end());
    }
    return split;
}

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

int default_embedding_dim(int rows) {
    return std::max(1, std::min(16, int(std::lround(1.6 * std::pow(double(std::max(rows, 1)), 0.56)))));
}

void TrainOptions::validate() const {
    if (algorithm != "mlp" && algorithm != "logistic_regression" && algorithm != "gbdt" && algorithm != "autoencoder" &&
        algorithm != "blend")
        fail(ErrorKind::InvalidParameter, "unknown algorithm \"" + algorithm + "\"", {},
             "Use 'mlp', 'logistic_regression', 'gbdt', 'blend' or 'autoencoder'.");
    if (epochs < 1 || epochs > 100000) fail(ErrorKind::InvalidParameter, "epochs must be between 1 and 100000");
    if (batch_size < 1 || batch_size > 1 << 20)
        fail(ErrorKind::InvalidParameter, "batch_size must be between 1 and 1048576");
    if (!(validation_fraction >= 0 && validation_fraction < 1))
        fail(ErrorKind::InvalidParameter, "validation_fraction must be in [0, 1)");
    if ((algorithm == "mlp" || algorithm == "blend") && hidden.empty())
        fail(ErrorKind::InvalidParameter,
             algorithm == "mlp" ? "an mlp needs at least one hidden layer"
                                : "a blend's network needs at least one hidden layer",
             {}, "Use algorithm => 'logistic_regression' for a model without hidden layers.");
    // The network's shape, also checked when a spec is built (NetworkSpec::validate): here, before a row is read.
    if (algorithm != "logistic_regression" && algorithm != "gbdt") {
        if (hidden.size() > 64) fail(ErrorKind::InvalidParameter, "at most 64 hidden layers are supported");
        for (int width : hidden)
            if (width < 1 || width > 4096)
                fail(ErrorKind::InvalidParameter, "hidden layer widths must be between 1 and 4096",
                     "A layer of " + std::to_string(width) + " units was requested.");
    }
    if (!(network_weight >= 0 && network_weight <= 1))
        fail(ErrorKind::InvalidParameter, "network_weight must be in [0, 1]",
             "It is the network's share of a blend's logit (the trees have the rest).");
    if (algorithm == "autoencoder" && hidden.empty())
        fail(ErrorKind::InvalidParameter, "an autoencoder needs at least one hidden layer", {},
             "As in hidden => '{64,16,64}': the narrow middle layer is what it must squeeze each row through.");
    if (!(dropout >= 0 && dropout < 1)) fail(ErrorKind::InvalidParameter, "dropout must be in [0, 1)");
    if (!(clip_norm >= 0) || !std::isfinite(clip_norm))
        fail(ErrorKind::InvalidParameter, "clip_norm must be a non-negative number");
    if (!(negative_sampling > 0 && negative_sampling <= 1))
        fail(ErrorKind::InvalidParameter, "negative_sampling must be in (0, 1]",
             "It is the fraction of the negative rows each epoch trains on.");
    if (patience < 0) fail(ErrorKind::InvalidParameter, "patience must not be negative");
    if (average_epochs < 0 || average_epochs > 1000)
        fail(ErrorKind::InvalidParameter, "average_epochs must be between 0 (automatic) and 1000",
             "It is how many epochs' parameters the kept model averages (1: the kept epoch's alone).");
    if (threads < 0 || threads > 256) fail(ErrorKind::InvalidParameter, "threads must be between 0 and 256");
    if (embedding_dim < 0 || embedding_dim > 1024)
        fail(ErrorKind::InvalidParameter, "embedding_dim must be between 0 (automatic) and 1024");
    if (piecewise_bins != -1 && (piecewise_bins < 0 || piecewise_bins == 1 || piecewise_bins > kMaxPiecewiseBins))
        fail(ErrorKind::InvalidParameter,
             "piecewise_bins must be 0 (no encoding) or between 2 and " + std::to_string(kMaxPiecewiseBins),
             "It is the most bins of each numeric input's piecewise-linear encoding.");
    if (algorithm == "autoencoder" && piecewise_bins > 0)
        fail(ErrorKind::InvalidParameter, "an autoencoder cannot encode its inputs", {},
             "Leave piecewise_bins out: an autoencoder reconstructs the featurizer's values as they are.");
    parse_activation(activation);
    optimizer.validate();
    schedule.validate();
    loss.validate();
    if (algorithm == "gbdt" || algorithm == "blend") gbdt.validate();
}

void predict(const NetworkSpec& spec, const float* parameters, const float* data, size_t rows, float* out) {
    Network network(spec);
    std::copy(parameters, parameters + spec.parameter_count(), network.parameters().begin());
    for (size_t start = 0; start < rows; start += kEvaluationChunk) {
        const size_t count = std::min(kEvaluationChunk, rows - start);
        Eigen::Map<const Matrix> x(data + start * spec.inputs, spec.inputs, Eigen::Index(count));
        const RowVector& logits = network.forward(x);
        for (size_t j = 0; j < count; ++j) out[start + j] = sigmoid(logits[Eigen::Index(j)]);
    }
}

EarlyStopping::Verdict EarlyStopping::observe(int epoch, double pr_auc) {
    if (patience_ <= 0) return Verdict::Continue;
    // The first epoch is always kept: its parameters are what the run returns if nothing improves on them
    // (an autoencoder's metric, minus its validation loss, can be below any starting bound, and a NaN
    // compares false).
    if (best_epoch_ == 0 || pr_auc > best_pr_auc_) {
        best_pr_auc_ = pr_auc;
        best_epoch_ = epoch;
        return Verdict::Improved;
    }
    // In epochs (rounds), not observations: gbdt may observe every few rounds.
    return epoch - best_epoch_ >= patience_ ? Verdict::Stop : Verdict::Continue;
}

namespace {

// ROC-AUC of values as scores for labels (Mann-Whitney: the positives' mean rank, ties sharing their
// ranks). pairs is scratch space (value, label), sorted here.
double rank_auc(std::vector<std::pair<float, float>>& pairs, size_t positives) {
    // A missing value (NaN, which gbdt trains on) ranks below every number, all missing values tied: NaN
    // compares false with everything, so a plain < is no ordering (std::sort's behaviour is then undefined)
    // and a plain == would never end a run of them.
    auto less = [](float a, float b) { return std::isnan(a) ? !std::isnan(b) : !std::isnan(b) && a < b; };
    auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : a == b; };
    std::sort(pairs.begin(), pairs.end(), [&](const std::pair<float, float>& a, const std::pair<float, float>& b) {
        return less(a.first, b.first);
    });
    double positive_rank_sum = 0;
    for (size_t i = 0; i < pairs.size();) {
        size_t j = i;
        size_t tied_positives = 0;
        while (j < pairs.size() && same(pairs[j].first, pairs[i].first)) tied_positives += pairs[j++].second > 0.5f;
        positive_rank_sum += double(tied_positives) * (double(i + 1) + double(j)) / 2.0;  // the average rank
        i = j;
    }
    const double p = double(positives), n = double(pairs.size() - positives);
    return (positive_rank_sum - p * (p + 1) / 2) / (p * n);
}

}  // namespace

std::vector<double> feature_separation(const Dataset& data, const std::vector<uint32_t>& rows, size_t max_rows,
                                       int threads) {
    const size_t stride = std::max<size_t>(1, (rows.size() + max_rows - 1) / std::max<size_t>(1, max_rows));
    std::vector<uint32_t> sample;
    size_t positives = 0;
    for (size_t i = 0; i < rows.size(); i += stride) {
        sample.push_back(rows[i]);
        positives += data.labels[rows[i]] > 0.5f;
    }
    if (positives < 10 || sample.size() - positives < 10) return {};  // too few rows of a class to say
    std::vector<double> separation(size_t(data.columns), 0.5);
    // Features are independent: shared out over the threads, each with its own pairs.
    WorkerPool pool(std::min(threads > 0 ? threads : WorkerPool::hardware_threads(), data.columns));
    const int shares = pool.size();
    pool.run(shares, [&](int share) {
        std::vector<std::pair<float, float>> pairs(sample.size());
        for (int f = share; f < data.columns; f += shares) {
            for (size_t k = 0; k < sample.size(); ++k)
                pairs[k] = {data.features[size_t(sample[k]) * size_t(data.columns) + size_t(f)],
                            data.labels[sample[k]]};
            const double auc = rank_auc(pairs, positives);
            separation[size_t(f)] = std::max(auc, 1.0 - auc);
        }
    });
    return separation;
}

// Zeroes what no training row can teach: the first dense layer's weights of every input feature that is 0 in
// each training row (a one-hot __other__ that no training row took, a column constant while the featurizer was
// fitted, standardized to 0, a history output that never moved), and every embedding row that no training row
// reads (a category seen only outside the training rows, or row 0, unseen and missing, when every training row
// had a known category). Either never receives a gradient, so it would stay as initialized, random, and a row
// that reaches it (an unseen category) would move its score by chance; zeroed, it stays 0 and adds nothing.
// Training is otherwise the same to the bit: 0 times any weight is 0, and no step reads those rows.
// Piecewise-encoded inputs are left alone (an encoded input varies, or it would have no bins).
void zero_untrained_inputs(Network& network, const Dataset& data, const std::vector<uint32_t>& rows) {
    const NetworkSpec& spec = network.spec();
    const int n = data.columns;
    std::vector<char> live(size_t(n), 0);
    std::vector<std::vector<char>> read(spec.embeddings.size());
    for (size_t e = 0; e < spec.embeddings.size(); ++e) read[e].assign(size_t(spec.embeddings[e].rows), 0);
    int dead = n;
    for (size_t i = 0; i < rows.size() && (dead > 0 || !spec.embeddings.empty()); ++i) {
        const float* x = data.features + size_t(rows[i]) * size_t(n);
        for (int j = 0; j < n; ++j)
            if (!live[size_t(j)] && x[j] != 0.0f) live[size_t(j)] = 1, --dead;
        for (size_t e = 0; e < spec.embeddings.size(); ++e) {
            const EmbeddingSpec& embedding = spec.embeddings[e];
            read[e][size_t(embedding_row(x[embedding.feature], embedding.rows))] = 1;
        }
    }
    float* parameters = network.parameters().data();
    for (size_t e = 0; e < spec.embeddings.size(); ++e) {
        const size_t dim = size_t(spec.embeddings[e].dim);
        for (size_t row = 0; row < read[e].size(); ++row)
            if (!read[e][row]) std::fill_n(parameters + spec.embedding_offset(e) + row * dim, dim, 0.0f);
    }
    const int n_out = spec.layers[0].units;
    float* kernel = parameters + spec.kernel_offset(0);  // n_out x dense inputs, column-major
    const SpecView view(spec, parameters);
    int e = 0, k = 0;
    for (int j = 0, position = 0; j < n; ++j) {
        const int embedded_before = e, encoded_before = k;
        const int width = dense_width(view.view(), j, e, k);
        const bool expanded = e != embedded_before || k != encoded_before;
        if (!live[size_t(j)] && !expanded) std::fill_n(kernel + size_t(position) * size_t(n_out), n_out, 0.0f);
        position += width;
    }
}

PreparedTraining prepare_training(const Dataset& data, const TrainOptions& options) {
    options.validate();
    if (data.rows == 0) fail(ErrorKind::Data, "the training query returned no rows");
    if (data.rows > UINT32_MAX) fail(ErrorKind::InvalidParameter, "at most 4294967295 training rows are supported");

    PreparedTraining p;
    TrainResult& result = p.result;
    result.algorithm = options.algorithm;
    // An autoencoder learns without labels: when the query has some, they only measure it.
    const bool classifies = options.algorithm != "autoencoder";
    for (size_t i = 0; i < data.rows; ++i) result.positives += data.labels[i] > 0.5f;
    const int64_t negatives = int64_t(data.rows) - result.positives;
    if (classifies && (result.positives == 0 || negatives == 0))
        fail(ErrorKind::Data, "the training set has only one class",
             "It has " + std::to_string(result.positives) + " positive and " + std::to_string(negatives) +
                 " negative rows.",
             "A classifier needs rows of both classes; check the query's WHERE clause and the label column.");

    p.split = split_rows(data, options.validation_fraction, options.seed, classifies);
    const Split& split = p.split;
    if (split.training.empty()) fail(ErrorKind::Data, "no rows are left for training after the validation split");
    result.training_rows = split.training.size();
    result.validation_rows = split.validation.size();
    for (uint32_t i : split.training) p.training_positives += data.labels[i] > 0.5f;
    if (classifies && (p.training_positives == 0 || p.training_positives == int64_t(split.training.size())))
        fail(ErrorKind::Data, "the training rows have only one class after the validation split",
             "The split left " + std::to_string(p.training_positives) + " positive rows out of " +
                 std::to_string(split.training.size()) + " for training.",
             "Use a smaller validation_fraction, or a split that leaves positives in the training rows.");
    bool validation_has_both = false;
    {
        int64_t validation_positives = 0;
        for (uint32_t i : split.validation) validation_positives += data.labels[i] > 0.5f;
        validation_has_both = validation_positives > 0 && validation_positives < int64_t(split.validation.size());
    }
    if (classifies) {
        result.metrics_on_training_rows = !validation_has_both;
        p.evaluation_rows = validation_has_both ? split.validation : split.training;
    } else {
        result.metrics_on_training_rows = split.validation.empty();
        p.evaluation_rows = split.validation.empty() ? split.training : split.validation;
        int64_t evaluation_positives = 0;
        for (uint32_t i : p.evaluation_rows) evaluation_positives += data.labels[i] > 0.5f;
        result.labelled = evaluation_positives > 0 && evaluation_positives < int64_t(p.evaluation_rows.size());
    }
    result.evaluation_rows = p.evaluation_rows;
    if (options.measure_separation)
        result.feature_separation = feature_separation(data, p.evaluation_rows, 20000, options.threads);

    // Class weights, from the training rows' class counts.
    if (options.class_weight.mode == ClassWeight::Mode::Balanced) {
        const double n = double(split.training.size());
        p.positive_weight = float(n / (2.0 * double(p.training_positives)));
        p.negative_weight = float(n / (2.0 * (n - double(p.training_positives))));
    } else if (options.class_weight.mode == ClassWeight::Mode::Positive) {
        p.positive_weight = float(options.class_weight.positive);
    }
    return p;
}

TrainResult train(const Dataset& given, const TrainOptions& options, const TrainCallbacks& callbacks) {
    if (options.algorithm == "gbdt") return train_gbdt(given, options, callbacks);
    if (options.algorithm == "blend") return train_blend(given, options, callbacks);
    const auto start = Clock::now();
    const bool reconstructs = options.algorithm == "autoencoder";
    // An autoencoder may train without labels: it reads zeros, and measures nothing but its losses.
    std::vector<float> no_labels;
    Dataset data = given;
    if (!data.labels) {
        if (!reconstructs) fail(ErrorKind::Internal, "a classifier was given no labels");
        no_labels.assign(data.rows, 0.0f);
        data.labels = no_labels.data();
    }
    if (reconstructs && !given.labels && options.threshold.kind != ThresholdRule::Kind::Rate &&
        options.threshold.kind != ThresholdRule::Kind::Fixed)
        fail(ErrorKind::InvalidParameter,
             "threshold \"" + options.threshold.text() + "\" needs labels, and the autoencoder has none", {},
             "Use threshold => 'rate:0.01' (flag the rarest 1 % of rows like the training rows) or a fixed score.");
    // An autoencoder's scores are quantiles of its training rows' errors: a rate is a fixed threshold there.
    const ThresholdRule score_rule = reconstructs && options.threshold.kind == ThresholdRule::Kind::Rate
                                         ? ThresholdRule{ThresholdRule::Kind::Fixed, 1.0 - options.threshold.value}
                                         : options.threshold;
    PreparedTraining prepared = prepare_training(data, options);
    TrainResult result = std::move(prepared.result);
    if (!given.labels) result.labelled = false;
    const Split& split = prepared.split;
    const std::vector<uint32_t>& evaluation_rows = prepared.evaluation_rows;
    const float positive_weight = prepared.positive_weight, negative_weight = prepared.negative_weight;

    const std::vector<int> hidden = options.algorithm == "logistic_regression" ? std::vector<int>{} : options.hidden;
    NetworkSpec network_spec =
        reconstructs
            ? NetworkSpec::autoencoder(data.columns, hidden, parse_activation(options.activation), options.layer_norm)
            : NetworkSpec::binary_classifier(data.columns, hidden, parse_activation(options.activation),
                                             options.layer_norm);
    if (reconstructs && !options.index_features.empty())
        fail(ErrorKind::InvalidParameter, "an autoencoder cannot reconstruct a category index", {},
             "Encode the featurizer's categorical columns as 'onehot' or 'frequency' rather than 'index'.");
    for (const IndexFeature& f : options.index_features)
        network_spec.embeddings.push_back(
            {f.feature, f.rows, options.embedding_dim > 0 ? options.embedding_dim : default_embedding_dim(f.rows)});
    WorkerPool pool(options.threads);
    if (!reconstructs && options.network_piecewise_bins() > 0)
        fit_encodings(
            data, split.training, options.network_piecewise_bins(), options.index_features, pool,
            [&] {
                if (callbacks.should_stop && callbacks.should_stop()) fail(ErrorKind::Canceled, "training canceled");
            },
            network_spec);
    network_spec.validate();
    Network network(std::move(network_spec));
    {
        Rng init(mix(options.seed, kInitStream));
        network.initialize(init);
        zero_untrained_inputs(network, data, split.training);
    }
    const NetworkSpec& spec = network.spec();
    const size_t n_parameters = spec.parameter_count();
    auto optimizer = Optimizer::create(options.optimizer, n_parameters);
    Rng shuffle_rng(mix(options.seed, kShuffleStream));

    std::vector<uint32_t> training_positive_rows, training_negative_rows;
    for (uint32_t i : split.training)
        (data.labels[i] > 0.5f ? training_positive_rows : training_negative_rows).push_back(i);

    result.threads = pool.size();
    const size_t batch_size = size_t(options.batch_size);
    const size_t max_shards = (std::min(batch_size, split.training.size()) + kShardRows - 1) / kShardRows;
    const size_t evaluation_chunks = (evaluation_rows.size() + kEvaluationChunk - 1) / kEvaluationChunk;
    std::vector<Shard> shards(std::max<size_t>(max_shards, size_t(pool.size())));
    for (auto& shard : shards) shard.gradient.assign(n_parameters, 0.0f);
    AlignedFloats gradient(n_parameters), best_parameters;
    std::vector<float> kept_scores;  // the kept epoch's evaluation scores
    std::vector<float> evaluation_labels(evaluation_rows.size()), evaluation_scores(evaluation_rows.size());
    std::vector<double> chunk_losses(evaluation_chunks);
    std::vector<uint32_t> epoch_rows;
    const float dropout = float(options.dropout);

    auto check_stop = [&] {
        if (callbacks.should_stop && callbacks.should_stop()) fail(ErrorKind::Canceled, "training canceled");
    };

    // An autoencoder's reconstruction errors of the listed rows under the given parameters, computed by the
    // scoring path itself (so the stored table and a trigger's errors agree to the bit); labels (if not null)
    // gets the rows' labels. A chunk per task.
    std::vector<std::vector<float>> error_scratch(size_t(pool.size()));
    auto reconstruction_errors_of = [&](const float* parameters, const std::vector<uint32_t>& rows, float* errors,
                                        float* labels) {
        const SpecView view(spec, parameters);
        const size_t chunks = (rows.size() + kEvaluationChunk - 1) / kEvaluationChunk;
        pool.run(int(chunks), [&](int c) {
            Shard& shard = shards[size_t(c % pool.size())];  // chunk c runs on thread c % size, alone
            std::vector<float>& scratch = error_scratch[size_t(c % pool.size())];
            const size_t first = size_t(c) * kEvaluationChunk, count = std::min(kEvaluationChunk, rows.size() - first);
            shard.labels.resize(count);
            gather(data, rows.data() + first, count, shard.x, shard.labels.data());
            if (labels) std::copy(shard.labels.begin(), shard.labels.end(), labels + first);
            scratch.resize(batch_scratch_floats(view.view(), int(count)));
            reconstruction_errors(view.view(), shard.x.data(), int(count), errors + first, scratch.data());
        });
    };
    std::vector<uint32_t> epoch_quantile_rows;  // the training rows at an even stride
    std::vector<float> epoch_quantile_errors, evaluation_errors, kept_errors;
    if (reconstructs) {
        const size_t stride = std::max<size_t>(1, split.training.size() / kEpochQuantileRows);
        for (size_t i = 0; i < split.training.size(); i += stride) epoch_quantile_rows.push_back(split.training[i]);
        epoch_quantile_errors.resize(epoch_quantile_rows.size());
        evaluation_errors.resize(evaluation_rows.size());
    }

    // Steps per epoch for the schedule: the rows an epoch trains on, which negative sampling makes random.
    const size_t expected_epoch_rows =
        training_positive_rows.size() +
        size_t(std::ceil(double(training_negative_rows.size()) * options.negative_sampling));
    const long steps_per_epoch = long((expected_epoch_rows + batch_size - 1) / batch_size);
    const long total_steps = steps_per_epoch * options.epochs;
    long step = 0;
    EarlyStopping early_stopping(options.patience);

    // Weight averaging: the last `averaged_window` epochs' parameters, a ring indexed by (epoch - 1) % size,
    // and their mean, which is then the epoch's model.
    const size_t averaged_window = size_t(options.averaged_epochs());
    std::vector<AlignedFloats> recent_parameters(averaged_window > 1 ? averaged_window : 0);
    AlignedFloats averaged_parameters(averaged_window > 1 ? n_parameters : 0);

    // On a device the steps and the evaluation's forward passes run there; the rows, their order, the
    // schedule and every decision stay here, so the two paths take the same steps.
    std::unique_ptr<DeviceRun> device;
    std::vector<float> evaluation_logits;
    if (options.device) {
        device = std::make_unique<DeviceRun>(options.device, spec, options, data, options.device_memory_budget);
        device->set_parameters(network.parameters());
        evaluation_logits.resize(evaluation_rows.size());
        for (size_t j = 0; j < evaluation_rows.size(); ++j) evaluation_labels[j] = data.labels[evaluation_rows[j]];
    }

    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        const auto epoch_start = Clock::now();
        if (options.negative_sampling < 1) {
            epoch_rows = training_positive_rows;
            for (uint32_t i : training_negative_rows)
                if (shuffle_rng.uniform() < options.negative_sampling) epoch_rows.push_back(i);
        } else if (epoch == 1) {
            epoch_rows = split.training;
        }
        shuffle_rng.shuffle(epoch_rows.data(), epoch_rows.size());
        if (device) device->set_epoch_rows(epoch_rows);
        double loss_sum = 0;
        size_t batches = 0;
        for (size_t offset = 0; offset < epoch_rows.size(); offset += batch_size) {
            check_stop();
            const size_t count = std::min(batch_size, epoch_rows.size() - offset);
            const double learning_rate =
                options.schedule.learning_rate(options.optimizer.learning_rate, step, steps_per_epoch, total_steps);
            if (device) {
                device->step(offset, count, positive_weight, negative_weight, learning_rate);
                ++batches;
                ++step;
                continue;
            }
            const size_t n_shards = (count + kShardRows - 1) / kShardRows;
            const float* parameters = network.parameters().data();
            pool.run(int(n_shards), [&](int s) {
                Shard& shard = shards[size_t(s)];
                const size_t first = size_t(s) * kShardRows, rows = std::min(kShardRows, count - first);
                shard.labels.resize(rows);
                shard.weights.resize(rows);
                gather(data, epoch_rows.data() + offset + first, rows, shard.x, shard.labels.data());
                Rng dropout_rng(mix(options.seed, kDropoutStream, uint64_t(step), uint64_t(s)));
                if (reconstructs) {  // no labels, no class weights
                    shard.pass.forward(spec, parameters, shard.x, dropout, dropout > 0 ? &dropout_rng : nullptr);
                    shard.loss = reconstruction_loss(shard.pass.outputs(), shard.x, &shard.doutputs, double(count));
                    shard.pass.backward_outputs(spec, parameters, shard.doutputs, shard.gradient.data());
                    return;
                }
                for (size_t j = 0; j < rows; ++j)
                    shard.weights[j] = shard.labels[j] > 0.5f ? positive_weight : negative_weight;
                const RowVector& logits =
                    shard.pass.forward(spec, parameters, shard.x, dropout, dropout > 0 ? &dropout_rng : nullptr);
                shard.loss = loss_with_logits(options.loss, logits, shard.labels.data(), shard.weights.data(),
                                              &shard.dlogits, double(count));
                shard.pass.backward(spec, parameters, shard.dlogits, shard.gradient.data());
            });
            // The batch's gradient: the shards' summed in shard order.
            std::copy(shards[0].gradient.begin(), shards[0].gradient.end(), gradient.begin());
            double batch_loss = shards[0].loss;
            for (size_t s = 1; s < n_shards; ++s) {
                Eigen::Map<Eigen::VectorXf>(gradient.data(), Eigen::Index(n_parameters)) +=
                    Eigen::Map<const Eigen::VectorXf>(shards[s].gradient.data(), Eigen::Index(n_parameters));
                batch_loss += shards[s].loss;
            }
            loss_sum += batch_loss;
            ++batches;
            if (options.clip_norm > 0) clip_gradient_norm(gradient.data(), n_parameters, options.clip_norm);
            optimizer->step(network.parameters().data(), gradient.data(), learning_rate);
            ++step;
        }
        if (device) loss_sum = device->take_loss();  // also waits for the epoch's steps
        const double step_seconds = seconds_since(epoch_start);
        const double epoch_loss = batches ? loss_sum / double(batches) : 0.0;
        if (!std::isfinite(epoch_loss))
            fail(ErrorKind::Data, "training diverged: the loss is not finite after epoch " + std::to_string(epoch), {},
                 "Lower the learning_rate, or clip gradients with clip_norm.");

        // Evaluate on the validation rows, a chunk per task.
        check_stop();
        // An autoencoder trained on a device is measured here, from the epoch's parameters.
        if (device && reconstructs && averaged_window == 1) device->get_parameters(&network.parameters());
        const float* parameters = network.parameters().data();
        if (averaged_window > 1) {
            if (device) device->get_parameters(&network.parameters());
            recent_parameters[size_t(epoch - 1) % averaged_window] = network.parameters();
            // The mean in epoch order, oldest first, so that one seed gives one model.
            const size_t count = std::min(size_t(epoch), averaged_window);
            Eigen::Map<Eigen::VectorXf> mean(averaged_parameters.data(), Eigen::Index(n_parameters));
            mean.setZero();
            for (size_t k = 0; k < count; ++k)
                mean += Eigen::Map<const Eigen::VectorXf>(
                    recent_parameters[(size_t(epoch) - count + k) % averaged_window].data(),
                    Eigen::Index(n_parameters));
            mean *= 1.0f / float(count);
            parameters = averaged_parameters.data();
        }
        if (reconstructs) {
            // Errors of the evaluation rows, as scores against this epoch's table of training errors.
            reconstruction_errors_of(parameters, evaluation_rows, evaluation_errors.data(), evaluation_labels.data());
            reconstruction_errors_of(parameters, epoch_quantile_rows, epoch_quantile_errors.data(), nullptr);
            const std::vector<float> table = error_quantiles(epoch_quantile_errors, kEpochErrorQuantiles);
            double error_sum = 0;
            for (size_t j = 0; j < evaluation_rows.size(); ++j) {
                error_sum += evaluation_errors[j];
                evaluation_scores[j] = anomaly_score(table.data(), kEpochErrorQuantiles, evaluation_errors[j]);
            }
            std::fill(chunk_losses.begin(), chunk_losses.end(), 0.0);
            if (!chunk_losses.empty())
                chunk_losses[0] = error_sum / double(std::max<size_t>(1, evaluation_rows.size()));
        } else if (device) {
            // The averaged model is evaluated on the device too: its mean goes up for the forward passes, and
            // the epoch's own parameters (fetched above) come back for the next steps; the optimizer's state
            // stays where it is.
            if (averaged_window > 1) device->set_parameters(averaged_parameters);
            device->predict_logits(evaluation_rows, evaluation_logits.data());
            if (averaged_window > 1) device->set_parameters(network.parameters());
            std::vector<float> weights(evaluation_rows.size());
            for (size_t j = 0; j < weights.size(); ++j)
                weights[j] = evaluation_labels[j] > 0.5f ? positive_weight : negative_weight;
            const Eigen::Map<const RowVector> logits(evaluation_logits.data(), Eigen::Index(evaluation_logits.size()));
            std::fill(chunk_losses.begin(), chunk_losses.end(), 0.0);
            if (!chunk_losses.empty())
                chunk_losses[0] = loss_with_logits(options.loss, logits, evaluation_labels.data(), weights.data(),
                                                   nullptr, double(evaluation_rows.size()));
            for (size_t j = 0; j < evaluation_logits.size(); ++j) evaluation_scores[j] = sigmoid(evaluation_logits[j]);
        } else
            pool.run(int(evaluation_chunks), [&](int c) {
                Shard& shard = shards[size_t(c % pool.size())];  // chunk c runs on thread c % size, alone
                const size_t first = size_t(c) * kEvaluationChunk;
                const size_t rows = std::min(kEvaluationChunk, evaluation_rows.size() - first);
                gather(data, evaluation_rows.data() + first, rows, shard.x, evaluation_labels.data() + first);
                const RowVector& logits = shard.pass.forward(spec, parameters, shard.x);
                shard.weights.resize(rows);
                for (size_t j = 0; j < rows; ++j)
                    shard.weights[j] = evaluation_labels[first + j] > 0.5f ? positive_weight : negative_weight;
                chunk_losses[size_t(c)] =
                    loss_with_logits(options.loss, logits, evaluation_labels.data() + first, shard.weights.data(),
                                     nullptr, double(evaluation_rows.size()));
                for (size_t j = 0; j < rows; ++j) evaluation_scores[first + j] = sigmoid(logits[Eigen::Index(j)]);
            });
        EpochReport report;
        report.epoch = epoch;
        report.loss = epoch_loss;
        report.validation_loss = std::accumulate(chunk_losses.begin(), chunk_losses.end(), 0.0);
        report.metrics =
            evaluate(evaluation_scores.data(), evaluation_labels.data(), evaluation_scores.size(), score_rule);
        report.seconds = seconds_since(start);
        report.step_seconds = step_seconds;
        result.epochs.push_back(report);
        if (callbacks.on_epoch) callbacks.on_epoch(report);

        // An autoencoder stops on its validation reconstruction error: labels, if any, only measure it.
        const EarlyStopping::Verdict verdict =
            early_stopping.observe(epoch, reconstructs ? -report.validation_loss : report.metrics.pr_auc);
        if (device && averaged_window == 1 &&
            (verdict == EarlyStopping::Verdict::Improved || verdict == EarlyStopping::Verdict::Stop ||
             epoch == options.epochs))
            device->get_parameters(&network.parameters());  // the host's copy, when it is about to be read
        if (verdict == EarlyStopping::Verdict::Improved)
            best_parameters = averaged_window > 1 ? averaged_parameters : network.parameters();
        if (verdict == EarlyStopping::Verdict::Improved || options.patience == 0) {
            kept_scores = evaluation_scores;  // a copy: the curve is summarized once, at the end
            if (reconstructs) kept_errors = evaluation_errors;
        }
        if (verdict == EarlyStopping::Verdict::Stop) {
            result.stopped_early = epoch < options.epochs;
            break;
        }
    }

    result.spec = spec;
    result.best_epoch = early_stopping.kept_epoch(int(result.epochs.size()));
    const AlignedFloats& kept = options.patience > 0  ? best_parameters
                                : averaged_window > 1 ? averaged_parameters
                                                      : network.parameters();
    if (kept.size() != n_parameters) fail(ErrorKind::Internal, "training kept no epoch's parameters");
    result.parameters.assign(kept.begin(), kept.end());
    // The encodings' edges after the parameters, as a stored version holds them.
    result.parameters.insert(result.parameters.end(), spec.encoding_edges.begin(), spec.encoding_edges.end());
    if (reconstructs) {
        // The stored table: every training row's error under the kept parameters, after them in the buffer.
        // The kept epoch's metrics are measured again in its scores.
        check_stop();
        std::vector<float> training_errors(split.training.size());
        reconstruction_errors_of(kept.data(), split.training, training_errors.data(), nullptr);
        const std::vector<float> table = error_quantiles(std::move(training_errors), kStoredErrorQuantiles);
        if (!valid_error_quantiles(table.data(), kStoredErrorQuantiles))
            fail(ErrorKind::Data, "training diverged: some training rows' reconstruction errors are not finite", {},
                 "Lower the learning_rate, or clip gradients with clip_norm.");
        result.spec.error_quantiles = kStoredErrorQuantiles;
        result.parameters.insert(result.parameters.end(), table.begin(), table.end());
        for (size_t j = 0; j < kept_scores.size(); ++j)
            kept_scores[j] = anomaly_score(table.data(), kStoredErrorQuantiles, kept_errors[j]);
        for (EpochReport& e : result.epochs)
            if (e.epoch == result.best_epoch)
                e.metrics = evaluate(kept_scores.data(), evaluation_labels.data(), kept_scores.size(), score_rule);
    }
    result.curve = summarize_curve(Curve::of(kept_scores.data(), evaluation_labels.data(), kept_scores.size()));
    result.histogram = score_histogram(kept_scores.data(), evaluation_labels.data(), kept_scores.size());
    ModelView scorer;
    const SpecView view(spec, kept.data());
    scorer.network = view.view();
    if (reconstructs) {
        scorer.kind = ModelView::Kind::Autoencoder;
        scorer.error_quantiles = result.parameters.data() + spec.quantile_offset();
        scorer.error_quantile_count = kStoredErrorQuantiles;
    }
    result.score_us_per_row = inline_scoring_microseconds(scorer, data.features, data.rows, data.columns);
    result.seconds = seconds_since(start);
    return result;
}

}  // namespace dendrite::engine
