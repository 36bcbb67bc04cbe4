// A statement's rows captured one at a time as they are inserted (dendrite.guard_batch fired BEFORE INSERT
// ... FOR EACH ROW), featurized with the inline history and scored in chunks of kChunkRows, in capture
// order, on a SerialWorker when the caller gives one: the offline pass's compute-then-observe row after
// row, so scores and history end up bit for bit as if each row had been featurized when it was captured,
// while the backend's own thread goes on inserting.
#pragma once
#include "engine/engine_only.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "engine/featurizer.hpp"
#include "engine/model.hpp"
#include "engine/packed_values.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

// The rows of one chunk and what featurizing and scoring them needs.
struct CapturedChunk {
    int rows = 0;
    std::vector<PackedValue> values;  // rows x inputs
    std::vector<uint8_t> observe;     // per row: whether it joins the history after it is scored
    std::vector<char> bytes;          // texts and addresses
    std::vector<RawValue> row;        // one row unpacked, for the featurizer
    std::vector<float> x, scratch;
    float* scores = nullptr;
    std::atomic<bool> finished{false};
};

// Chunks kept from one statement's CapturedRows for the next (used by one thread, the backend's): a trigger
// loading many medium-sized statements, each its own transaction, would otherwise map, fault in and zero
// about a megabyte of buffers per statement.
class CapturedChunkPool {
public:
    explicit CapturedChunkPool(size_t keep) : keep_(keep) {}
    std::unique_ptr<CapturedChunk> take();
    void give_back(std::unique_ptr<CapturedChunk> chunk);  // kept while fewer than `keep` are
    size_t spare() const { return spare_.size(); }

private:
    size_t keep_;
    std::vector<std::unique_ptr<CapturedChunk>> spare_;
};

class CapturedRows {
public:
    static constexpr int kChunkRows = 1024;

    // featurizer and model (over the featurizer's outputs) must outlive this object. pool, if not null,
    // lends the chunks and gets them back (it must outlive this object too).
    CapturedRows(const Featurizer& featurizer, const ModelView& model, CapturedChunkPool* pool = nullptr);
    // Only once no sealed chunk is running (the owner waits for the worker first).
    ~CapturedRows();
    CapturedRows(const CapturedRows&) = delete;
    CapturedRows& operator=(const CapturedRows&) = delete;

    // Copies a row's inputs (featurizer.inputs().size() values, texts included) into the open chunk, packed
    // (16 bytes a value). observe false: the row is scored but does not join the history (a row that INSERT
    // ... ON CONFLICT will skip or turn into an update).
    void add_row(const RawValue* row, bool observe = true);
    int open_rows() const;  // rows in the open chunk (kChunkRows: time to seal)

    // Hands the open chunk over, to be featurized (observing its rows into history, which may be null for
    // a featurizer without history) and scored on worker, or here and now when worker is null. Only the
    // last chunk may have fewer than kChunkRows rows.
    void seal(HistoryState* history, SerialWorker* worker);

    // After every sealed chunk has run (the owner waited for the worker):
    // the first error a chunk raised, rethrown; the rows after the failing one were neither featurized nor
    // observed, and later chunks were skipped.
    void rethrow_error() const;
    size_t rows() const { return rows_; }  // captured and sealed
    float score(size_t row) const { return scores_[row / kChunkRows][row % kChunkRows]; }
    // The scores of rows [first, first + kChunkRows) (fewer in the last chunk), first a multiple of kChunkRows.
    const float* chunk_scores(size_t first) const { return scores_[first / kChunkRows].data(); }

private:
    using Chunk = CapturedChunk;
    void run(Chunk& chunk, HistoryState* history) noexcept;
    std::unique_ptr<Chunk> take_chunk();

    const Featurizer& featurizer_;
    const ModelView& model_;
    CapturedChunkPool* pool_;
    const size_t n_inputs_;
    const size_t n_features_;
    std::unique_ptr<Chunk> open_;
    std::deque<std::unique_ptr<Chunk>> sealed_;  // in order; finished ones are taken back for reuse
    std::deque<std::vector<float>> scores_;      // one block per sealed chunk (a deque: blocks never move)
    size_t rows_ = 0;
    bool sealed_short_ = false;  // a chunk of fewer than kChunkRows rows was sealed: no more rows
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;  // written by the chunk that failed, read once all have run
};

}  // namespace dendrite::engine
