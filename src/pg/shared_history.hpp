// The inline history shared between backends. Each backend keeps its own history state (featurizer_cache.hpp),
// built by replaying the history query; what makes the states agree is a log in shared memory of the events
// that committed transactions' guards observed. The events a transaction's guards observe are journaled
// (engine::HistoryJournal) and published when it commits (dendrite.observe's are not: a scorer's arbitrary row
// must not change what every session counts); every backend, before it reads a state, replays the events that other
// backends published since (a catch-up: one atomic read when there is nothing new). So a card's payments
// inserted through guards in different sessions of a connection pool all count in each session's history,
// as they do in the offline pass.
//
// The log is a ring of dendrite.shared_history_events events (with dendrite in shared_preload_libraries; else
// 512 from PostgreSQL's spare shared memory). A backend that falls further behind than the ring
// holds rebuilds its state from the history query (or, while the state holds rows of its own open transaction,
// replays what is left, warns, and rebuilds when the transaction ends). A transaction that observes more
// events than the ring holds publishes only that it did: every other backend then rebuilds.
#pragma once

#include "engine/history.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

extern int shared_history_events;  // the GUC dendrite.shared_history_events (0: nothing is shared)

// From _PG_init: the GUC, and with shared_preload_libraries the request for the ring's shared memory.
void shared_history_init();

// Where a state stands in the log.
struct SharedHistoryCursor {
    bool shared = false;  // false: the log is off or out of reach; the state is this backend's alone
    uint64 next = 0;      // the next position to replay
};

// Around the replay that builds a state: before it, where the log stands; after it (the state complete), the
// events published meanwhile or just before by transactions the replay's snapshot did not see are replayed into
// it, and the cursor placed after them. The snapshot is the active one, which the replay's query reads.
uint64 shared_history_position();
// Returns false (with a WARNING) when the ring no longer holds all it needed, or a transaction the snapshot did
// not see deleted rows or observed more than the ring holds: the caller rebuilds the state when the transaction
// ends (with the same snapshot, a rebuild now would miss the same rows).
bool shared_history_after_replay(int64 featurizer_id, const char* featurizer_name, engine::HistoryState* state,
                                 uint64 replay_started_at, SharedHistoryCursor* cursor);

// Whether other backends published since the cursor (cheap: one atomic read).
bool shared_history_behind(const SharedHistoryCursor& cursor);
// Replays what other backends published since the cursor. Returns false when the ring no longer holds all of
// it (the caller rebuilds the state, or, with rows of the open transaction in it, keeps what was replayed).
bool shared_history_catch_up(int64 featurizer_id, engine::HistoryState* state, SharedHistoryCursor* cursor);

// The journal of the events this backend observes into featurizer_id's state in the open transaction (one per
// featurizer, kept across states: a state discarded by a rolled-back subtransaction leaves the journal of the
// rows before it).
engine::HistoryJournal* shared_history_journal(int64 featurizer_id);
// Rows the featurizer's history reads were deleted (or truncated) in the open transaction: when it commits, every
// other session's state of it is rebuilt (an overflow mark). Nothing without the shared ring.
void shared_history_forget(int64 featurizer_id);
// Transaction ends (from featurizer_cache's callbacks, after the helper thread is drained): a rolled-back
// subtransaction's events are dropped; a commit publishes the journals (never raising: it runs after the commit)
// and, when nothing else was published since cursor_at_end, returns in *published_to the position after its own
// events, where a cursor at cursor_at_end may move (else returns cursor_at_end); an abort or PREPARE drops them.
void shared_history_subtransaction_aborted(SubTransactionId subtransaction);
struct PublishedRange {
    uint64 from = 0, to = 0;  // a cursor at from may move to to (from == to: leave cursors where they are)
};
PublishedRange shared_history_transaction_ended(bool committed);

}  // namespace dendrite::pg
