// Training progress that other sessions can see (dendrite.training_progress): one slot per training
// backend in shared memory: model, algorithm, epoch of epochs, loss and PR-AUC so far. The slots live in
// space requested at startup when dendrite is in shared_preload_libraries, and otherwise in the small
// reserve PostgreSQL keeps for add-ins; when neither has room, training works and simply is not shown.
#pragma once

#include "engine/trainer.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Claims this backend's slot for a training run; released when the transaction ends (commit or abort).
void progress_begin(const char* model, const char* algorithm, int planned_epochs, int64 rows);
// After each epoch; plain stores under a spinlock, no ERROR possible (safe inside engine callbacks).
void report_progress(const engine::EpochReport& report) noexcept;

// _PG_init's part: with shared_preload_libraries, ask for the slots' space.
void progress_init();

}  // namespace dendrite::pg
