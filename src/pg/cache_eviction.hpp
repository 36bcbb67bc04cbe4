// What the per-backend caches of versions (model_cache) and featurizers (featurizer_cache) share: pins held
// by fn_extra states, and the eviction of entries that nothing can point to. An Entry has `bool stale`, `int pins`,
// `LocalTransactionId last_used`, `MemoryContext context` (owning it) and `Entry* next`; lists are newest
// first. The rules are in model_cache.hpp.
#pragma once

#include "pg/catalog.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// Pins that one fn_extra state holds, each entry at most once, so that a call site alternating between a
// few models does not pin on every row.
struct StatePins {
    const void* entries[8];
    int count;
    // True when entry still needs a pin from this state (and records it).
    bool first_time(const void* entry) {
        for (int i = 0; i < count; ++i)
            if (entries[i] == entry) return false;
        if (count < 8) entries[count++] = entry;
        return true;
    }
};

template <typename Entry>
void release_pin(void* entry) {
    static_cast<Entry*>(entry)->pins--;
}

// Pins entry for the life of holder (released by a reset callback on it); holder NULL: until the caller
// decrements pins itself.
template <typename Entry>
void pin_entry(const Entry* pinned, MemoryContext holder) {
    auto* entry = const_cast<Entry*>(pinned);
    if (holder) {
        auto* callback = static_cast<MemoryContextCallback*>(MemoryContextAlloc(holder, sizeof(MemoryContextCallback)));
        callback->func = release_pin<Entry>;
        callback->arg = entry;
        MemoryContextRegisterResetCallback(holder, callback);
    }
    entry->pins++;
}

template <typename Entry>
void mark_used(const Entry* used) {
    const_cast<Entry*>(used)->last_used = current_local_transaction();
}

// Unlinks the stale entries (their rows were edited) and the oldest beyond limit that are not keep, not
// pinned and not used by the current transaction; before_delete(entry) runs for each, then its context is
// deleted. Returns whether any went.
template <typename Entry, typename BeforeDelete>
bool evict_unused(Entry** head, const Entry* keep, int limit, BeforeDelete before_delete) {
    const LocalTransactionId now = current_local_transaction();
    bool evicted = false;
    for (Entry** link = head; *link;) {
        Entry* entry = *link;
        if (entry->stale && entry != keep && entry->pins == 0 && entry->last_used != now) {
            *link = entry->next;
            before_delete(entry);
            MemoryContextDelete(entry->context);
            evicted = true;
            continue;
        }
        link = &entry->next;
    }
    int count = 0;
    for (Entry* entry = *head; entry; entry = entry->next) ++count;
    while (count > limit) {
        Entry** victim = nullptr;  // the last evictable link: the list is newest first
        for (Entry** link = head; *link; link = &(*link)->next)
            if (*link != keep && (*link)->pins == 0 && (*link)->last_used != now) victim = link;
        if (!victim) break;
        Entry* entry = *victim;
        *victim = entry->next;
        before_delete(entry);
        MemoryContextDelete(entry->context);
        evicted = true;
        --count;
    }
    return evicted;
}

}  // namespace dendrite::pg
