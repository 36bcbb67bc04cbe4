// A featurizer's fit on a helper thread while the backend reads the query (issue #26): the backend copies
// each row into a chunk (packed, 16 bytes a value) and hands full chunks over; the helper adds their rows
// to the fitter in the order they were read, so the featurizer fitted is the one that FeaturizerFitter::add,
// row after row on the backend's thread, gives: the same numbers, bit for bit. Reading a training query
// of 300,000 rows x 31 columns spent half of its time in the fit's statistics.
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
#include "engine/raw_rows.hpp"

namespace dendrite::engine {

class PipelinedFit {
public:
    // A chunk holds kChunkRows rows, fewer for a wide query: at most kChunkValues values (1 MB packed), so
    // that the chunks in flight stay a few megabytes whatever the width.
    static constexpr int kChunkRows = 1024;
    static constexpr size_t kChunkValues = 65536;

    // fitter must outlive this object, and nothing else may touch it until finish() has returned.
    // use_helper: fit on a helper thread, started at the first full chunk (a query of fewer rows starts
    // none); false: each chunk is fitted on the caller's thread when it is full.
    PipelinedFit(FeaturizerFitter& fitter, bool use_helper);
    ~PipelinedFit();  // stops the helper; chunks not fitted yet are dropped
    PipelinedFit(const PipelinedFit&) = delete;
    PipelinedFit& operator=(const PipelinedFit&) = delete;

    // Copies a row (fitter.inputs().size() values, texts included) into the open chunk and hands the chunk
    // over when it is full (then true: a caller that must bound the memory in flight waits). fit_statistics
    // as FeaturizerFitter::add's. Throws the error an earlier chunk raised, if one did (the fit stopped at
    // its row).
    bool add(const RawValue* row, bool fit_statistics);
    // Before the first add: also keep the rows that fit statistics (RawRows, room reserved for reserve_rows),
    // on the thread that fits, so that the reading thread pays for one copy of a row, not two.
    void keep_rows(size_t reserve_rows);
    // After finish(): the kept rows, in read order (null unless keep_rows was called).
    std::unique_ptr<RawRows> take_kept_rows() { return std::move(kept_); }
    // Waits until at most `most` chunks handed to the helper are not fitted yet, or for `microseconds` at
    // most; true when reached. A
    // caller that must stay interruptible waits in short steps.
    bool wait_until_in_flight_at_most(size_t most, int64_t microseconds);
    // Fits the open chunk (on the helper if one runs), waits for every chunk, stops the helper, frees the
    // chunks and throws the first error a chunk raised. The caller waits in steps first if it must stay
    // interruptible; what is left then is the last chunk.
    void finish();

private:
    struct Chunk {
        int rows = 0;
        std::vector<PackedValue> values;      // rows x width
        std::vector<char> bytes;              // texts and addresses
        std::vector<uint8_t> fit_statistics;  // per row
        std::atomic<bool> finished{false};
    };
    void seal();
    void run(Chunk& chunk) noexcept;
    std::unique_ptr<Chunk> take_chunk();
    void rethrow_error() const;

    FeaturizerFitter& fitter_;
    const size_t width_;
    const int chunk_rows_;
    const bool use_helper_;
    std::vector<RawValue> row_;  // one row unpacked, on the thread that fits
    std::unique_ptr<Chunk> open_;
    std::deque<std::unique_ptr<Chunk>> sealed_;  // in order; finished ones give their buffers to new ones
    std::atomic<bool> failed_{false}, abandoned_{false};
    std::exception_ptr error_;       // written by the chunk that failed, before failed_
    std::unique_ptr<RawRows> kept_;  // written by the thread that fits
    // Last: destroyed first, so the helper has stopped before the chunks it reads are freed.
    std::unique_ptr<SerialWorker> helper_;
};

}  // namespace dendrite::engine
