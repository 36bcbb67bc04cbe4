#include "engine/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "engine/error.hpp"

namespace dendrite::engine {

namespace {

double curve_average_precision(const Curve& c) {
    if (c.positives == 0) return 0.0;
    double ap = 0, previous_recall = 0;
    for (size_t k = 0; k < c.thresholds.size(); ++k) {
        const double recall = double(c.tp[k]) / double(c.positives);
        ap += (recall - previous_recall) * (double(c.tp[k]) / double(c.tp[k] + c.fp[k]));
        previous_recall = recall;
    }
    return ap;
}

double curve_roc_auc(const Curve& c) {
    if (c.positives == 0 || c.negatives == 0) return 0.5;
    // Trapezoids between consecutive distinct thresholds: a tie between a positive and a negative counts 1/2.
    double area = 0;
    int64_t previous_tp = 0, previous_fp = 0;
    for (size_t k = 0; k < c.thresholds.size(); ++k) {
        area += double(c.fp[k] - previous_fp) * double(c.tp[k] + previous_tp) / 2.0;
        previous_tp = c.tp[k];
        previous_fp = c.fp[k];
    }
    return area / (double(c.positives) * double(c.negatives));
}

double curve_recall_at_precision(const Curve& c, double target) {
    if (c.positives == 0) return 0.0;
    int64_t best_tp = 0;
    for (size_t k = 0; k < c.thresholds.size(); ++k)
        if (double(c.tp[k]) >= target * double(c.tp[k] + c.fp[k])) best_tp = std::max(best_tp, c.tp[k]);
    return double(best_tp) / double(c.positives);
}

}  // namespace

Confusion confusion_at(const float* scores, const float* labels, size_t n, double threshold) {
    Confusion c;
    for (size_t i = 0; i < n; ++i) {
        const bool predicted = scores[i] >= threshold;
        const bool actual = labels[i] > 0.5f;
        if (predicted && actual)
            ++c.tp;
        else if (predicted)
            ++c.fp;
        else if (actual)
            ++c.fn;
        else
            ++c.tn;
    }
    return c;
}

Curve Curve::of(const float* scores, const float* labels, size_t n) {
    // (score, is positive) pairs sorted by descending score: a direct sort, no indirection through indices.
    std::vector<std::pair<float, bool>> points(n);
    for (size_t i = 0; i < n; ++i) {
        // A NaN would break the sort's ordering (undefined behaviour) and the grouping below (NaN != NaN).
        if (std::isnan(scores[i]))
            fail(ErrorKind::Data, "an evaluation row's score is NaN: the model's arithmetic overflowed on it",
                 "Features far outside the training rows' range overflow a network's 32-bit arithmetic.",
                 "Leave such rows out of the training or evaluation query.");
        points[i] = {scores[i], labels[i] > 0.5f};
    }
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    Curve c;
    int64_t tp = 0, fp = 0;
    for (size_t i = 0; i < n;) {
        const float threshold = points[i].first;
        while (i < n && points[i].first == threshold) {
            (points[i].second ? tp : fp)++;
            ++i;
        }
        c.thresholds.push_back(threshold);
        c.tp.push_back(tp);
        c.fp.push_back(fp);
    }
    c.positives = tp;
    c.negatives = fp;
    return c;
}

CurveSummary summarize_curve(const Curve& c, double resolution) {
    CurveSummary s;
    if (c.thresholds.empty()) return s;
    auto point = [&](size_t i, double* precision, double* recall, double* fpr) {
        const double predicted = double(c.tp[i] + c.fp[i]);
        *precision = predicted > 0 ? double(c.tp[i]) / predicted : 1.0;
        *recall = c.positives > 0 ? double(c.tp[i]) / double(c.positives) : 0.0;
        *fpr = c.negatives > 0 ? double(c.fp[i]) / double(c.negatives) : 0.0;
    };
    double last_precision = -1, last_recall = -1, last_fpr = -1;
    const size_t n = c.thresholds.size();
    for (size_t i = 0; i < n; ++i) {
        double precision, recall, fpr;
        point(i, &precision, &recall, &fpr);
        const bool moved = std::fabs(precision - last_precision) >= resolution ||
                           std::fabs(recall - last_recall) >= resolution || std::fabs(fpr - last_fpr) >= resolution;
        if (i == 0 || i + 1 == n || moved) {
            s.thresholds.push_back(c.thresholds[i]);
            s.precision.push_back(float(precision));
            s.recall.push_back(float(recall));
            s.false_positive_rate.push_back(float(fpr));
            last_precision = precision;
            last_recall = recall;
            last_fpr = fpr;
        }
    }
    return s;
}

double average_precision(const float* scores, const float* labels, size_t n) {
    return curve_average_precision(Curve::of(scores, labels, n));
}

double roc_auc(const float* scores, const float* labels, size_t n) {
    return curve_roc_auc(Curve::of(scores, labels, n));
}

double recall_at_precision(const float* scores, const float* labels, size_t n, double target) {
    return curve_recall_at_precision(Curve::of(scores, labels, n), target);
}

double max_f1_threshold(const float* scores, const float* labels, size_t n) {
    return choose_threshold(Curve::of(scores, labels, n), ThresholdRule{});
}

ThresholdRule ThresholdRule::parse(const std::string& text) {
    ThresholdRule rule;
    auto number = [&](const std::string& part, double low, double high) {
        char* end = nullptr;
        const double value = std::strtod(part.c_str(), &end);
        if (part.empty() || *end != '\0' || !std::isfinite(value) || value < low || value > high)
            fail(ErrorKind::InvalidParameter, "invalid threshold \"" + text + "\"", {},
                 "Use 'f1', 'precision:0.9', 'recall:0.8', 'rate:0.005' (an alert rate) or a number between 0 "
                 "and 1.");
        return value;
    };
    if (text == "f1") return rule;
    const auto colon = text.find(':');
    if (colon != std::string::npos) {
        const std::string kind = text.substr(0, colon);
        if (kind == "precision")
            rule.kind = Kind::Precision;
        else if (kind == "recall")
            rule.kind = Kind::Recall;
        else if (kind == "rate")
            rule.kind = Kind::Rate;
        else
            number("", 0, 0);  // fails with the hint
        rule.value = number(text.substr(colon + 1), 0, 1);
        if (rule.value == 0) number("", 0, 0);
        return rule;
    }
    rule.kind = Kind::Fixed;
    rule.value = number(text, 0, 1);
    return rule;
}

std::string ThresholdRule::text() const {
    char buffer[64];
    switch (kind) {
        case Kind::MaxF1:
            return "f1";
        case Kind::Precision:
            std::snprintf(buffer, sizeof buffer, "precision:%g", value);
            return buffer;
        case Kind::Recall:
            std::snprintf(buffer, sizeof buffer, "recall:%g", value);
            return buffer;
        case Kind::Rate:
            std::snprintf(buffer, sizeof buffer, "rate:%g", value);
            return buffer;
        case Kind::Fixed:
            std::snprintf(buffer, sizeof buffer, "%g", value);
            return buffer;
    }
    return "f1";
}

double choose_threshold(const Curve& c, const ThresholdRule& rule, bool* met) {
    if (met) *met = true;
    if (rule.kind == ThresholdRule::Kind::Fixed) return rule.value;
    if (rule.kind == ThresholdRule::Kind::Rate && !c.thresholds.empty()) {
        // From the highest threshold down: the first that flags the rate's share of the rows.
        const double wanted = rule.value * double(c.positives + c.negatives);
        for (size_t k = 0; k < c.thresholds.size(); ++k)
            if (double(c.tp[k] + c.fp[k]) >= wanted) return c.thresholds[k];
        return c.thresholds.back();
    }
    if (c.positives == 0 || c.thresholds.empty()) {
        if (met) *met = false;
        return 0.5;
    }
    const size_t points = c.thresholds.size();
    if (rule.kind == ThresholdRule::Kind::MaxF1) {
        double best_f1 = -1, best_threshold = 0.5;
        for (size_t k = 0; k < points; ++k) {
            const double f1 = 2.0 * double(c.tp[k]) / double(c.tp[k] + c.fp[k] + c.positives);
            if (f1 > best_f1) {
                best_f1 = f1;
                best_threshold = c.thresholds[k];
            }
        }
        return best_threshold;
    }
    if (rule.kind == ThresholdRule::Kind::Recall) {
        for (size_t k = 0; k < points; ++k)  // from the highest threshold down: the first that reaches the recall
            if (double(c.tp[k]) >= rule.value * double(c.positives)) return c.thresholds[k];
        return c.thresholds.back();  // unreachable: the lowest threshold has recall 1
    }
    // Precision: the lowest threshold that reaches it; failing that, the most precise one.
    size_t chosen = points, most_precise = 0;
    double best_precision = -1;
    for (size_t k = 0; k < points; ++k) {
        const double precision = double(c.tp[k]) / double(c.tp[k] + c.fp[k]);
        if (precision >= rule.value) chosen = k;
        if (precision >= best_precision) {  // ties: the lower threshold, which finds more
            best_precision = precision;
            most_precise = k;
        }
    }
    if (chosen == points) {
        if (met) *met = false;
        return c.thresholds[most_precise];
    }
    return c.thresholds[chosen];
}

Metrics evaluate(const float* scores, const float* labels, size_t n, const ThresholdRule& rule) {
    const Curve curve = Curve::of(scores, labels, n);
    Metrics m;
    m.threshold = choose_threshold(curve, rule, &m.threshold_met);
    m.confusion = confusion_at(scores, labels, n, m.threshold);
    m.pr_auc = curve_average_precision(curve);
    m.roc_auc = curve_roc_auc(curve);
    m.recall_at_precision_90 = curve_recall_at_precision(curve, 0.9);
    return m;
}

ScoreHistogram score_histogram(const float* scores, const float* labels, size_t n, int bins) {
    ScoreHistogram h{std::vector<int64_t>(size_t(bins), 0), std::vector<int64_t>(size_t(bins), 0)};
    for (size_t i = 0; i < n; ++i) {
        const float s = scores[i];
        if (!(s >= 0 && s <= 1)) continue;  // NaN, or out of range: counted nowhere
        const size_t bin = std::min(size_t(bins) - 1, size_t(double(s) * bins));
        (labels[i] > 0.5f ? h.positives : h.negatives)[bin] += 1;
    }
    return h;
}

}  // namespace dendrite::engine
