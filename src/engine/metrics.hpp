// Fraud metrics: confusion counts at a threshold, precision/recall/F1, average precision (PR-AUC, the
// step-wise definition used by scikit-learn) and ROC-AUC (ties count one half). Ties in scores are grouped:
// a threshold never separates equal scores.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dendrite::engine {

struct Confusion {
    int64_t tp = 0, fp = 0, tn = 0, fn = 0;
    double precision() const { return tp + fp > 0 ? double(tp) / double(tp + fp) : 0.0; }
    double recall() const { return tp + fn > 0 ? double(tp) / double(tp + fn) : 0.0; }
    double f1() const {
        const double p = precision(), r = recall();
        return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    }
};

// How the decision threshold is chosen on the validation scores:
//   'f1'             the threshold that maximises F1 (the default);
//   'precision:0.9'  the lowest threshold whose precision is at least 0.9 (the most recall at that precision);
//   'recall:0.8'     the highest threshold whose recall is at least 0.8 (the most precision at that recall);
//   '0.5'            a fixed threshold.
// When no threshold reaches a precision target, the one with the highest precision is used and met is false.
struct ThresholdRule {
    // Rate: the highest threshold that flags at least `value` of the rows (an expected alert rate); an
    // autoencoder's scores are quantiles of its training rows, so there it is 1 - value.
    enum class Kind { MaxF1, Precision, Recall, Rate, Fixed } kind = Kind::MaxF1;
    double value = 0;
    static ThresholdRule parse(const std::string& text);  // throws InvalidParameter
    std::string text() const;
};

struct Metrics {
    Confusion confusion;
    double threshold = 0.5;
    bool threshold_met = true;  // the rule's target was reached
    double pr_auc = 0, roc_auc = 0;
    double recall_at_precision_90 = 0;  // the most recall with precision >= 0.9 (0 when never reached)
};

// The precision-recall curve: one point per distinct score, highest first, with the counts of predicted
// positives at that threshold. One sort serves every metric.
struct Curve {
    std::vector<float> thresholds;
    std::vector<int64_t> tp, fp;
    int64_t positives = 0, negatives = 0;
    static Curve of(const float* scores, const float* labels, size_t n);
};

// A score at or above the threshold is predicted positive. labels are 0/1.
Confusion confusion_at(const float* scores, const float* labels, size_t n, double threshold);
double average_precision(const float* scores, const float* labels, size_t n);
double roc_auc(const float* scores, const float* labels, size_t n);
// The threshold (one of the scores) that maximises F1; 0.5 when there is no positive.
double max_f1_threshold(const float* scores, const float* labels, size_t n);
// The most recall among thresholds with precision >= target (0 when none reaches it).
double recall_at_precision(const float* scores, const float* labels, size_t n, double target);
// The threshold a rule chooses; met tells whether its target was reached.
double choose_threshold(const Curve& curve, const ThresholdRule& rule, bool* met = nullptr);
// PR-AUC, ROC-AUC, recall at precision 0.9 and the confusion counts at the rule's threshold.
Metrics evaluate(const float* scores, const float* labels, size_t n, const ThresholdRule& rule = {});

// The PR and ROC curves of a set of scores, thinned for storing and drawing: a point per threshold where
// precision, recall or the false-positive rate moved by at least resolution since the last kept point, and
// always the first and the last threshold. Recall is the ROC curve's true-positive rate.
struct CurveSummary {
    std::vector<float> thresholds, precision, recall, false_positive_rate;
    size_t size() const { return thresholds.size(); }
};
CurveSummary summarize_curve(const Curve& curve, double resolution = 0.005);

// How each class's scores spread over [0, 1]: counts per bin of width 1 / bins (a score of 1 in the last).
struct ScoreHistogram {
    std::vector<int64_t> positives, negatives;
};
ScoreHistogram score_histogram(const float* scores, const float* labels, size_t n, int bins = 20);

}  // namespace dendrite::engine
