#include "engine/standardizer.hpp"

#include <cmath>

namespace dendrite::engine {

std::vector<ColumnStatistics> fit_standardizer(const float* data, size_t rows, int columns) {
    // Welford's update per column: stable for large means.
    std::vector<double> mean(columns, 0.0), m2(columns, 0.0);
    std::vector<size_t> count(columns, 0);
    for (size_t r = 0; r < rows; ++r) {
        const float* row = data + r * columns;
        for (int c = 0; c < columns; ++c) {
            if (std::isnan(row[c])) continue;
            const double x = row[c];
            const double delta = x - mean[c];
            mean[c] += delta / double(++count[c]);
            m2[c] += delta * (x - mean[c]);
        }
    }
    std::vector<ColumnStatistics> statistics(columns);
    for (int c = 0; c < columns; ++c) {
        statistics[c].mean = count[c] ? mean[c] : 0.0;
        const double sd = count[c] > 1 ? std::sqrt(m2[c] / double(count[c])) : 0.0;
        statistics[c].scale = sd > 1e-12 ? sd : 1.0;
    }
    return statistics;
}

void standardize(float* data, size_t rows, int columns, const ColumnStatistics* statistics) {
    for (size_t r = 0; r < rows; ++r) {
        float* row = data + r * columns;
        for (int c = 0; c < columns; ++c)
            row[c] = std::isnan(row[c]) ? 0.0f
                                        : static_cast<float>((row[c] - statistics[c].mean) / statistics[c].scale);
    }
}

}  // namespace dendrite::engine
