// An offline pass's featurizing on a helper thread while the backend reads the query (issue #26): the
// backend copies each row into a chunk (RowPipeline, as PipelinedFit does) and hands full chunks over; the helper
// runs Featurizer::transform (wanted rows) and observe on their rows in the order they were read, with the
// pass's history state, so the features are those that transform and observe, row after row on the
// backend's thread, give: the same numbers, bit for bit. The backend takes the features of finished chunks
// in read order. On a history featurizer's training pass, history and transform were a third of the read.
#pragma once
#include "engine/engine_only.hpp"

#include "engine/featurizer.hpp"
#include "engine/row_pipeline.hpp"

namespace dendrite::engine {

class PipelinedTransform final : public RowPipeline {
public:
    // featurizer and history (null when the featurizer keeps none) must outlive this object, and nothing
    // else may touch history until finish() has returned or this object is destroyed. use_helper: featurize
    // on a helper thread, started at the first full chunk; false: each chunk is featurized on the caller's
    // thread when it is full.
    PipelinedTransform(const Featurizer& featurizer, HistoryState* history, bool use_helper);
    ~PipelinedTransform();  // stops the helper; chunks not featurized yet are dropped

    // add(row, wanted) (RowPipeline::add): a wanted row's features are computed (then the row observed);
    // another is only observed (a row before `since`).
    // The oldest chunk handed over, once featurized: its wanted rows' features (*rows of them, output_count()
    // floats each, in read order); nullptr when it is not finished (or none is in flight). Throws the error a
    // chunk raised. release_finished() recycles it.
    const float* finished_features(int* rows);
    void release_finished();
    // Hands the open chunk over and waits for every chunk (the caller waits in steps first if it must stay
    // interruptible); their features stay to be taken. Throws the first error a chunk raised.
    void finish() { finish_chunks(); }

private:
    void process(Chunk& chunk) override;
    void prepare(Chunk& chunk) override;

    const Featurizer& featurizer_;
    HistoryState* const history_;
    const size_t outputs_;
};

}  // namespace dendrite::engine
