#include "engine/captured_rows.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace dendrite::engine {

namespace {

// A chunk's buffers, emptied for new rows (their capacity kept).
std::unique_ptr<CapturedChunk> emptied(std::unique_ptr<CapturedChunk> chunk) {
    chunk->rows = 0;
    chunk->bytes.clear();
    chunk->scores = nullptr;
    chunk->finished.store(false, std::memory_order_relaxed);
    return chunk;
}

}  // namespace

std::unique_ptr<CapturedChunk> CapturedChunkPool::take() {
    if (spare_.empty()) return std::make_unique<CapturedChunk>();
    std::unique_ptr<CapturedChunk> chunk = std::move(spare_.back());
    spare_.pop_back();
    return chunk;
}

void CapturedChunkPool::give_back(std::unique_ptr<CapturedChunk> chunk) {
    if (spare_.size() < keep_) spare_.push_back(emptied(std::move(chunk)));
}

CapturedRows::CapturedRows(const Featurizer& featurizer, const ModelView& model, CapturedChunkPool* pool)
    : featurizer_(featurizer),
      model_(model),
      pool_(pool),
      n_inputs_(featurizer.inputs().size()),
      n_features_(size_t(featurizer.output_count())) {}

CapturedRows::~CapturedRows() {
    if (!pool_) return;
    try {
        if (open_) pool_->give_back(std::move(open_));
        for (std::unique_ptr<Chunk>& chunk : sealed_) pool_->give_back(std::move(chunk));
    } catch (...) {
        // The pool could not grow: the chunks are freed instead.
    }
}

std::unique_ptr<CapturedRows::Chunk> CapturedRows::take_chunk() {
    // The oldest sealed chunk, once finished, gives its buffers to the next one (its scores stay behind in
    // scores_): a long statement keeps as many buffers as chunks in flight, not one per chunk.
    if (!sealed_.empty() && sealed_.front()->finished.load(std::memory_order_acquire)) {
        std::unique_ptr<Chunk> chunk = std::move(sealed_.front());
        sealed_.pop_front();
        return emptied(std::move(chunk));
    }
    return pool_ ? pool_->take() : std::make_unique<Chunk>();
}

void CapturedRows::add_row(const RawValue* row, bool observe) {
    if (sealed_short_) throw std::logic_error("CapturedRows: a row after the last chunk");
    if (!open_) open_ = take_chunk();
    Chunk& chunk = *open_;
    const size_t first = size_t(chunk.rows) * n_inputs_;
    // Grown as rows come (a one-row statement allocates for one row), kept at its size for reuse.
    if (chunk.values.size() < first + n_inputs_)
        chunk.values.resize(std::max(first + n_inputs_, 2 * chunk.values.size()));
    pack_row(row, n_inputs_, chunk.values.data() + first, chunk.bytes);
    if (chunk.observe.size() <= size_t(chunk.rows))
        chunk.observe.resize(std::max<size_t>(16, 2 * chunk.observe.size()));
    chunk.observe[size_t(chunk.rows)] = observe;
    ++chunk.rows;
}

int CapturedRows::open_rows() const { return open_ ? open_->rows : 0; }

void CapturedRows::seal(HistoryState* history, SerialWorker* worker) {
    if (!open_ || open_->rows == 0) return;
    Chunk& chunk = *open_;
    // Everything the chunk's run needs is allocated here, on the caller's thread, so that running it
    // allocates only what the history and the model do themselves.
    chunk.row.resize(n_inputs_);
    chunk.x.resize(size_t(chunk.rows) * n_features_);
    chunk.scratch.resize(model_batch_scratch_floats(model_, chunk.rows));
    scores_.emplace_back(size_t(chunk.rows));
    chunk.scores = scores_.back().data();
    rows_ += size_t(chunk.rows);
    sealed_short_ = chunk.rows < kChunkRows;
    Chunk* running = open_.get();
    sealed_.push_back(std::move(open_));
    if (worker)
        worker->submit([this, running, history] { run(*running, history); });
    else
        run(*running, history);
}

void CapturedRows::run(Chunk& chunk, HistoryState* history) noexcept {
    if (!failed_.load(std::memory_order_relaxed)) {
        try {
            RawValue* row = chunk.row.data();
            for (int i = 0; i < chunk.rows; ++i) {
                unpack_row(chunk.values.data() + size_t(i) * n_inputs_, n_inputs_, chunk.bytes.data(), row);
                featurizer_.transform(row, history, chunk.x.data() + size_t(i) * n_features_);
                if (chunk.observe[size_t(i)]) featurizer_.observe(row, history);
            }
            score_batch(model_, chunk.x.data(), chunk.rows, chunk.scores, chunk.scratch.data());
        } catch (...) {
            error_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }
    chunk.finished.store(true, std::memory_order_release);
}

void CapturedRows::rethrow_error() const {
    if (error_) std::rethrow_exception(error_);
}

}  // namespace dendrite::engine
