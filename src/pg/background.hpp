// The backend's helper thread: one engine::SerialWorker, started when guard_batch's row capture first
// hands a chunk of rows over, stopped at the end of the transaction (and at backend exit).
//
// The rule that makes it safe: the helper only ever runs engine code on objects that the backend's own
// thread does not touch meanwhile. Those objects are the captured rows (the capture's own) and a
// featurizer's inline history (shared): every path of the backend's thread that reads, observes into or
// discards an inline history calls drain_background_work() first (inline_history(), the discards at
// (sub)transaction end), so that everything handed over runs first, exactly as if the backend had run it
// at the moment it handed it over. The versions and featurizers the helper reads are pinned by the
// guard's state for the statement, so no cache eviction frees them.
#pragma once

#include "engine/parallel.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// The helper, started on first use (an ERROR when no thread can be started).
engine::SerialWorker* background_worker();
// The helper if one is running, else NULL (then work is done on the backend's own thread).
engine::SerialWorker* running_background_worker();
// Waits until the helper has run everything handed to it (a no-op without a helper). Not interruptible:
// what is in flight is a few chunks of rows, milliseconds of work.
void drain_background_work();
// Waits as drain_background_work() does, but only until at most `most` tasks are unfinished, honouring
// cancel and statement_timeout while it waits (a CHECK_FOR_INTERRUPTS between short waits).
void wait_for_background_work(size_t most);
// Stops and joins the helper (after draining it); the next background_worker() starts a new one.
void stop_background_worker() noexcept;

}  // namespace dendrite::pg
