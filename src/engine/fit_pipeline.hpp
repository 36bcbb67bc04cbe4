// A featurizer's fit on a helper thread while the backend reads the query (issue #26): the backend copies
// each row into a chunk (RowPipeline) and hands full chunks over; the helper adds their rows to the fitter in the order they were read, so the featurizer fitted is the one that FeaturizerFitter::add,
// row after row on the backend's thread, gives: the same numbers, bit for bit. Reading a training query
// of 300,000 rows x 31 columns spent half of its time in the fit's statistics.
#pragma once
#include "engine/engine_only.hpp"

#include <memory>

#include "engine/featurizer.hpp"
#include "engine/raw_rows.hpp"
#include "engine/row_pipeline.hpp"

namespace dendrite::engine {

class PipelinedFit final : public RowPipeline {
public:
    // fitter must outlive this object, and nothing else may touch it until finish() has returned.
    // use_helper: fit on a helper thread, started at the first full chunk (a query of fewer rows starts
    // none); false: each chunk is fitted on the caller's thread when it is full.
    PipelinedFit(FeaturizerFitter& fitter, bool use_helper);
    ~PipelinedFit();  // stops the helper; chunks not fitted yet are dropped

    // add(row, fit_statistics) (RowPipeline::add): fit_statistics as FeaturizerFitter::add's.
    // Before the first add: also keep the rows that fit statistics (RawRows, room reserved for reserve_rows),
    // on the thread that fits, so that the reading thread pays for one copy of a row, not two.
    void keep_rows(size_t reserve_rows);
    // After finish(): the kept rows, in read order (null unless keep_rows was called).
    std::unique_ptr<RawRows> take_kept_rows() { return std::move(kept_); }
    // Fits the open chunk (on the helper if one runs), waits for every chunk, stops the helper, frees the
    // chunks and throws the first error a chunk raised. The caller waits in steps first if it must stay
    // interruptible; what is left then is the last chunk.
    void finish();

private:
    void process(Chunk& chunk) override;

    FeaturizerFitter& fitter_;
    std::unique_ptr<RawRows> kept_;  // written by the thread that fits
};

}  // namespace dendrite::engine
