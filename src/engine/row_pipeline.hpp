// Rows read on the backend's thread and processed in read order on a helper thread (issue #26): the backend
// copies each row into a chunk (packed, 16 bytes a value, texts after) with one flag per row, and hands
// full chunks over; the helper runs the derived class's process() on them, one chunk after another. What a
// chunk's rows are for is the derived class's: a featurizer's fit (PipelinedFit, fit_pipeline.hpp) or an
// offline pass's featurizing (PipelinedTransform, transform_pipeline.hpp). Without a helper (the caller may
// use one thread only, or the rows fit in one chunk) each chunk is processed on the caller's thread when it
// is full. The first error a chunk raises stops the processing and comes back to the caller.
#pragma once
#include "engine/engine_only.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "engine/packed_values.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

class RowPipeline {
public:
    // A chunk holds kChunkRows rows, fewer for a wide query: at most kChunkValues values (1 MB packed), so
    // that the chunks in flight stay a few megabytes whatever the width.
    static constexpr int kChunkRows = 1024;
    static constexpr size_t kChunkValues = 65536;

    RowPipeline(const RowPipeline&) = delete;
    RowPipeline& operator=(const RowPipeline&) = delete;

    // Copies a row (width values, texts included) into the open chunk, with its flag (the derived class
    // says what it means), and hands the chunk over when it is full: then true (a caller that must bound the
    // memory in flight waits). Throws the error an earlier chunk raised, if one did (processing stopped at
    // its row).
    bool add(const RawValue* row, bool flag);
    // Waits until at most `most` chunks handed over are not processed yet, or for `microseconds` at most;
    // true when reached. A caller that must stay interruptible waits in short steps.
    bool wait_until_in_flight_at_most(size_t most, int64_t microseconds);

protected:
    struct Chunk {
        int rows = 0;
        std::vector<PackedValue> values;  // rows x width
        std::vector<char> bytes;          // texts and addresses
        std::vector<uint8_t> flags;       // per row
        std::atomic<bool> finished{false};
        // What processing left for the caller (PipelinedTransform: the wanted rows' features).
        int results = 0;
        std::vector<float> features;
    };

    // recycle_finished: a new chunk may take the buffers of the oldest chunk handed over once it is
    // processed (nothing of it is read afterwards); otherwise only those the derived class released.
    RowPipeline(size_t width, bool use_helper, bool recycle_finished);
    ~RowPipeline();
    // Runs on the thread that processes (the helper, or the caller's), chunk after chunk in read order; may
    // throw.
    virtual void process(Chunk& chunk) = 0;
    // Sizes a new chunk's results (once per chunk made, not per reuse).
    virtual void prepare(Chunk&) {}
    // Stops the helper: chunks not processed yet are dropped. A derived class whose process() reads its own
    // members calls this first in its destructor.
    void abandon();
    // Hands the open chunk over, waits for every chunk, stops the helper and throws the first error.
    void finish_chunks();
    void rethrow_error() const;
    // Row i of chunk, unpacked into row_ (on the thread that processes).
    const RawValue* unpack(const Chunk& chunk, int i);

    const size_t width_;
    std::deque<std::unique_ptr<Chunk>> sealed_;  // handed over, in read order
    std::vector<std::unique_ptr<Chunk>> spare_;  // processed and released: their buffers are reused

private:
    void seal();
    void run(Chunk& chunk) noexcept;
    std::unique_ptr<Chunk> take_chunk();

    const int chunk_rows_;
    const bool use_helper_, recycle_finished_;
    std::vector<RawValue> row_;
    std::unique_ptr<Chunk> open_;
    std::atomic<bool> failed_{false}, abandoned_{false};
    std::exception_ptr error_;  // written by the chunk that failed, before failed_
    // Last: destroyed first, so the helper has stopped before the chunks it reads are freed.
    std::unique_ptr<SerialWorker> helper_;
};

}  // namespace dendrite::engine
