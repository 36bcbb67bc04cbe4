#include "engine/transform_pipeline.hpp"

#include <algorithm>

namespace dendrite::engine {

PipelinedTransform::PipelinedTransform(const Featurizer& featurizer, HistoryState* history, bool use_helper)
    : RowPipeline(featurizer.inputs().size(), use_helper, /*recycle_finished=*/false),
      featurizer_(featurizer),
      history_(history),
      outputs_(size_t(std::max(featurizer.output_count(), 0))) {}

PipelinedTransform::~PipelinedTransform() { abandon(); }

void PipelinedTransform::prepare(Chunk& chunk) { chunk.features.resize(chunk.flags.size() * outputs_); }

void PipelinedTransform::process(Chunk& chunk) {
    for (int i = 0; i < chunk.rows; ++i) {
        const RawValue* row = unpack(chunk, i);
        // As the offline pass on one thread: a wanted row's features from the history before it, then the
        // row into the history.
        if (chunk.flags[size_t(i)])
            featurizer_.transform(row, history_, chunk.features.data() + size_t(chunk.results++) * outputs_);
        featurizer_.observe(row, history_);
    }
}

const float* PipelinedTransform::finished_features(int* rows) {
    rethrow_error();
    if (sealed_.empty() || !sealed_.front()->finished.load(std::memory_order_acquire)) return nullptr;
    rethrow_error();  // the chunk that finished may be the one that failed
    *rows = sealed_.front()->results;
    return sealed_.front()->features.data();
}

void PipelinedTransform::release_finished() {
    if (sealed_.empty() || !sealed_.front()->finished.load(std::memory_order_acquire)) return;
    spare_.push_back(std::move(sealed_.front()));
    sealed_.pop_front();
}

}  // namespace dendrite::engine
