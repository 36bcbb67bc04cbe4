#include "engine/model.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "engine/anomaly.hpp"

namespace dendrite::engine {

float score_one(const ModelView& view, const float* x, float* scratch) noexcept {
    if (view.kind == ModelView::Kind::Trees) return score_trees(view.trees, x);
    if (view.kind == ModelView::Kind::Blend)
        return sigmoid(
            blend_logit(view.network_weight, logit_one(view.network, x, scratch), trees_margin(view.trees, x)));
    if (view.kind == ModelView::Kind::Autoencoder)
        return anomaly_score(view.error_quantiles, view.error_quantile_count,
                             reconstruction_error_one(view.network, x, scratch));
    return forward_one(view.network, x, scratch);
}

int model_scratch_floats(const ModelView& view) noexcept {
    return view.kind == ModelView::Kind::Trees ? 1 : scratch_floats(view.network);
}

void score_batch(const ModelView& view, const float* x, int n, float* scores, float* scratch) {
    if (view.kind == ModelView::Kind::Trees) {
        for (int i = 0; i < n; ++i) scores[i] = score_trees(view.trees, x + size_t(i) * size_t(view.trees.features));
        return;
    }
    if (view.kind == ModelView::Kind::Blend) {  // row by row: score_one's numbers, bit for bit
        for (int i = 0; i < n; ++i) scores[i] = score_one(view, x + size_t(i) * size_t(view.network.inputs), scratch);
        return;
    }
    if (view.kind == ModelView::Kind::Autoencoder) {
        reconstruction_errors(view.network, x, n, scores, scratch);
        for (int i = 0; i < n; ++i)
            scores[i] = anomaly_score(view.error_quantiles, view.error_quantile_count, scores[i]);
        return;
    }
    forward_batch(view.network, x, n, scores, scratch);
}

size_t model_batch_scratch_floats(const ModelView& view, int n) noexcept {
    if (view.kind == ModelView::Kind::Blend) return size_t(scratch_floats(view.network));
    return view.kind == ModelView::Kind::Trees ? 1 : batch_scratch_floats(view.network, n);
}

double inline_scoring_microseconds(const ModelView& view, const float* data, size_t rows, int inputs) {
    rows = std::min<size_t>(rows, 20000);
    if (rows == 0) return 0;
    std::vector<float> scratch(size_t(model_scratch_floats(view)));
    volatile float sink = 0;
    const auto start = std::chrono::steady_clock::now();
    for (size_t r = 0; r < rows; ++r) sink = sink + score_one(view, data + r * size_t(inputs), scratch.data());
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / double(rows);
}

}  // namespace dendrite::engine
