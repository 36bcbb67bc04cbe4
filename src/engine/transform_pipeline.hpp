// An offline pass's featurizing on a helper thread while the backend reads the query (issue #26): the
// backend copies each row into a chunk (packed, as PipelinedFit does) and hands full chunks over; the helper
// runs Featurizer::transform (wanted rows) and observe on their rows in the order they were read, with the
// pass's history state, so the features are those that transform and observe, row after row on the
// backend's thread, give: the same numbers, bit for bit. The backend takes the features of finished chunks
// in read order. On a history featurizer's training pass, history and transform were a third of the read.
#pragma once
#include "engine/engine_only.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/packed_values.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

class PipelinedTransform {
public:
    static constexpr int kChunkRows = 1024;
    static constexpr size_t kChunkValues = 65536;  // a wide query's chunks hold fewer rows (1 MB packed)

    // featurizer and history (null when the featurizer keeps none) must outlive this object, and nothing
    // else may touch history until finish() has returned or this object is destroyed. use_helper: featurize
    // on a helper thread, started at the first full chunk; false: each chunk is featurized on the caller's
    // thread when it is full.
    PipelinedTransform(const Featurizer& featurizer, HistoryState* history, bool use_helper);
    ~PipelinedTransform();  // stops the helper; chunks not featurized yet are dropped
    PipelinedTransform(const PipelinedTransform&) = delete;
    PipelinedTransform& operator=(const PipelinedTransform&) = delete;

    // Copies a row (featurizer.inputs().size() values, texts included) into the open chunk; wanted: its
    // features are computed (then the row observed), else it is only observed (a row before `since`). When
    // the chunk is full it is handed over: then true (the caller takes finished chunks and bounds the
    // chunks in flight). Throws the error an earlier chunk raised (the pass stopped at its row).
    bool add(const RawValue* row, bool wanted);
    // The oldest chunk handed over, once featurized: its wanted rows' features (*rows of them, output_count()
    // floats each, in read order); nullptr when it is not finished (or none is in flight). Throws the error a
    // chunk raised. release_finished() recycles it.
    const float* finished_features(int* rows);
    void release_finished();
    // Waits until at most `most` chunks handed over are not featurized yet, or for `microseconds` at most;
    // true when reached. A caller that must stay interruptible waits in short steps.
    bool wait_until_in_flight_at_most(size_t most, int64_t microseconds);
    // Hands the open chunk over and waits for every chunk (the caller waits in steps first if it must stay
    // interruptible); their features stay to be taken. Throws the first error a chunk raised.
    void finish();

private:
    struct Chunk {
        int rows = 0;
        int wanted_rows = 0;
        std::vector<PackedValue> values;  // rows x width
        std::vector<char> bytes;          // texts and addresses
        std::vector<uint8_t> wanted;      // per row
        std::vector<float> features;      // wanted rows x outputs
        std::atomic<bool> finished{false};
    };
    void seal();
    void run(Chunk& chunk) noexcept;
    std::unique_ptr<Chunk> take_chunk();
    void rethrow_error() const;

    const Featurizer& featurizer_;
    HistoryState* const history_;
    const size_t width_, outputs_;
    const int chunk_rows_;
    const bool use_helper_;
    std::vector<RawValue> row_;  // one row unpacked, on the thread that featurizes
    std::unique_ptr<Chunk> open_;
    std::deque<std::unique_ptr<Chunk>> sealed_;  // in read order
    std::vector<std::unique_ptr<Chunk>> spare_;  // released ones, whose buffers the next chunks reuse
    std::atomic<bool> failed_{false}, abandoned_{false};
    std::exception_ptr error_;  // written by the chunk that failed, before failed_
    // Last: destroyed first, so the helper has stopped before the chunks it reads are freed.
    std::unique_ptr<SerialWorker> helper_;
};

}  // namespace dendrite::engine
