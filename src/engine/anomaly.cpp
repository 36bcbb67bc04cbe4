#include "engine/anomaly.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

namespace dendrite::engine {

std::vector<float> error_quantiles(std::vector<float> errors, int count) {
    // A NaN would break the sort's ordering (undefined behaviour), and a table holding one, anomaly_score's
    // search.
    for (const float e : errors)
        if (std::isnan(e))
            fail(ErrorKind::Data, "training diverged: some rows' reconstruction errors are NaN", {},
                 "Lower the learning_rate, or clip gradients with clip_norm.");
    std::sort(errors.begin(), errors.end());
    std::vector<float> table(static_cast<size_t>(count));
    const size_t last = errors.size() - 1;
    for (int k = 0; k < count; ++k) {
        // The order statistic at or below quantile k / (count - 1), computed in integers so that the ends are
        // exact: k = 0 is the smallest error, k = count - 1 the largest.
        const size_t index =
            size_t((unsigned long long)(last) * (unsigned long long)(k) / (unsigned long long)(count - 1));
        table[size_t(k)] = errors[index];
    }
    return table;
}

bool valid_error_quantiles(const float* quantiles, int count) noexcept {
    if (count < 2) return false;
    for (int k = 0; k < count; ++k) {
        if (!std::isfinite(quantiles[k]) || quantiles[k] < 0) return false;
        if (k > 0 && quantiles[k] < quantiles[k - 1]) return false;
    }
    return true;
}

float anomaly_score(const float* quantiles, int count, float error) noexcept {
    if (!(error == error)) return 1.0f;
    if (error <= quantiles[0]) return 0.0f;
    if (error >= quantiles[count - 1]) return 1.0f;
    // The first quantile above the error: quantiles[upper - 1] <= error < quantiles[upper].
    const int upper = int(std::upper_bound(quantiles, quantiles + count, error) - quantiles);
    const float low = quantiles[upper - 1], high = quantiles[upper];
    const float fraction = (error - low) / (high - low);  // high > low: high > error >= low
    return std::min(1.0f, (float(upper - 1) + fraction) / float(count - 1));
}

double reconstruction_loss(const Matrix& outputs, const Eigen::Ref<const Matrix>& x, Matrix* doutputs,
                           double total_rows) {
    const double inputs = double(x.rows());
    const double loss = double((outputs - x).squaredNorm()) / (inputs * total_rows);
    if (doutputs) *doutputs = (outputs - x) * float(2.0 / (inputs * total_rows));
    return loss;
}

}  // namespace dendrite::engine
