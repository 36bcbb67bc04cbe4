#include "pg/progress.hpp"

#include <cstring>

#include "pg/boundary.hpp"
#include "pg/shared_struct.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
}

namespace dendrite::pg {

namespace {

constexpr int kSlots = 64;

struct ProgressSlot {
    int pid;  // 0: free
    char model[NAMEDATALEN];
    char algorithm[32];
    int epoch, epochs;
    double loss, validation_loss, pr_auc;
    int64 rows;
    TimestampTz started_at, updated_at;
};

struct ProgressArea {
    slock_t mutex;
    ProgressSlot slots[kSlots];
};

ProgressArea* area = nullptr;
ProgressSlot* my_slot = nullptr;
bool attach_failed = false;
bool callback_registered = false;
shmem_request_hook_type previous_shmem_request_hook = nullptr;

void request_space() {
    if (previous_shmem_request_hook) previous_shmem_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(ProgressArea)));
}

// Attaches to (or creates) the area. Without preloading this takes the space from the reserve that
// PostgreSQL keeps; when that is used up, progress is simply not shown.
bool attach() {
    if (area) return true;
    if (attach_failed) return false;
    // Out of shared memory: training goes on without a progress slot.
    area = attach_shared_struct<ProgressArea>("dendrite training progress", sizeof(ProgressArea), [](ProgressArea* a) {
        SpinLockInit(&a->mutex);
        memset(a->slots, 0, sizeof a->slots);
    });
    attach_failed = area == nullptr;
    return area != nullptr;
}

void release_slot() {
    if (!my_slot) return;
    SpinLockAcquire(&area->mutex);
    my_slot->pid = 0;
    SpinLockRelease(&area->mutex);
    my_slot = nullptr;
}

void on_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
        release_slot();
}

void on_backend_exit(int, Datum) { release_slot(); }

}  // namespace

void progress_init() {
    if (!process_shared_preload_libraries_in_progress) return;
    previous_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = request_space;
}

void progress_begin(const char* model, const char* algorithm, int planned_epochs, int64 rows) {
    if (!attach()) return;
    if (!callback_registered) {
        RegisterXactCallback(on_transaction_end, nullptr);
        before_shmem_exit(on_backend_exit, 0);
        callback_registered = true;
    }
    release_slot();
    const TimestampTz now = GetCurrentTimestamp();
    SpinLockAcquire(&area->mutex);
    for (auto& slot : area->slots) {
        if (slot.pid != 0) continue;
        memset(&slot, 0, sizeof slot);
        slot.pid = MyProcPid;
        strlcpy(slot.model, model, sizeof slot.model);
        strlcpy(slot.algorithm, algorithm, sizeof slot.algorithm);
        slot.epochs = planned_epochs;
        slot.rows = rows;
        slot.started_at = slot.updated_at = now;
        my_slot = &slot;
        break;
    }
    SpinLockRelease(&area->mutex);
}

void report_progress(const engine::EpochReport& report) noexcept {
    if (!my_slot) return;
    const TimestampTz now = GetCurrentTimestamp();
    SpinLockAcquire(&area->mutex);
    my_slot->epoch = report.epoch;
    my_slot->loss = report.loss;
    my_slot->validation_loss = report.validation_loss;
    my_slot->pr_auc = report.metrics.pr_auc;
    my_slot->updated_at = now;
    SpinLockRelease(&area->mutex);
}

}  // namespace dendrite::pg

using namespace dendrite::pg;

// dendrite.training_progress(): one row per training in progress, in any session.
DENDRITE_FUNCTION(dendrite_training_progress) {
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (!attach()) PG_RETURN_NULL();
    ProgressSlot copy[kSlots];
    SpinLockAcquire(&area->mutex);
    memcpy(copy, area->slots, sizeof copy);
    SpinLockRelease(&area->mutex);
    for (const auto& slot : copy) {
        if (slot.pid == 0) continue;
        Datum values[10] = {Int32GetDatum(slot.pid),
                            CStringGetTextDatum(slot.model),
                            CStringGetTextDatum(slot.algorithm),
                            Int32GetDatum(slot.epoch),
                            Int32GetDatum(slot.epochs),
                            Float8GetDatum(slot.loss),
                            Float8GetDatum(slot.pr_auc),
                            Int64GetDatum(slot.rows),
                            TimestampTzGetDatum(slot.started_at),
                            TimestampTzGetDatum(slot.updated_at)};
        bool nulls[10] = {};
        if (slot.epoch == 0) nulls[5] = nulls[6] = true;  // no epoch finished yet
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    PG_RETURN_NULL();
}
