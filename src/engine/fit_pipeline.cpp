#include "engine/fit_pipeline.hpp"

#include <algorithm>

namespace dendrite::engine {

PipelinedFit::PipelinedFit(FeaturizerFitter& fitter, bool use_helper)
    : fitter_(fitter),
      width_(fitter.inputs().size()),
      chunk_rows_(int(std::clamp<size_t>(kChunkValues / std::max<size_t>(width_, 1), 16, kChunkRows))),
      use_helper_(use_helper),
      row_(fitter.inputs().size()) {}

PipelinedFit::~PipelinedFit() {
    abandoned_.store(true, std::memory_order_relaxed);
    helper_.reset();  // runs what is queued (each chunk returns at once), then joins
}

std::unique_ptr<PipelinedFit::Chunk> PipelinedFit::take_chunk() {
    // The oldest sealed chunk, once fitted, lends its buffers to the next one: a long query keeps as many
    // chunks as are in flight, not one per chunk.
    if (!sealed_.empty() && sealed_.front()->finished.load(std::memory_order_acquire)) {
        std::unique_ptr<Chunk> chunk = std::move(sealed_.front());
        sealed_.pop_front();
        chunk->rows = 0;
        chunk->bytes.clear();
        chunk->finished.store(false, std::memory_order_relaxed);
        return chunk;
    }
    auto chunk = std::make_unique<Chunk>();
    chunk->values.resize(size_t(chunk_rows_) * width_);
    chunk->fit_statistics.resize(size_t(chunk_rows_));
    return chunk;
}

bool PipelinedFit::add(const RawValue* row, bool fit_statistics) {
    if (!open_) open_ = take_chunk();
    Chunk& chunk = *open_;
    pack_row(row, width_, chunk.values.data() + size_t(chunk.rows) * width_, chunk.bytes);
    chunk.fit_statistics[size_t(chunk.rows)] = fit_statistics;
    if (++chunk.rows == chunk_rows_) {
        seal();
        rethrow_error();  // a bad value stops the read within a few chunks of its row
        return true;
    }
    return false;
}

void PipelinedFit::seal() {
    if (!open_ || open_->rows == 0) return;
    Chunk* running = open_.get();
    sealed_.push_back(std::move(open_));
    // The first full chunk starts the helper; a short last chunk with no helper running is fitted here.
    if (use_helper_ && !helper_ && running->rows == chunk_rows_) helper_ = std::make_unique<SerialWorker>();
    if (helper_)
        helper_->submit([this, running] { run(*running); });
    else
        run(*running);
}

void PipelinedFit::run(Chunk& chunk) noexcept {
    if (!failed_.load(std::memory_order_relaxed) && !abandoned_.load(std::memory_order_relaxed)) {
        try {
            for (int i = 0; i < chunk.rows; ++i) {
                unpack_row(chunk.values.data() + size_t(i) * width_, width_, chunk.bytes.data(), row_.data());
                const bool fit_statistics = chunk.fit_statistics[size_t(i)] != 0;
                fitter_.add(row_.data(), fit_statistics);
                if (kept_ && fit_statistics) kept_->add(row_.data());
            }
        } catch (...) {
            error_ = std::current_exception();
            failed_.store(true, std::memory_order_release);
        }
    }
    chunk.finished.store(true, std::memory_order_release);
}

void PipelinedFit::keep_rows(size_t reserve_rows) {
    kept_ = std::make_unique<RawRows>(width_);
    kept_->reserve(reserve_rows);
}

bool PipelinedFit::wait_until_in_flight_at_most(size_t most, int64_t microseconds) {
    return helper_ ? helper_->wait_until_unfinished_at_most(most, microseconds) : true;
}

void PipelinedFit::finish() {
    seal();
    helper_.reset();  // runs what is left, then joins
    sealed_.clear();
    open_.reset();
    rethrow_error();
}

void PipelinedFit::rethrow_error() const {
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
}

}  // namespace dendrite::engine
