// Anomaly scores of an autoencoder: how far a row's reconstruction error lies in the distribution of its
// training rows' errors. The distribution is kept as a table of quantiles (the rows of the version's
// "reconstruction" tensor), so that a score of 0.995 means "a larger error than 99.5 % of the training rows"
// and a threshold of 1 - r flags about the rarest share r of rows like those.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <vector>

#include "engine/network.hpp"

namespace dendrite::engine {

// The table: count values, the errors at quantiles 0, 1 / (count - 1), ..., 1 of errors (the lower of the
// two order statistics around each, so every value is an error that occurred). count >= 2; errors not empty.
// A NaN error is a Data error (training diverged).
std::vector<float> error_quantiles(std::vector<float> errors, int count);

// Checks a stored table: at least 2 values, finite, non-negative and non-decreasing. False names nothing:
// the caller reports the version as corrupted.
bool valid_error_quantiles(const float* quantiles, int count) noexcept;

// The score of an error: the share of the table below it, interpolated linearly between neighbouring
// quantiles; 0 at or below the smallest, 1 at or above the largest. Monotone non-decreasing in error; equal
// quantiles (ties) are a step, and an error equal to a tied value scores its highest quantile. NaN scores 1
// (the most anomalous: a row the network cannot reconstruct at all).
float anomaly_score(const float* quantiles, int count, float error) noexcept;

// The reconstruction loss of a batch: sum over its rows of mean((outputs - x)^2) / total_rows, so that the
// shards of a batch add up to the batch's mean. doutputs (if not null) gets d(loss)/d(outputs).
double reconstruction_loss(const Matrix& outputs, const Eigen::Ref<const Matrix>& x, Matrix* doutputs,
                           double total_rows);

}  // namespace dendrite::engine
