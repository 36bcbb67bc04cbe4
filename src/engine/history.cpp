#include "engine/history.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace dendrite::engine {

namespace {

struct Aggregate {
    int64_t count = 0, valued = 0, labelled = 0, frauds = 0;
    double sum = 0;
    double max = -std::numeric_limits<double>::infinity();
};

// A declaration's aggregates in output order, within each window (compute() writes them in this order).
constexpr std::pair<bool HistorySpec::*, const char*> kAggregates[] = {
    {&HistorySpec::count, "count"},
    {&HistorySpec::sum, "sum"},
    {&HistorySpec::mean, "mean"},
    {&HistorySpec::max, "max"},
    {&HistorySpec::ratio_to_mean, "ratio_to_mean"},
    {&HistorySpec::fraud_count, "fraud_count"},
    {&HistorySpec::fraud_rate, "fraud_rate"}};

}  // namespace

HistoryState::HistoryState(const std::vector<HistorySpec>& specs)
    : specs_(specs), entities_(specs.size()), last_(specs.size()) {}

HistoryState::Entity* HistoryState::find_entity(size_t h, uint64_t key) const {
    LastLookup& last = last_[h];
    if (last.entity && last.key == key) return last.entity;
    auto found = entities_[h].find(key);
    if (found == entities_[h].end()) return nullptr;
    last = {key, &found->second};
    return last.entity;
}

int HistoryState::output_count(const HistorySpec& spec) {
    // Called per row by transform(): counted, never named.
    int per_window = 0;
    for (const auto& [enabled, name] : kAggregates) per_window += int(spec.*enabled);
    return per_window * int(spec.windows_us.size());
}

std::vector<std::string> HistoryState::output_names(const HistorySpec& spec) {
    std::vector<std::string> names;
    for (const std::string& window : spec.window_names)
        for (const auto& [enabled, name] : kAggregates)
            if (spec.*enabled) names.push_back(spec.name + "_" + name + "_" + window);
    return names;
}

void HistoryState::compute(size_t h, const HistoryEvent& event, double* out) const {
    const HistorySpec& spec = specs_[h];
    const Entity* entity = event.valid ? find_entity(h, event.entity) : nullptr;
    const int64_t now = entity ? std::max(event.time_us, entity->latest) : event.time_us;
    const int64_t upper = now - spec.delay_us;
    const bool include_row = event.valid && spec.delay_us == 0;
    const bool row_valued = include_row && !std::isnan(event.value);

    size_t k = 0;
    for (size_t w = 0; w < spec.windows_us.size(); ++w) {
        Aggregate a;
        if (entity) {
            // Start from the stored window and move its pointers to this row's time, on copies.
            const Window& stored = entity->windows[w];
            a.count = stored.count;
            a.valued = stored.valued;
            a.labelled = stored.labelled;
            a.frauds = stored.frauds;
            a.sum = stored.sum;
            int64_t end = stored.end;
            const int64_t next = entity->next();
            double added_max = -std::numeric_limits<double>::infinity();
            for (; end < next && entity->at(end).time <= upper; ++end) {
                const Item& item = entity->at(end);
                ++a.count;
                if (!std::isnan(item.value)) {
                    ++a.valued;
                    a.sum += item.value;
                    added_max = std::max(added_max, item.value);
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
                }
                if (item.label >= 0) {
                    --a.labelled;
                    a.frauds -= item.label;
                }
            }
            if (spec.max) {
                // The stored maxima are decreasing: the first one still inside is the stored part's maximum.
                for (size_t i = 0; i < stored.maxima.size(); ++i)
                    if (const int64_t sequence = stored.maxima[i]; sequence >= begin) {
                        a.max = entity->at(sequence).value;
                        break;
                    }
                // Items added above that were then dropped again never count.
                if (begin <= stored.end) a.max = std::max(a.max, added_max);
                else
                    for (int64_t s = begin; s < end; ++s)
                        if (!std::isnan(entity->at(s).value)) a.max = std::max(a.max, entity->at(s).value);
            }
        }
        if (include_row) {
            ++a.count;
            if (row_valued) {
                ++a.valued;
                a.sum += event.value;
                a.max = std::max(a.max, event.value);
            }
        }
        const double mean = a.valued > 0 ? a.sum / double(a.valued) : 0.0;
        if (spec.count) out[k++] = double(a.count);
        if (spec.sum) out[k++] = a.valued > 0 ? a.sum : 0.0;
        if (spec.mean) out[k++] = mean;
        if (spec.max) out[k++] = a.valued > 0 ? a.max : 0.0;
        if (spec.ratio_to_mean)
            out[k++] = !std::isnan(event.value) && a.valued > 0 && mean != 0.0 ? event.value / mean : 1.0;
        if (spec.fraud_count) out[k++] = double(a.frauds);
        if (spec.fraud_rate) out[k++] = a.labelled > 0 ? double(a.frauds) / double(a.labelled) : 0.0;
    }
}

void HistoryState::observe(size_t h, const HistoryEvent& event) {
    if (!event.valid) return;
    const HistorySpec& spec = specs_[h];
    Entity* cached = find_entity(h, event.entity);
    Entity& entity = cached ? *cached : entities_[h][event.entity];
    if (entity.windows.empty()) entity.windows.resize(spec.windows_us.size());
    const int64_t now = std::max(event.time_us, entity.latest);
    entity.latest = now;
    entity.items.push_back({now, event.value, event.label});
    const int64_t upper = now - spec.delay_us;
    const int64_t next = entity.next();

    int64_t oldest_needed = next;
    for (size_t w = 0; w < spec.windows_us.size(); ++w) {
        Window& window = entity.windows[w];
        for (; window.end < next && entity.at(window.end).time <= upper; ++window.end) {
            const Item& item = entity.at(window.end);
            ++window.count;
            if (!std::isnan(item.value)) {
                ++window.valued;
                window.sum += item.value;
                while (!window.maxima.empty() && entity.at(window.maxima.back()).value <= item.value) window.maxima.pop_back();
                window.maxima.push_back(window.end);
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
            }
            if (item.label >= 0) {
                --window.labelled;
                window.frauds -= item.label;
            }
            if (!window.maxima.empty() && window.maxima.front() == window.begin) window.maxima.pop_front();
        }
        oldest_needed = std::min(oldest_needed, window.begin);
    }
    while (entity.first < oldest_needed) {
        entity.items.pop_front();
        ++entity.first;
    }
}

size_t HistoryState::entity_count() const {
    size_t n = 0;
    for (const auto& map : entities_) n += map.size();
    return n;
}

size_t HistoryState::event_count() const {
    size_t n = 0;
    for (const auto& map : entities_)
        for (const auto& entry : map) n += entry.second.items.size();
    return n;
}

}  // namespace dendrite::engine
