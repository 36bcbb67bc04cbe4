#include "engine/transform_pipeline.hpp"

#include <algorithm>

namespace dendrite::engine {

PipelinedTransform::PipelinedTransform(const Featurizer& featurizer, HistoryState* history, bool use_helper)
    : featurizer_(featurizer),
      history_(history),
      width_(featurizer.inputs().size()),
      outputs_(size_t(std::max(featurizer.output_count(), 0))),
      chunk_rows_(int(std::clamp<size_t>(kChunkValues / std::max<size_t>(width_, 1), 16, kChunkRows))),
      use_helper_(use_helper),
      row_(featurizer.inputs().size()) {}

PipelinedTransform::~PipelinedTransform() {
    abandoned_.store(true, std::memory_order_relaxed);
    helper_.reset();  // runs what is queued (each chunk returns at once), then joins
}

std::unique_ptr<PipelinedTransform::Chunk> PipelinedTransform::take_chunk() {
    if (!spare_.empty()) {
        std::unique_ptr<Chunk> chunk = std::move(spare_.back());
        spare_.pop_back();
        chunk->rows = chunk->wanted_rows = 0;
        chunk->bytes.clear();
        chunk->finished.store(false, std::memory_order_relaxed);
        return chunk;
    }
    auto chunk = std::make_unique<Chunk>();
    chunk->values.resize(size_t(chunk_rows_) * width_);
    chunk->wanted.resize(size_t(chunk_rows_));
    chunk->features.resize(size_t(chunk_rows_) * outputs_);
    return chunk;
}

bool PipelinedTransform::add(const RawValue* row, bool wanted) {
    if (!open_) open_ = take_chunk();
    Chunk& chunk = *open_;
    pack_row(row, width_, chunk.values.data() + size_t(chunk.rows) * width_, chunk.bytes);
    chunk.wanted[size_t(chunk.rows)] = wanted;
    if (++chunk.rows == chunk_rows_) {
        seal();
        rethrow_error();  // a bad value stops the read within a few chunks of its row
        return true;
    }
    return false;
}

void PipelinedTransform::seal() {
    if (!open_ || open_->rows == 0) return;
    Chunk* running = open_.get();
    sealed_.push_back(std::move(open_));
    // The first full chunk starts the helper; a short last chunk with no helper running is featurized here.
    if (use_helper_ && !helper_ && running->rows == chunk_rows_) helper_ = std::make_unique<SerialWorker>();
    if (helper_)
        helper_->submit([this, running] { run(*running); });
    else
        run(*running);
}

void PipelinedTransform::run(Chunk& chunk) noexcept {
    if (!failed_.load(std::memory_order_relaxed) && !abandoned_.load(std::memory_order_relaxed)) {
        try {
            for (int i = 0; i < chunk.rows; ++i) {
                unpack_row(chunk.values.data() + size_t(i) * width_, width_, chunk.bytes.data(), row_.data());
                // As the offline pass on one thread: a wanted row's features from the history before it, then
                // the row into the history.
                if (chunk.wanted[size_t(i)])
                    featurizer_.transform(row_.data(), history_,
                                          chunk.features.data() + size_t(chunk.wanted_rows++) * outputs_);
                featurizer_.observe(row_.data(), history_);
            }
        } catch (...) {
            error_ = std::current_exception();
            failed_.store(true, std::memory_order_release);
        }
    }
    chunk.finished.store(true, std::memory_order_release);
}

const float* PipelinedTransform::finished_features(int* rows) {
    rethrow_error();
    if (sealed_.empty() || !sealed_.front()->finished.load(std::memory_order_acquire)) return nullptr;
    rethrow_error();  // the chunk that finished may be the one that failed
    *rows = sealed_.front()->wanted_rows;
    return sealed_.front()->features.data();
}

void PipelinedTransform::release_finished() {
    if (sealed_.empty() || !sealed_.front()->finished.load(std::memory_order_acquire)) return;
    spare_.push_back(std::move(sealed_.front()));
    sealed_.pop_front();
}

bool PipelinedTransform::wait_until_in_flight_at_most(size_t most, int64_t microseconds) {
    return helper_ ? helper_->wait_until_unfinished_at_most(most, microseconds) : true;
}

void PipelinedTransform::finish() {
    seal();
    helper_.reset();  // runs what is left, then joins
    rethrow_error();
}

void PipelinedTransform::rethrow_error() const {
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
}

}  // namespace dendrite::engine
