#include "engine/row_pipeline.hpp"

#include <algorithm>

namespace dendrite::engine {

RowPipeline::RowPipeline(size_t width, bool use_helper, bool recycle_finished)
    : width_(width),
      chunk_rows_(int(std::clamp<size_t>(kChunkValues / std::max<size_t>(width, 1), 16, kChunkRows))),
      use_helper_(use_helper),
      recycle_finished_(recycle_finished),
      row_(width) {}

RowPipeline::~RowPipeline() { abandon(); }

void RowPipeline::abandon() {
    abandoned_.store(true, std::memory_order_relaxed);
    helper_.reset();  // runs what is queued (each chunk returns at once), then joins
}

std::unique_ptr<RowPipeline::Chunk> RowPipeline::take_chunk() {
    std::unique_ptr<Chunk> chunk;
    if (!spare_.empty()) {
        chunk = std::move(spare_.back());
        spare_.pop_back();
    } else if (recycle_finished_ && !sealed_.empty() && sealed_.front()->finished.load(std::memory_order_acquire)) {
        // A long query keeps as many chunks as are in flight, not one per chunk.
        chunk = std::move(sealed_.front());
        sealed_.pop_front();
    }
    if (chunk) {
        chunk->rows = chunk->results = 0;
        chunk->bytes.clear();
        chunk->finished.store(false, std::memory_order_relaxed);
        return chunk;
    }
    chunk = std::make_unique<Chunk>();
    chunk->values.resize(size_t(chunk_rows_) * width_);
    chunk->flags.resize(size_t(chunk_rows_));
    prepare(*chunk);
    return chunk;
}

bool RowPipeline::add(const RawValue* row, bool flag) {
    if (!open_) open_ = take_chunk();
    Chunk& chunk = *open_;
    pack_row(row, width_, chunk.values.data() + size_t(chunk.rows) * width_, chunk.bytes);
    chunk.flags[size_t(chunk.rows)] = flag;
    if (++chunk.rows == chunk_rows_) {
        seal();
        rethrow_error();  // a bad value stops the read within a few chunks of its row
        return true;
    }
    return false;
}

void RowPipeline::seal() {
    if (!open_ || open_->rows == 0) return;
    Chunk* running = open_.get();
    sealed_.push_back(std::move(open_));
    // The first full chunk starts the helper; a short last chunk with no helper running is processed here.
    if (use_helper_ && !helper_ && running->rows == chunk_rows_) helper_ = std::make_unique<SerialWorker>();
    if (helper_)
        helper_->submit([this, running] { run(*running); });
    else
        run(*running);
}

void RowPipeline::run(Chunk& chunk) noexcept {
    if (!failed_.load(std::memory_order_relaxed) && !abandoned_.load(std::memory_order_relaxed)) {
        try {
            process(chunk);
        } catch (...) {
            error_ = std::current_exception();
            failed_.store(true, std::memory_order_release);
        }
    }
    chunk.finished.store(true, std::memory_order_release);
}

const RawValue* RowPipeline::unpack(const Chunk& chunk, int i) {
    unpack_row(chunk.values.data() + size_t(i) * width_, width_, chunk.bytes.data(), row_.data());
    return row_.data();
}

bool RowPipeline::wait_until_in_flight_at_most(size_t most, int64_t microseconds) {
    return helper_ ? helper_->wait_until_unfinished_at_most(most, microseconds) : true;
}

void RowPipeline::finish_chunks() {
    seal();
    helper_.reset();  // runs what is left, then joins
    rethrow_error();
}

void RowPipeline::rethrow_error() const {
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
}

}  // namespace dendrite::engine
