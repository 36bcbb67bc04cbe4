#include "engine/history.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace dendrite::engine {

namespace {

struct Aggregate {
    int64_t count = 0, valued = 0, labelled = 0, frauds = 0;
    double sum = 0, sum_squares = 0;
    double max = -std::numeric_limits<double>::infinity();
    double min = std::numeric_limits<double>::infinity();
};

// A declaration's aggregates in output order, within each window (compute() writes them in this order).
constexpr std::pair<bool HistorySpec::*, const char*> kAggregates[] = {{&HistorySpec::count, "count"},
                                                                       {&HistorySpec::sum, "sum"},
                                                                       {&HistorySpec::mean, "mean"},
                                                                       {&HistorySpec::max, "max"},
                                                                       {&HistorySpec::min, "min"},
                                                                       {&HistorySpec::stddev, "stddev"},
                                                                       {&HistorySpec::ratio_to_mean, "ratio_to_mean"},
                                                                       {&HistorySpec::fraud_count, "fraud_count"},
                                                                       {&HistorySpec::fraud_rate, "fraud_rate"},
                                                                       {&HistorySpec::distinct, "distinct"}};

}  // namespace

namespace {

constexpr size_t kRecordsPerBlock = 64;
constexpr size_t kFirstSlots = 16;

// The table's bucket for an entity key (an FNV hash, whose low bits are weak for short inputs).
size_t bucket(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return size_t(key) & mask;
}

}  // namespace

void HistoryState::place(std::vector<Slot>& slots, const Slot& slot) {
    const size_t mask = slots.size() - 1;
    size_t i = bucket(slot.key, mask);
    while (slots[i].entity) i = (i + 1) & mask;
    slots[i] = slot;
}

HistoryState::HistoryState(const std::vector<HistorySpec>& specs) : specs_(specs), declarations_(specs.size()) {
    for (size_t h = 0; h < specs_.size(); ++h) {
        Declaration& d = declarations_[h];
        d.windows = specs_[h].windows_us.size();
        d.keeps_maxima = specs_[h].max;
        d.keeps_minima = specs_[h].min;
        d.keeps_keys = specs_[h].distinct;
        d.rings = d.windows * (size_t(d.keeps_maxima) + size_t(d.keeps_minima));
        for (int64_t window : specs_[h].windows_us) d.horizon = std::max(d.horizon, window);
        d.horizon += specs_[h].delay_us;
        d.record_bytes = sizeof(Entity) + d.windows * sizeof(Window) + d.rings * sizeof(Ring<int64_t>) +
                         (d.keeps_keys ? sizeof(Ring<uint64_t>) : 0);
        d.slots.assign(kFirstSlots, Slot{0, nullptr});
    }
}

HistoryState::~HistoryState() {
    for (Declaration& d : declarations_) {
        for (const Slot& slot : d.slots) {
            if (!slot.entity) continue;
            for (size_t r = 0; r < d.rings; ++r) extrema(d, slot.entity)[r].~Ring();
            if (d.keeps_keys) distinct_keys(d, slot.entity)->~Ring();
            slot.entity->~Entity();  // Window is trivially destructible
        }
        for (unsigned char* block : d.blocks) ::operator delete(block);
    }
}

HistoryState::Entity* HistoryState::find_entity(size_t h, uint64_t key) const {
    Declaration& d = declarations_[h];
    if (d.last && d.last_key == key) return d.last;
    const size_t mask = d.slots.size() - 1;
    for (size_t i = bucket(key, mask);; i = (i + 1) & mask) {
        const Slot& slot = d.slots[i];
        if (!slot.entity) return nullptr;
        if (slot.key == key) {
            d.last_key = key;
            d.last = slot.entity;
            return slot.entity;
        }
    }
}

void HistoryState::prefetch(size_t h, uint64_t key) const {
    const Declaration& d = declarations_[h];
    if (d.last && d.last_key == key) return;
    __builtin_prefetch(&d.slots[bucket(key, d.slots.size() - 1)]);
}

HistoryState::Entity* HistoryState::add_entity(size_t h, uint64_t key) {
    Declaration& d = declarations_[h];
    if (2 * (d.entities + 1) > d.slots.size()) {
        std::vector<Slot> larger(2 * d.slots.size(), Slot{0, nullptr});
        for (const Slot& slot : d.slots)
            if (slot.entity) place(larger, slot);
        d.slots.swap(larger);
    }
    if (d.blocks.empty() || d.used_in_last_block == kRecordsPerBlock) {
        d.blocks.reserve(d.blocks.size() + 1);  // so that push_back below cannot throw and leak the block
        d.blocks.push_back(static_cast<unsigned char*>(::operator new(d.record_bytes* kRecordsPerBlock)));
        d.used_in_last_block = 0;
    }
    auto* entity = new (d.blocks.back() + d.record_bytes * d.used_in_last_block++) Entity;
    for (size_t w = 0; w < d.windows; ++w) new (entity->windows() + w) Window;
    for (size_t r = 0; r < d.rings; ++r) new (extrema(d, entity) + r) Ring<int64_t>;
    if (d.keeps_keys) new (distinct_keys(d, entity)) Ring<uint64_t>;
    place(d.slots, Slot{key, entity});
    ++d.entities;
    d.last_key = key;
    d.last = entity;
    return entity;
}

int HistoryState::output_count(const HistorySpec& spec) {
    // Called per row by transform(): counted, never named.
    int per_window = 0;
    for (const auto& [enabled, name] : kAggregates) per_window += int(spec.*enabled);
    return per_window * int(spec.windows_us.size()) + int(spec.since_last);
}

std::vector<std::string> HistoryState::output_names(const HistorySpec& spec) {
    std::vector<std::string> names;
    for (const std::string& window : spec.window_names)
        for (const auto& [enabled, name] : kAggregates)
            if (spec.*enabled)
                names.push_back(spec.name + "_" + name +
                                (enabled == &HistorySpec::distinct ? "_" + spec.distinct_of : std::string()) + "_" +
                                window);
    if (spec.since_last) names.push_back(spec.name + "_hours_since_last");
    return names;
}

void HistoryState::compute(size_t h, const HistoryEvent& event, double* out) const {
    const HistorySpec& spec = specs_[h];
    Entity* entity = event.valid ? find_entity(h, event.entity) : nullptr;
    const int64_t now = entity ? std::max(event.time_us, entity->latest) : event.time_us;
    if (entity) {
        // The items at the windows' edges are where the loops below start, each a likely cache miss in a
        // trigger: ask for all of them at once rather than one window after the other.
        const int64_t next = entity->next();
        for (size_t w = 0; w < spec.windows_us.size(); ++w) {
            const Window& window = entity->windows()[w];
            if (window.begin < next) __builtin_prefetch(&entity->at(window.begin));
            if (window.end < next) __builtin_prefetch(&entity->at(window.end));
        }
    }
    const int64_t upper = now - spec.delay_us;
    const bool include_row = event.valid && spec.delay_us == 0;
    const bool row_valued = include_row && !std::isnan(event.value);

    size_t k = 0;
    for (size_t w = 0; w < spec.windows_us.size(); ++w) {
        Aggregate a;
        if (entity) {
            // Start from the stored window and move its pointers to this row's time, on copies.
            const Window& stored = entity->windows()[w];
            a.count = stored.count;
            a.valued = stored.valued;
            a.labelled = stored.labelled;
            a.frauds = stored.frauds;
            a.sum = stored.sum;
            a.sum_squares = stored.sum_squares;
            int64_t end = stored.end;
            const int64_t next = entity->next();
            double added_max = -std::numeric_limits<double>::infinity();
            double added_min = std::numeric_limits<double>::infinity();
            for (; end < next && entity->at(end).time <= upper; ++end) {
                const Item& item = entity->at(end);
                ++a.count;
                if (!std::isnan(item.value)) {
                    ++a.valued;
                    a.sum += item.value;
                    a.sum_squares += item.value * item.value;
                    added_max = std::max(added_max, item.value);
                    added_min = std::min(added_min, item.value);
                }
                if (item.label >= 0) {
                    ++a.labelled;
                    a.frauds += item.label;
                }
            }
            int64_t begin = stored.begin;
            const int64_t lower = upper - spec.windows_us[w];
            for (; begin < end && entity->at(begin).time <= lower; ++begin) {
                const Item& item = entity->at(begin);
                --a.count;
                if (!std::isnan(item.value)) {
                    --a.valued;
                    a.sum -= item.value;
                    a.sum_squares -= item.value * item.value;
                }
                if (item.label >= 0) {
                    --a.labelled;
                    a.frauds -= item.label;
                }
            }
            // The stored extrema rings are monotone: the first entry still inside is the stored part's
            // extremum. Items added above that were then dropped again never count.
            auto extremum = [&](const Ring<int64_t>& stored_extrema, double added, double initial, auto better) {
                double result = initial;
                for (size_t i = 0; i < stored_extrema.size(); ++i)
                    if (const int64_t sequence = stored_extrema[i]; sequence >= begin) {
                        result = entity->at(sequence).value;
                        break;
                    }
                if (begin <= stored.end)
                    result = better(result, added);
                else
                    for (int64_t s = begin; s < end; ++s)
                        if (!std::isnan(entity->at(s).value)) result = better(result, entity->at(s).value);
                return result;
            };
            if (spec.max)
                a.max = extremum(maxima(declarations_[h], entity)[w], added_max, a.max,
                                 [](double x, double y) { return std::max(x, y); });
            if (spec.min)
                a.min = extremum(minima(declarations_[h], entity)[w], added_min, a.min,
                                 [](double x, double y) { return std::min(x, y); });
            if (spec.distinct) {
                const Ring<uint64_t>& keys = *distinct_keys(declarations_[h], entity);
                distinct_scratch_.clear();
                for (int64_t s = begin; s < end; ++s)
                    if (const uint64_t key = keys[size_t(s - entity->first)]; key != HistoryEvent::kNoDistinctKey)
                        distinct_scratch_.push_back(key);
            }
        } else if (spec.distinct) {
            distinct_scratch_.clear();
        }
        if (include_row) {
            ++a.count;
            if (row_valued) {
                ++a.valued;
                a.sum += event.value;
                a.sum_squares += event.value * event.value;
                a.max = std::max(a.max, event.value);
                a.min = std::min(a.min, event.value);
            }
        }
        int64_t distinct = 0;
        if (spec.distinct) {
            if (include_row && event.distinct_key != HistoryEvent::kNoDistinctKey)
                distinct_scratch_.push_back(event.distinct_key);
            std::sort(distinct_scratch_.begin(), distinct_scratch_.end());
            distinct = std::unique(distinct_scratch_.begin(), distinct_scratch_.end()) - distinct_scratch_.begin();
        }
        const double mean = a.valued > 0 ? a.sum / double(a.valued) : 0.0;
        if (spec.count) out[k++] = double(a.count);
        if (spec.sum) out[k++] = a.valued > 0 ? a.sum : 0.0;
        if (spec.mean) out[k++] = mean;
        if (spec.max) out[k++] = a.valued > 0 ? a.max : 0.0;
        if (spec.min) out[k++] = a.valued > 0 ? a.min : 0.0;
        // Population standard deviation; the running sums can leave a tiny negative variance: none.
        if (spec.stddev)
            out[k++] = a.valued > 0 ? std::sqrt(std::max(0.0, a.sum_squares / double(a.valued) - mean * mean)) : 0.0;
        if (spec.ratio_to_mean)
            out[k++] = !std::isnan(event.value) && a.valued > 0 && mean != 0.0 ? event.value / mean : 1.0;
        if (spec.fraud_count) out[k++] = double(a.frauds);
        if (spec.fraud_rate) out[k++] = a.labelled > 0 ? double(a.frauds) / double(a.labelled) : 0.0;
        if (spec.distinct) out[k++] = double(distinct);
    }
    if (spec.since_last) {
        const int64_t horizon = declarations_[h].horizon;
        int64_t since = horizon;
        if (entity && entity->latest != INT64_MIN)
            since = std::min(horizon, std::max<int64_t>(0, event.time_us - entity->latest));
        out[k++] = double(since) / 3.6e9;  // hours
    }
}

void HistoryState::observe(size_t h, const HistoryEvent& event) {
    if (!event.valid) return;
    if (journal_) journal_->record(h, event);
    const HistorySpec& spec = specs_[h];
    Entity* found = find_entity(h, event.entity);
    Entity& entity = found ? *found : *add_entity(h, event.entity);
    const Declaration& d = declarations_[h];
    const int64_t now = std::max(event.time_us, entity.latest);
    entity.latest = now;
    latest_ = std::max(latest_, now);
    const int64_t later = now - event.time_us;
    entity.items.push_back(
        {now, event.value, event.label, later < int64_t(Item::kFarLater) ? uint32_t(later) : Item::kFarLater});
    if (d.keeps_keys) distinct_keys(d, &entity)->push_back(event.distinct_key);
    const int64_t upper = now - spec.delay_us;
    const int64_t next = entity.next();

    int64_t oldest_needed = next;
    for (size_t w = 0; w < spec.windows_us.size(); ++w) {
        Window& window = entity.windows()[w];
        Ring<int64_t>* window_maxima = d.keeps_maxima ? &maxima(d, &entity)[w] : nullptr;
        Ring<int64_t>* window_minima = d.keeps_minima ? &minima(d, &entity)[w] : nullptr;
        for (; window.end < next && entity.at(window.end).time <= upper; ++window.end) {
            const Item& item = entity.at(window.end);
            ++window.count;
            if (!std::isnan(item.value)) {
                ++window.valued;
                window.sum += item.value;
                window.sum_squares += item.value * item.value;
                if (window_maxima) {
                    while (!window_maxima->empty() && entity.at(window_maxima->back()).value <= item.value)
                        window_maxima->pop_back();
                    window_maxima->push_back(window.end);
                }
                if (window_minima) {
                    while (!window_minima->empty() && entity.at(window_minima->back()).value >= item.value)
                        window_minima->pop_back();
                    window_minima->push_back(window.end);
                }
            }
            if (item.label >= 0) {
                ++window.labelled;
                window.frauds += item.label;
            }
        }
        const int64_t lower = upper - spec.windows_us[w];
        for (; window.begin < window.end && entity.at(window.begin).time <= lower; ++window.begin) {
            const Item& item = entity.at(window.begin);
            --window.count;
            if (!std::isnan(item.value)) {
                --window.valued;
                window.sum -= item.value;
                window.sum_squares -= item.value * item.value;
            }
            if (item.label >= 0) {
                --window.labelled;
                window.frauds -= item.label;
            }
            if (window_maxima && !window_maxima->empty() && window_maxima->front() == window.begin)
                window_maxima->pop_front();
            if (window_minima && !window_minima->empty() && window_minima->front() == window.begin)
                window_minima->pop_front();
        }
        oldest_needed = std::min(oldest_needed, window.begin);
    }
    Ring<uint64_t>* keys = d.keeps_keys ? distinct_keys(d, &entity) : nullptr;
    while (entity.first < oldest_needed) {
        entity.items.pop_front();
        if (keys) keys->pop_front();
        ++entity.first;
    }
}

namespace {

// Values compared as stored: NaN (no value) equals NaN, and -0 is not 0.
bool same_value(double a, double b) { return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

EventChange event_change(const HistoryEvent& before, const HistoryEvent& after) {
    if (!before.valid && !after.valid) return EventChange::Unchanged;
    if (before.valid != after.valid || before.entity != after.entity || before.time_us != after.time_us ||
        !same_value(before.value, after.value) || before.distinct_key != after.distinct_key)
        return EventChange::Moved;
    return before.label == after.label ? EventChange::Unchanged : EventChange::Relabelled;
}

int64_t HistoryState::find_row(size_t h, const Entity* entity, const HistoryEvent& event) const {
    const Declaration& d = declarations_[h];
    const Ring<uint64_t>* keys = d.keeps_keys ? distinct_keys(d, const_cast<Entity*>(entity)) : nullptr;
    const auto alike = [&](int64_t s) {
        const Item& item = entity->at(s);
        return item.label == event.label && same_value(item.value, event.value) &&
               (!keys || (*keys)[size_t(s - entity->first)] == event.distinct_key);
    };
    // Items are in time order: the first of the row's time by bisection.
    int64_t low = entity->first, high = entity->next();
    while (low < high) {
        const int64_t middle = low + (high - low) / 2;
        if (entity->at(middle).time < event.time_us)
            low = middle + 1;
        else
            high = middle;
    }
    // Then the items of the row's own time: kept at it, or up to an hour later.
    for (int64_t s = low; s < entity->next() && entity->at(s).time - event.time_us < int64_t(Item::kFarLater); ++s) {
        const Item& item = entity->at(s);
        if (item.kept_later != Item::kFarLater && item.time - int64_t(item.kept_later) == event.time_us && alike(s))
            return s;
    }
    for (int64_t s = low; s < entity->next(); ++s)
        if (entity->at(s).kept_later == Item::kFarLater && alike(s)) return kUnknown;  // it, or another
    return kNotKept;
}

bool HistoryState::relabel(size_t h, const HistoryEvent& event, int8_t new_label) {
    if (!event.valid || event.label == new_label) return true;
    if (journal_) journal_->record(h, event, new_label);
    Entity* entity = find_entity(h, event.entity);
    if (!entity || before_every_window(h, event)) return true;
    const int64_t found = find_row(h, entity, event);
    if (found == kUnknown) return false;
    if (found == kNotKept) return true;  // never observed, or no longer kept
    Item& item = entity->at(found);
    for (size_t w = 0; w < declarations_[h].windows; ++w) {
        Window& window = entity->windows()[w];
        if (found < window.begin || found >= window.end) continue;
        if (item.label >= 0) {
            --window.labelled;
            window.frauds -= item.label;
        }
        if (new_label >= 0) {
            ++window.labelled;
            window.frauds += new_label;
        }
    }
    item.label = new_label;
    return true;
}

bool HistoryState::row_deleted(size_t h, const HistoryEvent& event) {
    if (!event.valid) return true;
    if (journal_) journal_->record(h, event, JournaledEvent::kDeleted);
    const Entity* entity = find_entity(h, event.entity);
    return !entity || before_every_window(h, event) || find_row(h, entity, event) == kNotKept;
}

size_t HistoryState::entity_count() const {
    size_t n = 0;
    for (const Declaration& d : declarations_) n += d.entities;
    return n;
}

size_t HistoryState::event_count() const {
    size_t n = 0;
    for (const Declaration& d : declarations_)
        for (const Slot& slot : d.slots)
            if (slot.entity) n += slot.entity->items.size();
    return n;
}

void HistoryJournal::record(size_t declaration, const HistoryEvent& event, int8_t what) {
    if (overflowed) return;
    if (events.size() >= limit) {
        give_up();
        return;
    }
    events.push_back({uint32_t(declaration), tag.load(std::memory_order_relaxed), event, what});
}

void HistoryJournal::give_up() {
    overflowed = true;
    std::vector<JournaledEvent>().swap(events);
}

void HistoryJournal::drop_from_tag(uint32_t first_dropped) {
    events.erase(std::remove_if(events.begin(), events.end(),
                                [first_dropped](const JournaledEvent& e) { return e.tag >= first_dropped; }),
                 events.end());
}

void HistoryJournal::clear() {
    if (events.capacity() > 4096)
        std::vector<JournaledEvent>().swap(events);  // a bulk load's journal is not kept for the next one
    else
        events.clear();
    overflowed = false;
}

}  // namespace dendrite::engine
