#include "engine/metrics.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace dendrite::engine {

namespace {

// Indices sorted by descending score (stable, so equal scores keep a defined order).
std::vector<size_t> order_by_descending_score(const float* scores, size_t n) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    return order;
}

// Calls visit(threshold, tp, fp) once per distinct score, from the highest down, with the counts of
// predicted positives at that threshold.
template <typename Visit>
void walk_thresholds(const float* scores, const float* labels, size_t n, Visit visit) {
    const auto order = order_by_descending_score(scores, n);
    int64_t tp = 0, fp = 0;
    for (size_t i = 0; i < n;) {
        const float threshold = scores[order[i]];
        while (i < n && scores[order[i]] == threshold) {
            (labels[order[i]] > 0.5f ? tp : fp)++;
            ++i;
        }
        visit(threshold, tp, fp);
    }
}

int64_t count_positives(const float* labels, size_t n) {
    int64_t positives = 0;
    for (size_t i = 0; i < n; ++i) positives += labels[i] > 0.5f;
    return positives;
}

}  // namespace

Confusion confusion_at(const float* scores, const float* labels, size_t n, double threshold) {
    Confusion c;
    for (size_t i = 0; i < n; ++i) {
        const bool predicted = scores[i] >= threshold;
        const bool actual = labels[i] > 0.5f;
        if (predicted && actual) ++c.tp;
        else if (predicted) ++c.fp;
        else if (actual) ++c.fn;
        else ++c.tn;
    }
    return c;
}

double average_precision(const float* scores, const float* labels, size_t n) {
    const int64_t positives = count_positives(labels, n);
    if (positives == 0) return 0.0;
    double ap = 0, previous_recall = 0;
    walk_thresholds(scores, labels, n, [&](float, int64_t tp, int64_t fp) {
        const double recall = double(tp) / double(positives);
        ap += (recall - previous_recall) * (double(tp) / double(tp + fp));
        previous_recall = recall;
    });
    return ap;
}

double roc_auc(const float* scores, const float* labels, size_t n) {
    const int64_t positives = count_positives(labels, n);
    const int64_t negatives = int64_t(n) - positives;
    if (positives == 0 || negatives == 0) return 0.5;
    // Trapezoids between consecutive distinct thresholds: a tie between a positive and a negative counts 1/2.
    double area = 0;
    int64_t previous_tp = 0, previous_fp = 0;
    walk_thresholds(scores, labels, n, [&](float, int64_t tp, int64_t fp) {
        area += double(fp - previous_fp) * double(tp + previous_tp) / 2.0;
        previous_tp = tp;
        previous_fp = fp;
    });
    return area / (double(positives) * double(negatives));
}

double max_f1_threshold(const float* scores, const float* labels, size_t n) {
    const int64_t positives = count_positives(labels, n);
    if (positives == 0) return 0.5;
    double best_f1 = -1, best_threshold = 0.5;
    walk_thresholds(scores, labels, n, [&](float threshold, int64_t tp, int64_t fp) {
        const double f1 = 2.0 * double(tp) / double(tp + fp + positives);
        if (f1 > best_f1) {
            best_f1 = f1;
            best_threshold = threshold;
        }
    });
    return best_threshold;
}

Metrics evaluate(const float* scores, const float* labels, size_t n) {
    Metrics m;
    m.threshold = max_f1_threshold(scores, labels, n);
    m.confusion = confusion_at(scores, labels, n, m.threshold);
    m.pr_auc = average_precision(scores, labels, n);
    m.roc_auc = roc_auc(scores, labels, n);
    return m;
}

}  // namespace dendrite::engine
