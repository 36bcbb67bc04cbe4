// Entity-history ("velocity") features, computed incrementally.
//
// For a row of entity e at time t, a window w of a declaration with delay d covers e's earlier events with
// time in (t - d - w, t - d], and, when d = 0, the row itself. Per entity, events are kept in time order
// for the longest window plus the delay only; each window holds running aggregates and two pointers (its
// first and one-past-last event) that only move forward, so observing a row costs amortised O(windows),
// never a scan of the entity's history. compute() reads the state without changing it; observe() adds the
// row. The offline pass (training, fitting, bulk scoring) is compute-then-observe for each row in time
// order; the inline path calls the same two functions, so both give the same numbers bit for bit.
//
// Events arriving out of time order for an entity are counted as if they happened at that entity's latest
// time. Entities are keyed by a 64-bit hash of their value.
#pragma once
#include "engine/engine_only.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/featurizer_spec.hpp"

namespace dendrite::engine {

struct HistoryEvent {
    bool valid = false;  // entity and time are not NULL
    uint64_t entity = 0;
    int64_t time_us = 0;
    double value = 0;                        // NaN when missing or when the declaration has no value column
    int8_t label = -1;                       // 0 / 1, or -1 when unknown
    uint64_t distinct_key = kNoDistinctKey;  // the distinct column's value (category_key), when it has one

    static constexpr uint64_t kNoDistinctKey = ~uint64_t(0);  // NULL, or no distinct column: not counted
};

// The events an inline state observed, kept for other backends to replay (src/pg/shared_history.hpp): while a
// journal is attached to a state, observe() appends each valid event to it, stamped with the journal's tag (the
// pg side's subtransaction, so that a rolled-back part can be dropped). Beyond limit events the journal gives
// up (overflowed, its events freed): the readers then rebuild their states instead of replaying. An entry (what)
// is an observed event (kObserved), the deletion of the row behind event (kDeleted, event as observed), or a
// relabelling: the label of the row behind event became what (0, 1, or -1: unknown).
struct JournaledEvent {
    static constexpr int8_t kObserved = -2, kDeleted = -3;
    uint32_t declaration;
    uint32_t tag;
    HistoryEvent event;
    int8_t what = kObserved;
};

// What an UPDATE of a row did to one declaration's event (before and after: the event of the old and of the new
// row): nothing; only its label changed (the state relabels it); or its entity, time, value or distinct key
// changed, or it became valid or invalid (the state cannot take an event back: the caller rebuilds it).
enum class EventChange { Unchanged, Relabelled, Moved };
EventChange event_change(const HistoryEvent& before, const HistoryEvent& after);

struct HistoryJournal {
    std::vector<JournaledEvent> events;
    size_t limit = 0;
    bool overflowed = false;
    std::atomic<uint32_t> tag{0};  // set by the backend's thread while a helper thread may be observing

    void record(size_t declaration, const HistoryEvent& event, int8_t what = JournaledEvent::kObserved);
    void give_up();  // overflowed: the readers rebuild (rows were deleted, or more came than the ring holds)
    void drop_from_tag(uint32_t first_dropped);  // the events tagged first_dropped or later
    void clear();                                // events and overflow, after publishing or an abort
    bool empty() const { return events.empty() && !overflowed; }
};

// A FIFO in one contiguous power-of-two ring. Indexing is one masked load where std::deque needs two
// dependent ones, and an empty ring allocates nothing (libstdc++'s deque allocates on construction): the
// state of an entity stays in few cache lines, which is what a trigger scoring one row at a time pays for.
template <typename T>
class Ring {
public:
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T& operator[](size_t i) const { return buffer_[(head_ + i) & mask_]; }
    const T& front() const { return buffer_[head_]; }
    const T& back() const { return (*this)[size_ - 1]; }
    T& operator[](size_t i) { return buffer_[(head_ + i) & mask_]; }
    void push_back(const T& value) {
        if (size_ == buffer_.size()) grow();
        buffer_[(head_ + size_) & mask_] = value;
        ++size_;
    }
    void pop_front() {
        head_ = (head_ + 1) & mask_;
        --size_;
    }
    void pop_back() { --size_; }

private:
    void grow() {
        std::vector<T> larger(buffer_.empty() ? 4 : buffer_.size() * 2);
        for (size_t i = 0; i < size_; ++i) larger[i] = (*this)[i];
        buffer_.swap(larger);
        head_ = 0;
        mask_ = buffer_.size() - 1;
    }
    std::vector<T> buffer_;
    size_t head_ = 0, size_ = 0, mask_ = 0;
};

class HistoryState {
public:
    explicit HistoryState(const std::vector<HistorySpec>& specs);
    ~HistoryState();
    HistoryState(const HistoryState&) = delete;
    HistoryState& operator=(const HistoryState&) = delete;

    static int output_count(const HistorySpec& spec);
    static std::vector<std::string> output_names(const HistorySpec& spec);

    // Raw aggregates of declaration h for the event (output_count(spec) doubles).
    void compute(size_t h, const HistoryEvent& event, double* out) const;
    // Asks for the cache line of entity key's table slot, for a compute() a little later (a hint only).
    void prefetch(size_t h, uint64_t key) const;
    void observe(size_t h, const HistoryEvent& event);
    // The label of a row observed earlier changed (its fraud confirmed after the fact): event is the row as it was
    // observed, new_label (0, 1, or -1: unknown) its label now. The item of the row's own time with its value,
    // label and distinct key (one kept later, having come after a later row of its entity, included) is
    // relabelled (among several alike, any: they count alike) and the windows that hold it recounted; a window it
    // has not entered yet counts the new label when it does, as the offline pass over today's rows would. A row
    // older than the latest time observed less the horizon has left every window a later row reads: nothing
    // changes. Journaled like observe(). Returns false when the state cannot tell what to relabel: no item of the
    // row's own time is alike, but one kept an hour or more later than its own is (the row, or another): the
    // caller rebuilds the state.
    [[nodiscard]] bool relabel(size_t h, const HistoryEvent& event, int8_t new_label);
    // A row observed earlier was deleted (event as observed). Returns whether the state is unaffected: it keeps no
    // item of the row (never observed, or no longer kept), or the row is older than the latest time observed less
    // the horizon (a retention purge). false: it may count the row, which cannot be taken out of its windows; the
    // caller rebuilds the state. Journaled (kDeleted), for each other state to ask itself.
    [[nodiscard]] bool row_deleted(size_t h, const HistoryEvent& event);
    // A journaled entry (false: see relabel, row_deleted).
    [[nodiscard]] bool replay(size_t h, const HistoryEvent& event, int8_t what) {
        if (what == JournaledEvent::kObserved) {
            observe(h, event);
            return true;
        }
        return what == JournaledEvent::kDeleted ? row_deleted(h, event) : relabel(h, event, what);
    }
    // While attached (not null), observe(), relabel() and row_deleted() also record each valid event in journal
    // (not owned).
    void attach_journal(HistoryJournal* journal) { journal_ = journal; }
    HistoryJournal* journal() const { return journal_; }

    size_t declarations() const { return declarations_.size(); }
    size_t entity_count() const;
    size_t event_count() const;

private:
    struct Item {
        int64_t time;  // the row's time, or its entity's latest then when it came out of order (later)
        double value;
        int8_t label;
        // How much later than its own time the row is kept (time less the row's), in microseconds; kFarLater
        // when an hour or more (it fits in the record's padding: relabel() finds a row by its own time).
        uint32_t kept_later;
        static constexpr uint32_t kFarLater = ~uint32_t(0);
    };
    static_assert(sizeof(Item) == 24, "an item's offset lives in its padding");
    struct Window {
        int64_t begin = 0, end = 0;  // sequence numbers: the window holds [begin, end)
        int64_t count = 0, valued = 0, labelled = 0, frauds = 0;
        double sum = 0, sum_squares = 0;
    };
    // An entity's record: this header, then its declaration's windows, then (only for a declaration with
    // 'max', 'min') one Ring of maxima, then one of minima, per window, and (with 'distinct') one Ring of
    // the items' distinct keys, in one allocation. The row path reads the header and the
    // windows of one entity per row with caches that the insert itself has just emptied: one record in
    // consecutive lines is one or two memory round trips where separate allocations were four or more.
    struct Entity {
        Ring<Item> items;
        int64_t first = 0;  // sequence number of items.front()
        int64_t latest = INT64_MIN;
        const Item& at(int64_t sequence) const { return items[size_t(sequence - first)]; }
        Item& at(int64_t sequence) { return items[size_t(sequence - first)]; }
        int64_t next() const { return first + int64_t(items.size()); }
        Window* windows() { return reinterpret_cast<Window*>(this + 1); }
        const Window* windows() const { return reinterpret_cast<const Window*>(this + 1); }
    };
    static_assert(sizeof(Entity) % alignof(Window) == 0 && sizeof(Window) % alignof(Ring<int64_t>) == 0,
                  "an entity's record is laid out without padding");

    // Per declaration: entities by key in an open-addressing table (linear probing, at most half full),
    // records in blocks that never move (so pointers to them stay valid as entities are added).
    struct Slot {
        uint64_t key;
        Entity* entity;  // null: empty
    };
    struct Declaration {
        size_t windows = 0;
        int64_t horizon = 0;  // the longest window plus the delay: what since_last reports at most
        bool keeps_maxima = false, keeps_minima = false, keeps_keys = false;
        size_t rings = 0;  // extremum rings per entity: windows times (keeps_maxima + keeps_minima)
        size_t record_bytes = 0;
        std::vector<Slot> slots;
        size_t entities = 0;
        std::vector<unsigned char*> blocks;
        size_t used_in_last_block = 0;
        // The entity compute() found last: observe() of the same row (the inline path is compute-then-
        // observe) skips a second lookup.
        uint64_t last_key = 0;
        Entity* last = nullptr;
    };
    Ring<int64_t>* extrema(const Declaration& d, Entity* entity) const {
        return reinterpret_cast<Ring<int64_t>*>(entity->windows() + d.windows);
    }
    // Per window, the sequence numbers of the items that can still become the window's maximum (values
    // decreasing) and minimum (values increasing).
    Ring<int64_t>* maxima(const Declaration& d, Entity* entity) const { return extrema(d, entity); }
    Ring<int64_t>* minima(const Declaration& d, Entity* entity) const {
        return extrema(d, entity) + (d.keeps_maxima ? d.windows : 0);
    }
    // With 'distinct': the distinct column's key of every kept item, in step with items.
    Ring<uint64_t>* distinct_keys(const Declaration& d, Entity* entity) const {
        return reinterpret_cast<Ring<uint64_t>*>(extrema(d, entity) + d.rings);
    }
    Entity* find_entity(size_t h, uint64_t key) const;
    // The sequence number of entity's item of the row behind event (its own time, value, label, distinct key);
    // kNotKept when none is alike, kUnknown when only items kept an hour or more after their own time are.
    static constexpr int64_t kNotKept = -1, kUnknown = -2;
    int64_t find_row(size_t h, const Entity* entity, const HistoryEvent& event) const;
    // Whether a row of event's time is older than the latest time observed less declaration h's horizon (with an
    // hour's margin for an item kept later than its own time): no window a later row reads holds it.
    bool before_every_window(size_t h, const HistoryEvent& event) const {
        return event.time_us <= latest_ - declarations_[h].horizon - int64_t(Item::kFarLater);
    }
    Entity* add_entity(size_t h, uint64_t key);
    static void place(std::vector<Slot>& slots, const Slot& slot);  // into the first free slot of its probe sequence

    std::vector<HistorySpec> specs_;
    mutable std::vector<Declaration> declarations_;
    // compute()'s: the keys of a window, sorted. compute() is const but not for concurrent calls on one
    // state (no caller makes them: a state is a backend's, or one pass's).
    mutable std::vector<uint64_t> distinct_scratch_;
    HistoryJournal* journal_ = nullptr;
    int64_t latest_ = INT64_MIN / 2;  // the latest time observed (halved: before_every_window subtracts from it)
};

// Observing without journaling for the life of the scope: rows that are not this backend's to publish (other
// backends' events being replayed, a dendrite.observe call).
class UnjournaledScope {
public:
    explicit UnjournaledScope(HistoryState* state) : state_(state), journal_(state->journal()) {
        state->attach_journal(nullptr);
    }
    ~UnjournaledScope() { state_->attach_journal(journal_); }
    UnjournaledScope(const UnjournaledScope&) = delete;
    UnjournaledScope& operator=(const UnjournaledScope&) = delete;

private:
    HistoryState* state_;
    HistoryJournal* journal_;
};

}  // namespace dendrite::engine
