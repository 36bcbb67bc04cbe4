#include "pg/shared_history.hpp"

#include <cstring>

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/shared_struct.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
}

namespace dendrite::pg {

int shared_history_events = 65536;

namespace {

// Without preloading the ring comes out of the ~100 kB PostgreSQL keeps spare (training progress takes ~10 kB).
constexpr uint64 kUnpreloadedEvents = 512;

struct SharedEvent {
    uint64 position;  // where it was published: a slot skipped over (an overflow's mark) holds an older one
    Oid database, extension;
    int32 pid;
    TransactionId xid;  // the publishing transaction (InvalidTransactionId: it wrote nothing)
    int64 featurizer_id;
    uint32 declaration;  // kOverflowMark: the transaction observed more events than the ring holds (none follow)
    int8 what;           // as JournaledEvent::what: observed, deleted, or relabelled
    engine::HistoryEvent event;
};

constexpr uint32 kOverflowMark = ~uint32(0);

struct SharedHistoryArea {
    LWLock lock;  // exclusive to publish, shared to read
    int tranche_id;
    uint64 capacity;
    pg_atomic_uint64 head;  // positions published so far; position p is events[p % capacity]
    SharedEvent events[1];
};

bool preloaded = false;
SharedHistoryArea* area = nullptr;
bool attach_failed = false;
shmem_request_hook_type previous_shmem_request_hook = nullptr;

uint64 ring_events() { return uint64(shared_history_events); }

Size area_size(uint64 events) {
    return add_size(offsetof(SharedHistoryArea, events), mul_size(sizeof(SharedEvent), events));
}

void request_space() {
    if (previous_shmem_request_hook) previous_shmem_request_hook();
    if (shared_history_events > 0) RequestAddinShmemSpace(MAXALIGN(area_size(ring_events())));
}

// Attaches to (or creates) the ring. Out of shared memory, the history stays per backend, with a warning.
bool attach() {
    if (area) return true;
    if (attach_failed || shared_history_events == 0) return false;
    const uint64 events = ring_events();
    area = attach_shared_struct<SharedHistoryArea>("dendrite shared history", area_size(events),
                                                   [events](SharedHistoryArea* a) {
                                                       a->tranche_id = LWLockNewTrancheId();
                                                       LWLockInitialize(&a->lock, a->tranche_id);
                                                       a->capacity = events;
                                                       pg_atomic_init_u64(&a->head, 0);
                                                   });
    if (area) LWLockRegisterTranche(area->tranche_id, "dendrite_shared_history");
    attach_failed = area == nullptr;
    if (attach_failed)
        ereport(WARNING, (errmsg("dendrite's inline history is not shared between sessions: no shared memory left"),
                          errdetail("Each session's guards count only the rows it inserted itself."),
                          errhint("Add dendrite to shared_preload_libraries and restart the server.")));
    return area != nullptr;
}

// The journals of the open transaction, one per featurizer, kept in TopMemoryContext.
struct PendingJournal {
    Oid extension;
    int64 featurizer_id;
    engine::HistoryJournal* journal;
};
PendingJournal* pending = nullptr;
int n_pending = 0, pending_room = 0;

// What a reader does with an event of its featurizer.
enum class Replay { Skip, Apply, Lost };

// *from for replay_since: from the oldest event the ring still holds.
constexpr uint64 kOldestHeld = ~uint64(0);

// Replays into state the events of this featurizer published since *from that classify() says to apply, and
// moves *from to the end (*first_examined: where it began). Returns false when some are lost: the ring no longer
// holds them (a publisher wrapped past *from), classify() met an overflow mark that it does not skip, or the state
// could not tell which of its events a relabelling names. The events are copied out under the lock and replayed
// after it (replaying may raise).
template <typename Classify>
bool replay_since(int64 featurizer_id, engine::HistoryState* state, uint64* from, Classify classify,
                  uint64* first_examined = nullptr) {
    const Oid extension = extension_oid();
    LWLockAcquire(&area->lock, LW_SHARED);
    const uint64 head = pg_atomic_read_u64(&area->head);  // stable while the lock is held
    const uint64 oldest = head > area->capacity ? head - area->capacity : 0;
    uint64 first = *from == kOldestHeld ? oldest : *from;
    bool complete = true;
    if (first < oldest) {
        first = oldest;
        complete = false;
    }
    if (first_examined) *first_examined = first;
    auto* copied = static_cast<SharedEvent*>(palloc(sizeof(SharedEvent) * size_t(head - first + 1)));
    size_t n = 0;
    for (uint64 p = first; p < head; ++p) {
        const SharedEvent& e = area->events[p % area->capacity];
        // A slot an overflow mark skipped over still holds an older position: nothing was published there.
        if (e.position != p || e.featurizer_id != featurizer_id || e.database != MyDatabaseId ||
            e.extension != extension)
            continue;
        const Replay verdict = classify(e, p);
        if (verdict == Replay::Lost) complete = false;
        if (verdict == Replay::Apply && e.declaration != kOverflowMark) copied[n++] = e;
    }
    LWLockRelease(&area->lock);
    *from = head;
    engine_call([&] {
        const engine::UnjournaledScope unjournaled(state);  // other backends' rows: not this one's to publish
        for (size_t i = 0; i < n; ++i)
            complete = state->replay(copied[i].declaration, copied[i].event, copied[i].what) && complete;
    });
    pfree(copied);
    return complete;
}

}  // namespace

void shared_history_init() {
    // PostgreSQL refuses a PGC_POSTMASTER setting defined after startup: without preloading the setting only
    // shows the ring's fixed size.
    preloaded = process_shared_preload_libraries_in_progress;
    if (!preloaded) shared_history_events = int(kUnpreloadedEvents);
    DefineCustomIntVariable(
        "dendrite.shared_history_events",
        "How many observed history events the sessions share (0: each session keeps its own inline history).",
        "A ring in shared memory of the history events that committed transactions' guards observed, which every "
        "session replays into its inline history before it reads it; a session "
        "further behind rebuilds its history. Settable with dendrite in shared_preload_libraries; otherwise 512.",
        &shared_history_events, shared_history_events, 0, 1 << 24, preloaded ? PGC_POSTMASTER : PGC_INTERNAL, 0,
        nullptr, nullptr, nullptr);
    if (!preloaded) return;
    previous_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = request_space;
}

uint64 shared_history_position() { return attach() ? pg_atomic_read_u64(&area->head) : 0; }

bool shared_history_after_replay(int64 featurizer_id, const char* featurizer_name, engine::HistoryState* state,
                                 uint64 replay_started_at, SharedHistoryCursor* cursor) {
    cursor->shared = attach();
    if (!cursor->shared) return true;
    // The replay read the active snapshot. Of the events published before the replay ended, those of
    // transactions that snapshot saw are in the state already; the others (committed after it was taken, some
    // published before the replay started) are replayed now. A transaction publishes right after its commit,
    // so one that the snapshot saw publishes before the replay ends: later events are all replayed by catch-up.
    // Events without a transaction count from the replay's start. Everything the ring holds is looked at.
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : nullptr;
    uint64 from = kOldestHeld, first_examined = 0;
    const bool complete = replay_since(
        featurizer_id, state, &from,
        [&](const SharedEvent& e, uint64 position) {
            const bool seen = TransactionIdIsValid(e.xid) ? snapshot != nullptr && !XidInMVCCSnapshot(e.xid, snapshot)
                                                          : position < replay_started_at;
            if (seen) return Replay::Skip;
            return e.declaration == kOverflowMark ? Replay::Lost : Replay::Apply;
        },
        &first_examined);
    cursor->next = from;
    if (complete && first_examined <= replay_started_at) return true;  // else the ring lost some of the replay's time
    ereport(
        WARNING,
        (errmsg(
             "the inline history of featurizer \"%s\" may not follow what other sessions committed while it was built",
             featurizer_name),
         errdetail("While the history query was replayed, more history events were published than the shared ring "
                   "holds (%llu), or rows the history reads were deleted; the history is rebuilt when this "
                   "transaction ends.",
                   static_cast<unsigned long long>(area->capacity)),
         errhint("Raise dendrite.shared_history_events (with dendrite in shared_preload_libraries) if sessions "
                 "fall behind.")));
    return false;
}

bool shared_history_behind(const SharedHistoryCursor& cursor) {
    return cursor.shared && pg_atomic_read_u64(&area->head) != cursor.next;
}

bool shared_history_catch_up(int64 featurizer_id, engine::HistoryState* state, SharedHistoryCursor* cursor) {
    // This backend's own events are in the state already; another's overflow mark means rows it cannot replay.
    return replay_since(featurizer_id, state, &cursor->next, [](const SharedEvent& e, uint64) {
        if (e.pid == MyProcPid) return Replay::Skip;
        return e.declaration == kOverflowMark ? Replay::Lost : Replay::Apply;
    });
}

engine::HistoryJournal* shared_history_journal(int64 featurizer_id) {
    if (!attach()) return nullptr;
    const Oid extension = extension_oid();
    for (int i = 0; i < n_pending; ++i)
        if (pending[i].featurizer_id == featurizer_id && pending[i].extension == extension) return pending[i].journal;
    if (n_pending == pending_room) {
        const int room = pending_room ? 2 * pending_room : 8;
        pending = static_cast<PendingJournal*>(
            pending ? repalloc(pending, sizeof(PendingJournal) * size_t(room))
                    : MemoryContextAlloc(TopMemoryContext, sizeof(PendingJournal) * size_t(room)));
        pending_room = room;
    }
    engine::HistoryJournal* journal = nullptr;
    engine_call([&] { journal = new engine::HistoryJournal(); });
    journal->limit = size_t(area->capacity);
    pending[n_pending++] = {extension, featurizer_id, journal};
    return journal;
}

void shared_history_forget(int64 featurizer_id) {
    engine::HistoryJournal* journal = shared_history_journal(featurizer_id);
    if (journal) journal->give_up();
}

void shared_history_subtransaction_aborted(SubTransactionId subtransaction) {
    for (int i = 0; i < n_pending; ++i) pending[i].journal->drop_from_tag(subtransaction);
}

PublishedRange shared_history_transaction_ended(bool committed) {
    PublishedRange range;
    if (!area) return range;
    bool any = false;
    for (int i = 0; i < n_pending; ++i) any = any || !pending[i].journal->empty();
    if (!any) return range;
    if (committed) {
        const TransactionId xid = GetTopTransactionIdIfAny();
        LWLockAcquire(&area->lock, LW_EXCLUSIVE);
        uint64 head = pg_atomic_read_u64(&area->head);
        range.from = head;
        for (int i = 0; i < n_pending; ++i) {
            const engine::HistoryJournal* journal = pending[i].journal;
            auto publish = [&](uint32 declaration, const engine::HistoryEvent& event, int8 what) {
                SharedEvent& e = area->events[head % area->capacity];
                e.position = head;
                e.database = MyDatabaseId;
                e.extension = pending[i].extension;
                e.pid = MyProcPid;
                e.xid = xid;
                e.featurizer_id = pending[i].featurizer_id;
                e.declaration = declaration;
                e.what = what;
                e.event = event;
                ++head;
            };
            if (journal->overflowed) {
                // More than the ring holds, or deleted rows: a mark, and the head a whole ring further, so that
                // every other session's state of this featurizer either meets the mark or has fallen behind the
                // ring; both rebuild from the history query (which the commit has made see these rows). Other
                // featurizers' readers skip the mark and the slots it passed over.
                publish(kOverflowMark, engine::HistoryEvent{}, engine::JournaledEvent::kObserved);
                head += area->capacity - 1;
                continue;
            }
            for (const engine::JournaledEvent& j : journal->events) publish(j.declaration, j.event, j.what);
        }
        pg_atomic_write_u64(&area->head, head);
        LWLockRelease(&area->lock);
        range.to = head;
    }
    // clear() allocates nothing (noexcept paths only: this may run after the commit).
    for (int i = 0; i < n_pending; ++i) pending[i].journal->clear();
    return range;
}

}  // namespace dendrite::pg
