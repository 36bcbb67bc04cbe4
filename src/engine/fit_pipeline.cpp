#include "engine/fit_pipeline.hpp"

namespace dendrite::engine {

PipelinedFit::PipelinedFit(FeaturizerFitter& fitter, bool use_helper)
    : RowPipeline(fitter.inputs().size(), use_helper, /*recycle_finished=*/true), fitter_(fitter) {}

PipelinedFit::~PipelinedFit() { abandon(); }  // before kept_ goes: the helper writes it

void PipelinedFit::process(Chunk& chunk) {
    for (int i = 0; i < chunk.rows; ++i) {
        const RawValue* row = unpack(chunk, i);
        const bool fit_statistics = chunk.flags[size_t(i)] != 0;
        fitter_.add(row, fit_statistics);
        if (kept_ && fit_statistics) kept_->add(row);
    }
}

void PipelinedFit::keep_rows(size_t reserve_rows) {
    kept_ = std::make_unique<RawRows>(width_);
    kept_->reserve(reserve_rows);
}

void PipelinedFit::finish() {
    finish_chunks();
    sealed_.clear();
    spare_.clear();
}

}  // namespace dendrite::engine
