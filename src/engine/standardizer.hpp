// Column statistics for standardization. The seam for the featurizer: today every numeric column is
// standardized; missing values (NaN in the matrix, NULL in SQL) are imputed with the mean.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <vector>

namespace dendrite::engine {

struct ColumnStatistics {
    double mean = 0;
    double scale = 1;  // the standard deviation, or 1 for a constant column
};

// data: rows x columns, row-major; NaN marks a missing value and is left out of the statistics.
std::vector<ColumnStatistics> fit_standardizer(const float* data, size_t rows, int columns);

// In place: (x - mean) / scale, and a missing value becomes 0 (the mean).
void standardize(float* data, size_t rows, int columns, const ColumnStatistics* statistics);

}  // namespace dendrite::engine
