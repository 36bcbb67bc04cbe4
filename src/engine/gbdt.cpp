#include "engine/gbdt.hpp"

#include <xgboost/c_api.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.hpp"
#include "engine/model.hpp"
#include "engine/network.hpp"
#include "engine/parallel.hpp"
#include "engine/signals.hpp"
#include "engine/trainer.hpp"

namespace dendrite::engine {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// xgboost's OpenMP threads are created inside its calls: every call runs in a SignalsBlocked scope
// (engine/signals.hpp). A cancel arriving meanwhile stays pending for the length of one call (one boosting
// round) and is then handled.

void check(int status, const char* what) {
    if (status != 0) {
        const std::string message = XGBGetLastError();
        if (message.find("bad_alloc") != std::string::npos || message.find("memory") != std::string::npos)
            fail(ErrorKind::OutOfMemory, std::string("xgboost ran out of memory in ") + what, message);
        fail(ErrorKind::Internal, std::string("xgboost failed in ") + what, message);
    }
}

struct DMatrix {
    DMatrixHandle handle = nullptr;
    ~DMatrix() {
        if (handle) XGDMatrixFree(handle);
    }
};

struct Booster {
    BoosterHandle handle = nullptr;
    ~Booster() {
        if (handle) XGBoosterFree(handle);
    }
};

// The listed rows, contiguous, with labels and weights, as an xgboost matrix. The matrix keeps the thread
// count it is made with, and xgboost sketches its histogram bins (the first round's work, half a second for
// 180,000 rows x 30) with those threads: XGDMatrixCreateFromMat makes a one-thread matrix, so the first round
// ran on one core (docs/benchmarks.md, issue #27). `threads` <= 0: every core, as the booster's nthread 0.
void make_matrix(const Dataset& data, const std::vector<uint32_t>& rows, float positive_weight, float negative_weight,
                 int threads, DMatrix& out) {
    std::vector<float> features(rows.size() * size_t(data.columns)), labels(rows.size()), weights(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
        const float* row = data.features + size_t(rows[j]) * data.columns;
        std::copy(row, row + data.columns, features.begin() + j * data.columns);
        labels[j] = data.labels[rows[j]];
        weights[j] = labels[j] > 0.5f ? positive_weight : negative_weight;
    }
    SignalsBlocked blocked;
    check(XGDMatrixCreateFromMat_omp(features.data(), bst_ulong(rows.size()), bst_ulong(data.columns), NAN, &out.handle,
                                     threads > 0 ? threads : 0),
          "XGDMatrixCreateFromMat_omp");
    check(XGDMatrixSetFloatInfo(out.handle, "label", labels.data(), bst_ulong(rows.size())), "XGDMatrixSetFloatInfo");
    check(XGDMatrixSetFloatInfo(out.handle, "weight", weights.data(), bst_ulong(rows.size())), "XGDMatrixSetFloatInfo");
}

void set(BoosterHandle booster, const char* name, const std::string& value) {
    check(XGBoosterSetParam(booster, name, value.c_str()), "XGBoosterSetParam");
}

std::string number(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    return buffer;
}

float logit(double p) { return float(std::log(p / (1.0 - p))); }

}  // namespace

void GbdtOptions::validate() const {
    if (rounds < 1 || rounds > 100000) fail(ErrorKind::InvalidParameter, "rounds must be between 1 and 100000");
    if (max_depth < 1 || max_depth > 16) fail(ErrorKind::InvalidParameter, "max_depth must be between 1 and 16");
    if (!(eta > 0 && eta <= 1)) fail(ErrorKind::InvalidParameter, "eta must be in (0, 1]");
    if (!(subsample > 0 && subsample <= 1)) fail(ErrorKind::InvalidParameter, "subsample must be in (0, 1]");
    if (!(colsample_bytree > 0 && colsample_bytree <= 1))
        fail(ErrorKind::InvalidParameter, "colsample_bytree must be in (0, 1]");
    if (!(min_child_weight >= 0) || !std::isfinite(min_child_weight))
        fail(ErrorKind::InvalidParameter, "min_child_weight must be a non-negative number");
    if (!(lambda >= 0) || !std::isfinite(lambda) || !(alpha >= 0) || !std::isfinite(alpha))
        fail(ErrorKind::InvalidParameter, "lambda and alpha must be non-negative numbers");
    if (max_bin < 2 || max_bin > 65536) fail(ErrorKind::InvalidParameter, "max_bin must be between 2 and 65536");
    if (evaluate_every < 0 || evaluate_every > 100000)
        fail(ErrorKind::InvalidParameter, "evaluate_every must be between 0 (automatic) and 100000");
}

TreeEnsemble TreeEnsemble::from_xgboost_json(const std::string& text) {
    TreeEnsemble ensemble;
    try {
        const json model = json::parse(text);
        const json& learner = model.at("learner");
        const json& parameters = learner.at("learner_model_param");
        ensemble.features = std::stoi(parameters.at("num_feature").get<std::string>());
        // base_score is a probability for binary:logistic; the trees add to its logit.
        ensemble.base_margin = logit(std::stod(parameters.at("base_score").get<std::string>()));
        for (const json& tree : learner.at("gradient_booster").at("model").at("trees")) {
            const auto& left = tree.at("left_children");
            const auto& right = tree.at("right_children");
            const auto& indices = tree.at("split_indices");
            const auto& conditions = tree.at("split_conditions");
            const auto& default_left = tree.at("default_left");
            const auto& hessians = tree.at("sum_hessian");
            const size_t nodes = left.size();
            if (right.size() != nodes || indices.size() != nodes || conditions.size() != nodes ||
                default_left.size() != nodes || hessians.size() != nodes || nodes == 0)
                fail(ErrorKind::Internal, "xgboost model JSON: a tree's arrays differ in length");
            for (size_t i = 0; i < nodes; ++i) {
                const int32_t l = left[i].get<int32_t>();
                const bool leaf = l < 0;
                ensemble.left.push_back(leaf ? -1 : l);
                ensemble.right.push_back(leaf ? -1 : right[i].get<int32_t>());
                ensemble.feature.push_back(leaf ? 0 : indices[i].get<int32_t>());
                const float condition = conditions[i].get<float>();  // a leaf's value, or a split's threshold
                ensemble.threshold.push_back(leaf ? 0.0f : condition);
                ensemble.value.push_back(leaf ? condition : 0.0f);
                ensemble.default_left.push_back(default_left[i].get<int>() != 0);
                ensemble.cover.push_back(hessians[i].get<float>());
            }
            ensemble.offsets.push_back(int32_t(ensemble.left.size()));
        }
    } catch (const json::exception& e) {
        fail(ErrorKind::Internal, "xgboost model JSON has an unexpected form", e.what());
    } catch (const std::logic_error& e) {  // stoi/stod
        fail(ErrorKind::Internal, "xgboost model JSON has an unexpected form", e.what());
    }
    ensemble.validate();
    return ensemble;
}

void TreeEnsemble::validate() const {
    const size_t nodes = left.size();
    if (right.size() != nodes || feature.size() != nodes || threshold.size() != nodes || value.size() != nodes ||
        default_left.size() != nodes || (!cover.empty() && cover.size() != nodes) || offsets.empty() ||
        offsets.front() != 0 || size_t(offsets.back()) != nodes || !well_formed(view_of(*this)))
        fail(ErrorKind::InvalidParameter, "invalid tree ensemble");
}

bool well_formed(const TreeEnsembleView& v) {
    if (v.features < 1 || v.trees < 1 || !std::isfinite(v.base_margin) || v.offsets[0] != 0) return false;
    std::vector<uint8_t> has_parent;
    std::vector<int32_t> depth;  // of each node, set by its parent (which comes first)
    for (int t = 0; t < v.trees; ++t) {
        const int32_t first = v.offsets[t];
        if (v.offsets[t + 1] <= first) return false;
        const int32_t size = v.offsets[t + 1] - first;
        has_parent.assign(size_t(size), 0);
        depth.assign(size_t(size), 0);
        for (int32_t i = 0; i < size; ++i) {
            const size_t n = size_t(first) + size_t(i);
            // A cover is a sum of hessians p(1 - p) of the rows reaching the node: positive. (A zero one
            // would divide by zero in TreeSHAP.)
            if (v.cover && !(v.cover[n] > 0 && std::isfinite(v.cover[n]))) return false;
            if (v.left[n] == -1 && v.right[n] == -1) {  // a leaf: both children -1, as xgboost writes them
                if (!std::isfinite(v.value[n])) return false;
                continue;
            }
            // Children come after their parent (xgboost numbers nodes breadth-first): no cycle is possible.
            if (v.left[n] <= i || v.right[n] <= i || v.left[n] >= size || v.right[n] >= size) return false;
            if (v.feature[n] < 0 || v.feature[n] >= v.features) return false;
            if (std::isnan(v.threshold[n])) return false;
            if (depth[size_t(i)] >= kMaxTreeDepth) return false;
            for (const int32_t child : {v.left[n], v.right[n]}) {
                if (has_parent[size_t(child)]) return false;  // a second parent (or both children one node)
                has_parent[size_t(child)] = 1;
                depth[size_t(child)] = depth[size_t(i)] + 1;
            }
        }
        // Every node but the root reached from a parent: no node is left out of the tree.
        for (int32_t i = 1; i < size; ++i)
            if (!has_parent[size_t(i)]) return false;
    }
    return true;
}

TreeEnsembleView view_of(const TreeEnsemble& e) {
    return TreeEnsembleView{e.features,
                            e.trees(),
                            e.base_margin,
                            e.offsets.data(),
                            e.left.data(),
                            e.right.data(),
                            e.feature.data(),
                            e.threshold.data(),
                            e.value.data(),
                            e.default_left.data(),
                            e.cover.empty() ? nullptr : e.cover.data()};
}

namespace {

inline float margin_of(const TreeEnsembleView& view, const float* x) noexcept {
    float margin = view.base_margin;
    for (int t = 0; t < view.trees; ++t) {
        const int32_t first = view.offsets[t];
        int32_t node = 0;
        while (view.left[first + node] >= 0) {
            const size_t n = size_t(first + node);
            const float v = x[view.feature[n]];
            node = std::isnan(v) ? (view.default_left[n] ? view.left[n] : view.right[n])
                                 : (v < view.threshold[n] ? view.left[n] : view.right[n]);
        }
        margin += view.value[size_t(first + node)];
    }
    return margin;
}

}  // namespace

float score_trees(const TreeEnsembleView& view, const float* x) noexcept { return sigmoid(margin_of(view, x)); }

float trees_margin(const TreeEnsembleView& view, const float* x) noexcept { return margin_of(view, x); }

TrainResult train_gbdt(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks) {
    const auto start = Clock::now();
    const PreparedTraining prepared = prepare_training(data, options);
    TrainResult result = prepared.result;
    const GbdtOptions& g = options.gbdt;

    // 0 lets libxgboost take every core (and OMP_NUM_THREADS); a thread limit set for the process holds it.
    const int threads = options.threads > 0              ? options.threads
                        : WorkerPool::thread_limit() > 0 ? WorkerPool::hardware_threads()
                                                         : 0;
    DMatrix training, validation;
    make_matrix(data, prepared.split.training, prepared.positive_weight, prepared.negative_weight, threads, training);
    make_matrix(data, prepared.evaluation_rows, prepared.positive_weight, prepared.negative_weight, threads,
                validation);
    Booster booster;
    {
        SignalsBlocked blocked;
        DMatrixHandle cached[2] = {training.handle, validation.handle};  // cached: predictions grow per round
        check(XGBoosterCreate(cached, 2, &booster.handle), "XGBoosterCreate");
        set(booster.handle, "objective", "binary:logistic");
        set(booster.handle, "tree_method", "hist");
        set(booster.handle, "max_depth", std::to_string(g.max_depth));
        set(booster.handle, "eta", number(g.eta));
        set(booster.handle, "subsample", number(g.subsample));
        set(booster.handle, "colsample_bytree", number(g.colsample_bytree));
        set(booster.handle, "min_child_weight", number(g.min_child_weight));
        set(booster.handle, "lambda", number(g.lambda));
        set(booster.handle, "alpha", number(g.alpha));
        set(booster.handle, "max_bin", std::to_string(g.max_bin));
        set(booster.handle, "seed", std::to_string(options.seed & 0x7fffffff));
        set(booster.handle, "nthread", std::to_string(threads));
        set(booster.handle, "verbosity", "0");
    }
    result.threads = options.threads;

    const size_t n_evaluation = prepared.evaluation_rows.size();
    std::vector<float> labels(n_evaluation);
    for (size_t j = 0; j < n_evaluation; ++j) labels[j] = data.labels[prepared.evaluation_rows[j]];
    EarlyStopping early_stopping(options.patience);
    std::vector<float> kept_scores;  // the kept round's evaluation scores
    const int every = g.evaluation_interval();
    double step_seconds = 0;  // the boosting steps since the last evaluation
    int last_round = 0;
    for (int round = 1; round <= g.rounds; ++round) {
        if (callbacks.should_stop && callbacks.should_stop()) fail(ErrorKind::Canceled, "training canceled");
        const auto round_start = Clock::now();
        bst_ulong n_scores = 0;
        const float* scores = nullptr;
        {
            SignalsBlocked blocked;
            check(XGBoosterUpdateOneIter(booster.handle, round - 1, training.handle), "XGBoosterUpdateOneIter");
        }
        step_seconds += std::chrono::duration<double>(Clock::now() - round_start).count();
        last_round = round;
        if (round % every != 0 && round != g.rounds) continue;
        {
            SignalsBlocked blocked;
            check(XGBoosterPredict(booster.handle, validation.handle, 0, 0, 0, &n_scores, &scores), "XGBoosterPredict");
        }
        if (n_scores != n_evaluation) fail(ErrorKind::Internal, "xgboost returned the wrong number of predictions");
        EpochReport report;
        report.epoch = round;
        report.unit = "round";
        double loss = 0;
        for (size_t j = 0; j < n_evaluation; ++j) {
            const double p = std::min(std::max(double(scores[j]), 1e-7), 1 - 1e-7);
            const double w = labels[j] > 0.5f ? prepared.positive_weight : prepared.negative_weight;
            loss -= w * (labels[j] > 0.5f ? std::log(p) : std::log(1 - p));
        }
        report.validation_loss = loss / double(std::max<size_t>(1, n_evaluation));
        report.loss = report.validation_loss;  // xgboost does not report the training loss per round
        report.metrics = evaluate(scores, labels.data(), n_evaluation, options.threshold);
        report.step_seconds = step_seconds;
        step_seconds = 0;
        report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        result.epochs.push_back(report);
        if (callbacks.on_epoch) callbacks.on_epoch(report);
        const EarlyStopping::Verdict verdict = early_stopping.observe(round, report.metrics.pr_auc);
        if (verdict == EarlyStopping::Verdict::Improved || options.patience == 0)
            kept_scores.assign(scores, scores + n_evaluation);  // xgboost's buffer is reused by the next predict
        if (verdict == EarlyStopping::Verdict::Stop) {
            result.stopped_early = round < g.rounds;
            break;
        }
    }
    result.best_epoch = early_stopping.kept_epoch(last_round);  // a round
    result.curve = summarize_curve(Curve::of(kept_scores.data(), labels.data(), kept_scores.size()));
    result.histogram = score_histogram(kept_scores.data(), labels.data(), kept_scores.size());

    // The kept rounds' trees, as xgboost's JSON model.
    Booster kept;
    bst_ulong length = 0;
    const char* buffer = nullptr;
    {
        SignalsBlocked blocked;
        BoosterHandle source = booster.handle;
        if (result.best_epoch < last_round) {
            check(XGBoosterSlice(booster.handle, 0, result.best_epoch, 1, &kept.handle), "XGBoosterSlice");
            source = kept.handle;
        }
        check(XGBoosterSaveModelToBuffer(source, "{\"format\": \"json\"}", &length, &buffer),
              "XGBoosterSaveModelToBuffer");
    }
    result.trees = TreeEnsemble::from_xgboost_json(std::string(buffer, length));
    if (result.trees.features != data.columns)
        fail(ErrorKind::Internal, "xgboost's model has the wrong number of features");
    ModelView scorer;
    scorer.kind = ModelView::Kind::Trees;
    scorer.trees = view_of(result.trees);
    result.score_us_per_row = inline_scoring_microseconds(scorer, data.features, data.rows, data.columns);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

}  // namespace dendrite::engine
