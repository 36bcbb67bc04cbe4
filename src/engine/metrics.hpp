// Fraud metrics: confusion counts at a threshold, precision/recall/F1, average precision (PR-AUC, the
// step-wise definition used by scikit-learn) and ROC-AUC (ties count one half). Ties in scores are grouped:
// a threshold never separates equal scores.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>

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

struct Metrics {
    Confusion confusion;
    double threshold = 0.5;
    double pr_auc = 0, roc_auc = 0;
};

// A score at or above the threshold is predicted positive. labels are 0/1.
Confusion confusion_at(const float* scores, const float* labels, size_t n, double threshold);
double average_precision(const float* scores, const float* labels, size_t n);
double roc_auc(const float* scores, const float* labels, size_t n);
// The threshold (one of the scores) that maximises F1; 0.5 when there is no positive.
double max_f1_threshold(const float* scores, const float* labels, size_t n);
// PR-AUC, ROC-AUC and the confusion counts at the max-F1 threshold.
Metrics evaluate(const float* scores, const float* labels, size_t n);

}  // namespace dendrite::engine
