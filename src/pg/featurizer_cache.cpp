#include "pg/featurizer_cache.hpp"

#include "pg/background.hpp"
#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/featurizer_rows.hpp"
#include "pg/model_cache.hpp"
#include "pg/query_pass.hpp"
#include "pg/row_binding.hpp"

extern "C" {
#include "access/xact.h"
}

namespace dendrite::pg {

namespace {

CachedFeaturizer* cached_featurizers = nullptr;
constexpr int kCachedFeaturizers = 8;

// Loads a version into a context that becomes a child of TopMemoryContext only once it is complete, so an
// error halfway leaves nothing behind.
CachedFeaturizer* load_featurizer(int64 featurizer_id) {
    MemoryContext entry_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite featurizer", ALLOCSET_SMALL_SIZES);
    // Before the rows are read: an edit that commits in between makes the digest differ at the next check.
    char* fingerprint = featurizer_fingerprint(featurizer_id, entry_context);
    note_kept_rows_read();
    CachedFeaturizer* entry = read_featurizer_rows(featurizer_id, entry_context);
    entry->fingerprint = fingerprint;
    MemoryContextSetParent(entry_context, TopMemoryContext);
    entry->context = entry_context;
    mark_used(entry);
    entry->next = cached_featurizers;
    cached_featurizers = entry;
    // Deleting an evicted entry's context deletes its engine featurizer and any inline history with it.
    evict_unused(&cached_featurizers, entry, kCachedFeaturizers, [](CachedFeaturizer*) {});
    return entry;
}

}  // namespace

char* featurizer_fingerprint(int64 featurizer_id, MemoryContext context) {
    const auto digest = [](const char* table) { return catalog_rows_digest_sql(table, "featurizer_id"); };
    connect_spi();
    Datum id[1] = {Int64GetDatum(featurizer_id)};
    execute_as_owner(
        psprintf("SELECT pg_catalog.md5(pg_catalog.concat_ws('/', f.ctid::text || f.xmin::text, %s, %s, %s)) "
                 "FROM dendrite.featurizers f WHERE f.featurizer_id = $1",
                 digest("feature_columns"), digest("feature_categories"), digest("feature_history")),
        1, oids({INT8OID}), id);
    char* found = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    char* kept = found ? MemoryContextStrdup(context, found) : nullptr;
    finish_spi();
    return kept;
}

int mark_edited_featurizers_stale(bool check_rows) {
    int marked = 0;
    const Oid extension = extension_oid();
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next) {
        if (entry->stale || entry->extension != extension) continue;  // another extension's: never found
        bool edited = false;
        for (int a = 0; a < entry->n_anomaly_versions; ++a) edited = edited || entry->anomaly_versions[a]->stale;
        if (!edited && check_rows) {
            const char* now = featurizer_fingerprint(entry->featurizer_id, CurrentMemoryContext);
            edited = !now || !entry->fingerprint || strcmp(now, entry->fingerprint) != 0;
        }
        if (edited) {
            entry->stale = true;
            ++marked;
        }
    }
    return marked;
}

void evict_stale_featurizers() {
    evict_unused(&cached_featurizers, static_cast<const CachedFeaturizer*>(nullptr), kCachedFeaturizers,
                 [](CachedFeaturizer*) {});
}

const CachedFeaturizer* featurizer_by_id(int64 featurizer_id) {
    check_cached_rows_if_suspect();
    const Oid extension = extension_oid();
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next)
        if (!entry->stale && entry->featurizer_id == featurizer_id && entry->extension == extension) {
            mark_used(entry);
            return entry;
        }
    return load_featurizer(featurizer_id);
}

void pin_featurizer(const CachedFeaturizer* featurizer, MemoryContext holder) { pin_entry(featurizer, holder); }

void unpin_featurizer(const CachedFeaturizer* featurizer) { const_cast<CachedFeaturizer*>(featurizer)->pins--; }

const CachedFeaturizer* latest_featurizer(const char* name) {
    connect_spi();
    Datum values[1] = {CStringGetTextDatum(name)};
    execute_as_owner("SELECT featurizer_id FROM dendrite.featurizers WHERE name = $1 ORDER BY version DESC LIMIT 1", 1,
                     oids({TEXTOID}), values);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("featurizer \"%s\" does not exist", name),
                        errhint("Create it with dendrite.create_featurizer, or train a model of that name.")));
    bool isnull;
    const int64 id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    finish_spi();
    return featurizer_by_id(id);
}

namespace {

bool transaction_callbacks_registered = false;

void discard_history(CachedFeaturizer* entry) {
    drain_background_work();  // the helper may be observing rows into it (see background.hpp)
    entry->inline_history = nullptr;
    entry->history_in_transaction = false;
    entry->history_cursor = SharedHistoryCursor{};
    entry->rebuild_history_at_transaction_end = false;
    if (entry->history_context) MemoryContextDelete(entry->history_context);  // deletes the state
    entry->history_context = nullptr;
}

void end_of_transaction(XactEvent event, void*) {
    const bool aborted = event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT;
    const bool ended =
        aborted || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE;
    if (!ended) return;
    // The rows this transaction observed go to the other sessions when it commits (a prepared transaction's
    // do not: they reach them when they rebuild). This runs after the commit and raises nothing.
    drain_background_work();  // the helper may still be observing rows (and journaling them)
    const PublishedRange published = shared_history_transaction_ended(event == XACT_EVENT_COMMIT);
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next) {
        // Nothing else published since the state's last catch-up: it skips its own rows without reading them.
        if (entry->inline_history && entry->history_cursor.shared && entry->history_cursor.next == published.from)
            entry->history_cursor.next = published.to;
        if (entry->rebuild_history_at_transaction_end || (aborted && entry->history_in_transaction))
            discard_history(entry);
        else
            entry->history_in_transaction = false;
    }
}

void end_of_subtransaction(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId, void*) {
    if (event != SUBXACT_EVENT_ABORT_SUB) return;
    drain_background_work();
    shared_history_subtransaction_aborted(subtransaction);
    // Conservative: the state cannot tell rows of the aborted subtransaction from the others.
    for (CachedFeaturizer* entry = cached_featurizers; entry; entry = entry->next)
        if (entry->history_in_transaction) discard_history(entry);
}

void track_transaction() {
    if (transaction_callbacks_registered) return;
    RegisterXactCallback(end_of_transaction, nullptr);
    RegisterSubXactCallback(end_of_subtransaction, nullptr);
    transaction_callbacks_registered = true;
}

}  // namespace

engine::HistoryState* inline_history_for_update(const CachedFeaturizer* featurizer) {
    engine::HistoryState* state = inline_history(featurizer);
    if (state) {
        track_transaction();
        const_cast<CachedFeaturizer*>(featurizer)->history_in_transaction = true;
        // The rows observed from here on belong to this subtransaction (dropped from the journal if it rolls back).
        if (state->journal()) state->journal()->tag = GetCurrentSubTransactionId();
    }
    return state;
}

void forget_inline_history(const CachedFeaturizer* featurizer) {
    if (!featurizer->featurizer->keeps_history()) return;
    auto* entry = const_cast<CachedFeaturizer*>(featurizer);
    track_transaction();
    if (entry->inline_history) entry->rebuild_history_at_transaction_end = true;
    shared_history_forget(entry->featurizer_id);
}

void follow_row_change(const CachedFeaturizer* featurizer, const engine::HistoryEvent* before,
                       const engine::HistoryEvent* after) {
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    auto* entry = const_cast<CachedFeaturizer*>(featurizer);
    track_transaction();  // the journal is published, or dropped, when the transaction ends
    // A session that only updates labels (a batch of chargebacks) or purges old rows builds no state for it: the
    // others get the change through the journal, and this one's state, built later, reads the table as it is.
    engine::HistoryState* state = featurizer->inline_history ? inline_history_for_update(featurizer) : nullptr;
    engine::HistoryJournal* journal = state ? nullptr : shared_history_journal(featurizer->featurizer_id);
    if (journal) journal->tag = GetCurrentSubTransactionId();
    bool state_follows = true;
    engine_call([&] {
        for (size_t h = 0; h < engine_featurizer->history_declarations(); ++h) {
            if (after && engine::event_change(before[h], after[h]) != engine::EventChange::Relabelled) continue;
            const int8_t what = after ? after[h].label : engine::JournaledEvent::kDeleted;
            if (state)
                state_follows = state->replay(h, before[h], what) && state_follows;
            else if (journal && before[h].valid)
                journal->record(h, before[h], what);
        }
    });
    if (!state_follows) entry->rebuild_history_at_transaction_end = true;
}

namespace {

// Brings a built state up to date with the rows other sessions committed since it last looked. false: it
// fell too far behind and holds none of this transaction's rows, so the caller builds it again.
bool catch_up_or_discard(CachedFeaturizer* entry) {
    if (!shared_history_behind(entry->history_cursor)) return true;
    bool complete = false;
    PG_TRY();
    { complete = shared_history_catch_up(entry->featurizer_id, entry->inline_history, &entry->history_cursor); }
    PG_CATCH();
    {
        discard_history(entry);  // replayed halfway: the state is no longer any transaction's
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (complete) return true;
    if (!entry->history_in_transaction) {
        discard_history(entry);
        return false;
    }
    if (!entry->rebuild_history_at_transaction_end)
        ereport(WARNING,
                (errmsg("the inline history of featurizer \"%s\" does not follow what other sessions committed",
                        entry->name),
                 errdetail("While this transaction held rows of its own in it, another session deleted rows the "
                           "history reads, relabelled a row this history keeps at another time than its own, or this "
                           "one fell more than dendrite.shared_history_events history events behind; the history is "
                           "rebuilt when this transaction ends."),
                 errhint("Raise dendrite.shared_history_events (with dendrite in shared_preload_libraries) if "
                         "sessions fall behind.")));
    entry->rebuild_history_at_transaction_end = true;
    return true;
}

}  // namespace

engine::HistoryState* inline_history(const CachedFeaturizer* featurizer) {
    drain_background_work();  // rows handed to the helper are observed before this thread reads the state
    auto* entry = const_cast<CachedFeaturizer*>(featurizer);
    if (entry->inline_history && catch_up_or_discard(entry)) return entry->inline_history;
    if (!featurizer->featurizer->keeps_history()) return nullptr;
    MemoryContext history_context =
        AllocSetContextCreate(GetMemoryChunkContext(entry), "dendrite inline history", ALLOCSET_SMALL_SIZES);
    // The state of a replay that reads the history query as it comes lives in a context of its own, deleted
    // should the rows turn out not to be in time order (the replay then starts over, sorted).
    MemoryContext unsorted_context =
        AllocSetContextCreate(history_context, "dendrite inline history, unsorted", ALLOCSET_SMALL_SIZES);
    const int time_index = time_input(featurizer);
    engine::HistoryState* state = nullptr;
    engine_call([&] { state = featurizer->featurizer->new_history().release(); });
    own_in_context(time_index >= 0 ? unsorted_context : history_context, state);

    // Replay the history query in time order. Until the replay completes the state is not published, so
    // an error or a cancel leaves no half-built history behind (the object is freed with its context,
    // a child of the entry's, when the transaction's cleanup or the next attempt deletes it).
    MemoryContext replay_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite history replay", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(replay_context);
    const uint64 replay_started_at = shared_history_position();
    volatile bool complete = true;  // set inside PG_TRY, read after it
    PG_TRY();
    {
        connect_spi();
        struct Replay {
            RowBinding binding;
            const CachedFeaturizer* featurizer;
            engine::HistoryState* state;
            MemoryContext context;
            int time_index;
            TimeOrderedRead read;
            MemoryContext unsorted_context, history_context;
        } replay{{}, featurizer, state, replay_context, time_index, {}, unsorted_context, history_context};
        RowVisitor visitor{[](void* context, TupleDesc descriptor, double) {
                               auto* r = static_cast<Replay*>(context);
                               bind_row(&r->binding, r->featurizer, descriptor, r->context);
                               r->binding.never_missing = nullptr;  // the replay reads only the history's columns
                           },
                           [](void* context, TupleTableSlot* slot) {
                               auto* r = static_cast<Replay*>(context);
                               load_slot(&r->binding, slot);
                               if (r->time_index >= 0 && !r->read.admits(r->binding.raw[r->time_index])) return;
                               engine_call([&] { r->featurizer->featurizer->observe(r->binding.raw, r->state); });
                           },
                           &replay, &replay.read.stop};
        // Out of time order: the state observed so far goes, and the sorted read starts from a new one.
        auto start_over = [](void* context) {
            auto* r = static_cast<Replay*>(context);
            MemoryContextDelete(r->unsorted_context);
            engine_call([&] { r->state = r->featurizer->featurizer->new_history().release(); });
            own_in_context(r->history_context, r->state);
        };
        // The stored history query runs as the featurizer's owner, whoever scores or inserts.
        const QueryRights owner_rights{featurizer->query_owner, featurizer->search_path};
        with_stored_query_rights(OidIsValid(featurizer->query_owner) ? &owner_rights : nullptr, [&] {
            select_rows_in_time_order(featurizer->history_query, featurizer->time_column, "history query", visitor,
                                      &replay.read, time_index >= 0 ? +start_over : nullptr, &replay);
        });
        state = replay.state;
        // The rows other sessions committed that the replay's snapshot did not see; then the journal of the rows
        // this session will observe into it.
        complete = shared_history_after_replay(featurizer->featurizer_id, featurizer->name, state, replay_started_at,
                                               &entry->history_cursor);
        if (entry->history_cursor.shared) state->attach_journal(shared_history_journal(featurizer->featurizer_id));
        finish_spi();
    }
    PG_CATCH();
    {
        MemoryContextDelete(history_context);  // the half-built state goes now, not with the entry
        PG_RE_THROW();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(old);
    MemoryContextDelete(replay_context);
    entry->inline_history = state;
    entry->history_context = history_context;
    // Built inside a transaction that wrote: the replay may have seen that transaction's own rows.
    if (GetTopTransactionIdIfAny() != InvalidTransactionId) {
        track_transaction();
        entry->history_in_transaction = true;
    }
    if (!complete) {  // the shared ring did not hold all the replay needed: again with the next transaction's rows
        track_transaction();
        entry->rebuild_history_at_transaction_end = true;
    }
    return state;
}

}  // namespace dendrite::pg
