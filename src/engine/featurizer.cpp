#include "engine/featurizer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/error.hpp"
#include "engine/model.hpp"

namespace dendrite::engine {

namespace {

constexpr int kTimestampOutputs = 6;  // hour sin/cos, weekday sin/cos, weekend, night
constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;

uint64_t fnv1a(const uint8_t* bytes, size_t length, uint64_t hash = 0xcbf29ce484222325ULL) {
    for (size_t i = 0; i < length; ++i) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

// Spreads the bits of an FNV hash (whose low bits are weak for short inputs) before taking a bucket.
uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

double label_value(const RawValue& v) { return v.type == RawValue::Type::Number ? v.number : NAN; }

bool is_private_ipv4(const uint8_t* a) {
    return a[0] == 10 || (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xC0) == 64);
}
bool is_reserved_ipv4(const uint8_t* a) {
    return a[0] == 0 || a[0] == 127 || (a[0] == 169 && a[1] == 254) || a[0] >= 224;
}
bool is_private_ipv6(const uint8_t* a) { return (a[0] & 0xFE) == 0xFC; }
bool is_reserved_ipv6(const uint8_t* a) {
    bool zero_prefix = true;
    for (int i = 0; i < 15; ++i) zero_prefix &= a[i] == 0;
    return zero_prefix || a[0] == 0xFF || (a[0] == 0xFE && (a[1] & 0xC0) == 0x80);
}

}  // namespace

uint64_t category_key(const char* text, size_t length) { return fnv1a(reinterpret_cast<const uint8_t*>(text), length); }

uint64_t category_key(const RawValue& value) {
    switch (value.type) {
        case RawValue::Type::Text:
            return category_key(value.text, value.length);
        case RawValue::Type::Number: {
            // The decimal text of the number, so that 42 and '42' are one category; integers (ids, the
            // common case) take the fast path.
            char buffer[32];
            if (value.exact_integer) {
                const auto end =
                    std::to_chars(buffer, buffer + sizeof buffer, static_cast<long long>(value.integer)).ptr;
                return category_key(buffer, size_t(end - buffer));
            }
            const double x = value.number;
            if (std::floor(x) == x && std::fabs(x) < 1e15) {
                const auto end = std::to_chars(buffer, buffer + sizeof buffer, static_cast<long long>(x)).ptr;
                return category_key(buffer, size_t(end - buffer));
            }
            const int n = std::snprintf(buffer, sizeof buffer, "%.17g", x);
            return category_key(buffer, size_t(n));
        }
        case RawValue::Type::Inet:
            return fnv1a(value.inet, value.inet_v6 ? 16 : 4, 0x84222325cbf29ce4ULL);
        case RawValue::Type::Time:
            return mix(uint64_t(value.time_us));
        case RawValue::Type::Null:
            return 0;
    }
    return 0;
}

int FittedColumn::outputs() const {
    int n = 0;
    switch (spec.kind) {
        case ColumnKind::Numeric:
        case ColumnKind::Boolean:
            n = 1;
            break;
        case ColumnKind::Categorical:
            n = spec.encoding == CategoricalEncoding::OneHot ? int(categories.size()) + 1 : 1;
            break;
        case ColumnKind::Timestamp:
            n = kTimestampOutputs;
            break;
        case ColumnKind::Inet:
            n = 2 * spec.buckets + 3;
            break;
        case ColumnKind::Ignore:
            n = 0;
            break;
    }
    return n + (missing_indicator ? 1 : 0);
}

Featurizer::Featurizer(FeaturizerSpec spec, std::vector<FittedColumn> columns, std::vector<FittedHistoryOutput> history)
    : spec_(std::move(spec)), columns_(std::move(columns)), history_(std::move(history)) {
    inputs_ = spec_.inputs();
    auto input = [&](const std::string& name) -> int {
        if (name.empty()) return -1;
        return int(std::find(inputs_.begin(), inputs_.end(), name) - inputs_.begin());
    };
    for (const auto& column : columns_) column_input_.push_back(input(column.spec.name));
    optional_inputs_.assign(inputs_.size(), true);
    for (const auto& column : columns_) optional_inputs_[size_t(input(column.spec.name))] = false;
    for (const auto& column : columns_) {
        const bool one_hot = column.spec.encoding == CategoricalEncoding::OneHot;
        const bool index = column.spec.encoding == CategoricalEncoding::Index;
        closed_vocabulary_.push_back(column.spec.kind == ColumnKind::Categorical &&
                                     ((one_hot && column.categories.size() < size_t(column.spec.top_k)) ||
                                      (index && column.categories.size() < size_t(column.spec.max_categories))));
    }
    never_missing_inputs_.assign(inputs_.size(), false);
    for (const auto& column : columns_)
        if (column.spec.kind != ColumnKind::Ignore && column.spec.missing_indicator == MissingIndicator::Auto &&
            !column.missing_indicator)
            never_missing_inputs_[size_t(input(column.spec.name))] = true;
    for (const auto& h : spec_.all_history())
        for (const std::string* name : {&h.entity, &h.time, &h.value})
            if (!name->empty()) optional_inputs_[size_t(input(*name))] = false;
    // The declarations the state keeps: this featurizer's, then each anomaly model's not kept already (one
    // the same but for its name shares the slot: observed once per row, and the same numbers).
    all_history_ = spec_.history;
    for (const auto& a : spec_.anomaly) {
        AnomalyModel model;
        for (const auto& h : a.history) {
            size_t slot = 0;
            while (slot < all_history_.size() && !same_state(all_history_[slot], h)) ++slot;
            if (slot == all_history_.size()) all_history_.push_back(h);
            model.history_slots.push_back(slot);
        }
        for (const auto& name : a.inputs) {
            model.inputs.push_back(input(name));
            optional_inputs_[size_t(model.inputs.back())] = false;
        }
        anomaly_.push_back(model);
    }
    for (const auto& h : all_history_)
        history_inputs_.push_back(
            {input(h.entity), input(h.time), input(h.value), input(h.label), input(h.distinct_of)});
    label_only_inputs_.assign(inputs_.size(), false);
    if (const int label = input(spec_.label); label >= 0) label_only_inputs_[size_t(label)] = true;
    for (const auto& in : history_inputs_)
        if (in.label >= 0) label_only_inputs_[size_t(in.label)] = true;
    for (const auto& column : columns_) label_only_inputs_[size_t(input(column.spec.name))] = false;
    for (const auto& in : history_inputs_)
        for (const int i : {in.entity, in.time, in.value, in.distinct})
            if (i >= 0) label_only_inputs_[size_t(i)] = false;
    for (const auto& model : anomaly_)
        for (const int i : model.inputs) label_only_inputs_[size_t(i)] = false;

    category_index_.resize(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
        const auto& categories = columns_[c].categories;
        for (size_t i = 0; i < categories.size(); ++i)
            category_index_[c].emplace(category_key(categories[i].data(), categories[i].size()), int(i));
        // A char(n) value is read without its trailing blanks (as PostgreSQL compares it), but a featurizer fitted
        // before 0.6.0 on a char(n) column stored its categories padded ("FR "): the unpadded text finds such a
        // category too, unless it is a category of its own (emplace keeps the first).
        for (size_t i = 0; i < categories.size(); ++i) {
            size_t length = categories[i].size();
            while (length > 0 && categories[i][length - 1] == ' ') --length;
            if (length < categories[i].size())
                category_index_[c].emplace(category_key(categories[i].data(), length), int(i));
        }
    }

    for (const auto& column : columns_) {
        const std::string& n = column.spec.name;
        auto add = [&](const std::string& name) {
            output_names_.push_back(name);
            output_sources_.push_back(n);
        };
        switch (column.spec.kind) {
            case ColumnKind::Numeric:
            case ColumnKind::Boolean:
                add(n);
                break;
            case ColumnKind::Categorical:
                if (column.spec.encoding == CategoricalEncoding::OneHot) {
                    for (const auto& category : column.categories) add(n + "=" + category);
                    add(n + "=__other__");
                } else {
                    add(n + (column.spec.encoding == CategoricalEncoding::Frequency ? "_frequency"
                             : column.spec.encoding == CategoricalEncoding::Target  ? "_target"
                                                                                    : "_index"));
                    if (column.spec.encoding == CategoricalEncoding::Index)
                        index_outputs_.push_back({int(output_names_.size()) - 1, int(column.categories.size()) + 1});
                }
                break;
            case ColumnKind::Timestamp:
                for (const char* suffix :
                     {"_hour_sin", "_hour_cos", "_weekday_sin", "_weekday_cos", "_weekend", "_night"})
                    add(n + suffix);
                break;
            case ColumnKind::Inet:
                for (int b = 0; b < column.spec.buckets; ++b) add(n + "_net_" + std::to_string(b));
                for (int b = 0; b < column.spec.buckets; ++b) add(n + "_wide_net_" + std::to_string(b));
                add(n + "_private");
                add(n + "_reserved");
                add(n + "_ipv6");
                break;
            case ColumnKind::Ignore:
                break;
        }
        if (column.missing_indicator) add(n + "_missing");
    }
    first_anomaly_output_ = int(output_names_.size());
    numbers_only_ = all_history_.empty() && spec_.anomaly.empty();
    for (size_t c = 0; c < columns_.size() && numbers_only_; ++c) {
        const FittedColumn& column = columns_[c];
        const bool boolean = column.spec.kind == ColumnKind::Boolean;
        if ((column.spec.kind != ColumnKind::Numeric || column.spec.clip) && !boolean) numbers_only_ = false;
        numbers_.push_back(
            {column_input_[c], boolean, column.missing_indicator, column.spec.transform, column.center, column.scale});
    }
    if (!numbers_only_) numbers_.clear();
    for (const auto& a : spec_.anomaly) {
        output_names_.push_back(a.name);
        output_sources_.push_back(a.name);
    }
    for (const auto& h : spec_.history)
        for (const auto& name : HistoryState::output_names(h)) {
            output_names_.push_back(name);
            output_sources_.push_back("history:" + h.name);
            ++history_raw_count_;
        }
    first_history_output_ = int(output_names_.size()) - history_raw_count_;
    if (!history_.empty() && int(history_.size()) != history_raw_count_)
        fail(ErrorKind::Data, "the featurizer's history statistics do not match its declarations");
    if (history_.empty()) history_.resize(size_t(history_raw_count_));
}

void Featurizer::overflowed_feature(const std::string& feature, double x) const {
    if (spec_.nonfinite_as_missing) return;
    char value[32];
    std::snprintf(value, sizeof value, "%.6g", x);
    fail(ErrorKind::Data, "feature \"" + feature + "\" is not finite (from the value " + value + ")",
         "The value is outside what the featurizer can represent as a 32-bit float after standardization.",
         "Filter such rows out, or create the featurizer with nonfinite => 'missing' to impute them.");
}

double Featurizer::nonfinite_input(const FittedColumn& column, double x, bool* missing) const {
    if (spec_.nonfinite_as_missing) {
        *missing = true;
        return 0;
    }
    fail(ErrorKind::Data, "column \"" + column.spec.name + "\" is " + (std::isnan(x) ? "NaN" : "infinite"), {},
         "Filter such rows out, replace the value with NULL, or create the featurizer with nonfinite => 'missing'.");
}

void Featurizer::infinite_time(const std::string& column) const {
    if (spec_.nonfinite_as_missing) return;
    fail(ErrorKind::Data, "column \"" + column + "\" is an infinite time",
         "'infinity' and '-infinity' (and times beyond the year 294,000) are no point on the clock: no hour, no "
         "weekday, no place in a history window.",
         "Filter such rows out, replace the value with NULL, or create the featurizer with nonfinite => 'missing'.");
}

namespace {
const double kUniformScale = std::sqrt(12.0);  // the standard deviation of a uniform 0..1 variable is 1/sqrt(12)
}

double Featurizer::anomaly_score_of_output(float output) { return double(output) / kUniformScale + 0.5; }

void Featurizer::attach_anomaly_model(size_t a, const Featurizer* featurizer, const ModelView* model) {
    const AnomalySpec& declaration = spec_.anomaly.at(a);
    const std::string what = "the autoencoder \"" + declaration.model + "\" (version " +
                             std::to_string(declaration.version) + ") of anomaly feature \"" + declaration.name + "\"";
    if (featurizer->inputs() != declaration.inputs)
        fail(ErrorKind::Data, what + " reads other columns than the featurizer was fitted with");
    if (!featurizer->spec().anomaly.empty() || !featurizer->spec().derived.empty())
        fail(ErrorKind::Data, what + " has derived columns or anomaly features of its own");
    const auto& history = featurizer->spec().history;
    bool same_history = history.size() == declaration.history.size();
    for (size_t h = 0; same_history && h < history.size(); ++h)
        same_history = same_declaration(history[h], declaration.history[h]);
    if (!same_history) fail(ErrorKind::Data, what + " keeps other history than the featurizer was fitted with");
    if (model->kind != ModelView::Kind::Autoencoder || model->network.inputs != featurizer->output_count())
        fail(ErrorKind::Data, what + " is not an autoencoder over its featurizer's outputs");
    anomaly_[a].featurizer = featurizer;
    anomaly_[a].model = model;
    anomaly_[a].scratch_floats = model_scratch_floats(*model);
}

void Featurizer::anomaly_outputs(const RawValue* inputs, const HistoryState* history, float* out) const {
    // Per thread: the query pass and training featurize rows on several threads.
    thread_local std::vector<RawValue> raw;
    thread_local std::vector<float> features, scratch;
    for (size_t a = 0; a < anomaly_.size(); ++a) {
        const AnomalyModel& m = anomaly_[a];
        if (!m.model)
            fail(ErrorKind::Internal, "anomaly feature \"" + spec_.anomaly[a].name + "\" has no model attached");
        raw.resize(m.inputs.size());
        for (size_t i = 0; i < m.inputs.size(); ++i) raw[i] = inputs[m.inputs[i]];
        features.resize(size_t(m.featurizer->output_count()));
        scratch.resize(size_t(m.scratch_floats));
        m.featurizer->transform(raw.data(), history, &m.history_slots, features.data());
        out[a] = float((double(score_one(*m.model, features.data(), scratch.data())) - 0.5) * kUniformScale);
    }
}

HistoryEvent Featurizer::history_event(size_t h, const RawValue* inputs) const {
    const HistoryInputs& in = history_inputs_[h];
    HistoryEvent event;
    const RawValue& entity = inputs[in.entity];
    const RawValue& time = inputs[in.time];
    event.valid = !entity.is_null() && time.type == RawValue::Type::Time;
    if (event.valid && time.is_infinite_time()) {
        infinite_time(all_history_[h].time);  // or, per the spec, a missing time
        event.valid = false;
    }
    if (!event.valid) return event;
    event.entity = category_key(entity);
    event.time_us = time.time_us;
    event.value = NAN;
    if (in.value >= 0 && inputs[in.value].type == RawValue::Type::Number) {
        event.value = inputs[in.value].number;
        if (!std::isfinite(event.value)) {
            if (!spec_.nonfinite_as_missing)
                fail(ErrorKind::Data,
                     "column \"" + all_history_[h].value + "\" is " + (std::isnan(event.value) ? "NaN" : "infinite"));
            event.value = NAN;
        }
    }
    if (in.label >= 0) {
        const double label = label_value(inputs[in.label]);
        event.label = label == 1.0 ? 1 : label == 0.0 ? 0 : -1;
    }
    if (in.distinct >= 0 && !inputs[in.distinct].is_null()) event.distinct_key = category_key(inputs[in.distinct]);
    return event;
}

void Featurizer::transform(const RawValue* inputs, const HistoryState* history, float* out) const {
    transform(inputs, history, nullptr, out);
}

void Featurizer::transform(const RawValue* inputs, const HistoryState* history,
                           const std::vector<size_t>* history_slots, float* out) const {
    auto slot = [history_slots](size_t h) { return history_slots ? (*history_slots)[h] : h; };
    // The entities' table slots are usually cache misses in a trigger: ask for them now, so that they
    // arrive while the columns below are computed.
    if (history)
        for (size_t h = 0; h < spec_.history.size(); ++h)
            if (const RawValue& entity = inputs[history_inputs_[h].entity]; !entity.is_null())
                history->prefetch(slot(h), category_key(entity));
    float* o = out;
    for (size_t c = 0; c < columns_.size(); ++c) {
        const FittedColumn& column = columns_[c];
        const RawValue& value = inputs[column_input_[c]];
        bool missing = value.is_null();
        switch (column.spec.kind) {
            case ColumnKind::Numeric: {
                double x = numeric_input(column, value, &missing);
                if (missing) {
                    *o++ = float(column.impute);
                    break;
                }
                if (column.spec.clip) x = std::clamp(x, column.spec.clip_low, column.spec.clip_high);
                const float feature =
                    float((numeric_transform(column.spec.transform, x) - column.center) / column.scale);
                // A finite input can still overflow its feature (1e300 standardized is infinite as a float):
                // the model never saw such a value, so the nonfinite policy decides, as for an infinite input.
                if (!std::isfinite(feature)) {
                    overflowed_feature(column.spec.name, x);
                    missing = true;
                    *o++ = float(column.impute);
                    break;
                }
                *o++ = feature;
                break;
            }
            case ColumnKind::Boolean: {
                double x = numeric_input(column, value, &missing);
                *o++ = missing ? float(column.impute) : (x != 0 ? 1.0f : 0.0f);
                break;
            }
            case ColumnKind::Categorical: {
                int index = -1;
                if (!missing) {
                    if (value.type == RawValue::Type::Number && !std::isfinite(value.number)) {
                        bool ignored;
                        numeric_input(column, value, &ignored);  // raises unless treated as missing
                        missing = true;
                    } else {
                        auto it = category_index_[c].find(category_key(value));
                        if (it != category_index_[c].end()) {
                            index = it->second;
                        } else if (closed_vocabulary_[c]) {
                            unseen_categories_.column.store(int(c), std::memory_order_relaxed);
                            unseen_categories_.rows.fetch_add(1, std::memory_order_relaxed);
                        }
                    }
                }
                if (column.spec.encoding == CategoricalEncoding::OneHot) {
                    const int k = int(column.categories.size());
                    std::fill(o, o + k + 1, 0.0f);
                    if (!missing) o[index >= 0 ? index : k] = 1.0f;  // unseen -> "other"
                    o += k + 1;
                } else {
                    *o++ = float(missing || index < 0 ? column.unseen_value : column.category_values[size_t(index)]);
                }
                break;
            }
            case ColumnKind::Timestamp: {
                if (!missing && value.is_infinite_time()) {
                    infinite_time(column.spec.name);  // or, per the spec, missing
                    missing = true;
                }
                if (missing || value.type != RawValue::Type::Time) {
                    missing = true;
                    std::fill(o, o + kTimestampOutputs, 0.0f);
                    o += kTimestampOutputs;
                    break;
                }
                int64_t micros_of_day = value.time_us % kMicrosPerDay;
                int64_t day = value.time_us / kMicrosPerDay;
                if (micros_of_day < 0) {
                    micros_of_day += kMicrosPerDay;
                    --day;
                }
                const double hour = double(micros_of_day) / 3600e6;
                const int weekday = int(((day % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday; 0 = Monday
                *o++ = float(std::sin(2 * M_PI * hour / 24));
                *o++ = float(std::cos(2 * M_PI * hour / 24));
                *o++ = float(std::sin(2 * M_PI * weekday / 7));
                *o++ = float(std::cos(2 * M_PI * weekday / 7));
                *o++ = weekday >= 5 ? 1.0f : 0.0f;
                *o++ = (hour >= 22 || hour < 6) ? 1.0f : 0.0f;
                break;
            }
            case ColumnKind::Inet: {
                const int buckets = column.spec.buckets;
                std::fill(o, o + 2 * buckets + 3, 0.0f);
                if (!missing && value.type == RawValue::Type::Inet) {
                    const bool v6 = value.inet_v6;
                    // IPv4: /24 and /16; IPv6: /48 and /32.
                    const size_t fine = v6 ? 6 : 3, wide = v6 ? 4 : 2;
                    o[mix(fnv1a(value.inet, fine)) % uint64_t(buckets)] = 1.0f;
                    o[buckets + mix(fnv1a(value.inet, wide)) % uint64_t(buckets)] = 1.0f;
                    o[2 * buckets] = (v6 ? is_private_ipv6(value.inet) : is_private_ipv4(value.inet)) ? 1.0f : 0.0f;
                    o[2 * buckets + 1] =
                        (v6 ? is_reserved_ipv6(value.inet) : is_reserved_ipv4(value.inet)) ? 1.0f : 0.0f;
                    o[2 * buckets + 2] = v6 ? 1.0f : 0.0f;
                } else {
                    missing = true;
                }
                o += 2 * buckets + 3;
                break;
            }
            case ColumnKind::Ignore:
                break;
        }
        if (column.missing_indicator) *o++ = missing ? 1.0f : 0.0f;
    }
    if (!anomaly_.empty()) {
        anomaly_outputs(inputs, history, o);
        o += anomaly_.size();
    }
    if (history_raw_count_ > 0) {
        if (!history) fail(ErrorKind::Internal, "history features need a history state");
        double raw[256];
        size_t k = 0;
        for (size_t h = 0; h < spec_.history.size(); ++h) {
            const int n = HistoryState::output_count(spec_.history[h]);
            if (n > 256) fail(ErrorKind::InvalidParameter, "a history declaration has more than 256 outputs");
            history->compute(slot(h), history_event(h, inputs), raw);
            const NumericTransform transform = spec_.history[h].transform;
            for (int i = 0; i < n; ++i, ++k) {
                const float feature =
                    float((numeric_transform(transform, raw[i]) - history_[k].center) / history_[k].scale);
                if (std::isfinite(feature)) {
                    *o++ = feature;
                    continue;
                }
                overflowed_feature(output_names_[size_t(first_history_output_) + k], raw[i]);
                *o++ = 0.0f;  // 'missing': the history output's training mean
            }
        }
    }
}

bool Featurizer::transform_numbers(const double* x, float* out) const {
    // transform's Numeric and Boolean cases for a present, finite input, in the same operations.
    float* o = out;
    for (const NumberColumn& column : numbers_) {
        const double value = x[column.input];
        float feature;
        if (column.boolean) {
            feature = value != 0 ? 1.0f : 0.0f;
        } else {
            feature = float((numeric_transform(column.transform, value) - column.center) / column.scale);
            if (!std::isfinite(feature)) return false;
        }
        *o++ = feature;
        if (column.missing_indicator) *o++ = 0.0f;
    }
    return true;
}

const FittedColumn* Featurizer::last_unseen_category_column() const {
    const int c = unseen_categories_.column.load(std::memory_order_relaxed);
    return c >= 0 && size_t(c) < columns_.size() ? &columns_[size_t(c)] : nullptr;
}

void Featurizer::observe(const RawValue* inputs, HistoryState* history) const {
    for (size_t h = 0; h < all_history_.size(); ++h) history->observe(h, history_event(h, inputs));
}

void Featurizer::history_events(const RawValue* inputs, HistoryEvent* out) const {
    for (size_t h = 0; h < all_history_.size(); ++h) out[h] = history_event(h, inputs);
}

bool Featurizer::history_counts_labels() const {
    for (const auto& in : history_inputs_)
        if (in.label >= 0) return true;
    return false;
}

FeaturizerFitter::FeaturizerFitter(FeaturizerSpec spec) : spec_(std::move(spec)) {
    // An unfitted featurizer with no categories: it resolves the inputs and computes the raw history.
    std::vector<FittedColumn> columns;
    for (const auto& c : spec_.columns) {
        FittedColumn column;
        column.spec = c;
        columns.push_back(column);
    }
    shell_ = std::make_unique<Featurizer>(spec_, columns, std::vector<FittedHistoryOutput>{});
    inputs_ = shell_->inputs();
    history_ = shell_->new_history();
    column_moments_.resize(spec_.columns.size());
    column_saw_missing_.assign(spec_.columns.size(), false);
    categories_.resize(spec_.columns.size());
    history_moments_.resize(size_t(shell_->history_raw_count_));
    if (!spec_.label.empty())
        label_input_ = int(std::find(inputs_.begin(), inputs_.end(), spec_.label) - inputs_.begin());
}

void FeaturizerFitter::add(const RawValue* inputs, bool fit_statistics) {
    if (!fit_statistics) {
        shell_->observe(inputs, history_.get());
        return;
    }
    ++rows_;
    double label = NAN;
    if (label_input_ >= 0) {
        label = label_value(inputs[label_input_]);
        if (!std::isnan(label)) {
            label_sum_ += label;
            ++labelled_rows_;
        }
    }
    for (size_t c = 0; c < spec_.columns.size(); ++c) {
        const ColumnSpec& spec = spec_.columns[c];
        const RawValue& value = inputs[shell_->column_input_[c]];
        bool missing = value.is_null();
        switch (spec.kind) {
            case ColumnKind::Numeric:
            case ColumnKind::Boolean: {
                double x = shell_->numeric_input(shell_->columns_[c], value, &missing);
                if (missing) break;
                if (spec.kind == ColumnKind::Boolean) x = x != 0 ? 1 : 0;
                if (spec.clip) x = std::clamp(x, spec.clip_low, spec.clip_high);
                column_moments_[c].add(numeric_transform(spec.transform, x));
                break;
            }
            case ColumnKind::Categorical: {
                if (missing) break;
                if (value.type == RawValue::Type::Number && !std::isfinite(value.number)) {
                    bool ignored;
                    shell_->numeric_input(shell_->columns_[c], value, &ignored);
                    missing = true;
                    break;
                }
                auto& stats = categories_[c][category_key(value)];
                if (stats.count == 0) {
                    if (value.type == RawValue::Type::Text) {
                        stats.text.assign(value.text, value.length);
                    } else {
                        char buffer[32];
                        const double x = value.number;
                        if (value.exact_integer)  // the text category_key made the key of
                            *std::to_chars(buffer, buffer + sizeof buffer - 1, static_cast<long long>(value.integer))
                                 .ptr = '\0';
                        else if (std::floor(x) == x && std::fabs(x) < 1e15)
                            std::snprintf(buffer, sizeof buffer, "%.0f", x);
                        else
                            std::snprintf(buffer, sizeof buffer, "%.17g", x);
                        stats.text = buffer;
                    }
                }
                ++stats.count;
                if (!std::isnan(label)) stats.label_sum += label;
                break;
            }
            case ColumnKind::Timestamp:
                if (!missing && value.is_infinite_time()) shell_->infinite_time(spec.name);  // or missing
                missing = missing || value.type != RawValue::Type::Time || value.is_infinite_time();
                break;
            case ColumnKind::Inet:
                missing = missing || value.type != RawValue::Type::Inet;
                break;
            case ColumnKind::Ignore:
                break;
        }
        if (missing) column_saw_missing_[c] = true;
    }
    if (!history_moments_.empty()) {
        double raw[256];
        size_t k = 0;
        for (size_t h = 0; h < spec_.history.size(); ++h) {
            const int n = HistoryState::output_count(spec_.history[h]);
            if (n > 256) fail(ErrorKind::InvalidParameter, "a history declaration has more than 256 outputs");
            history_->compute(h, shell_->history_event(h, inputs), raw);
            for (int i = 0; i < n; ++i)
                history_moments_[k++].add(numeric_transform(spec_.history[h].transform, raw[i]));
        }
        shell_->observe(inputs, history_.get());
    }
}

Featurizer FeaturizerFitter::finish() const {
    if (rows_ == 0) fail(ErrorKind::Data, "the featurizer's query returned no rows");
    const double prior = labelled_rows_ ? label_sum_ / double(labelled_rows_) : 0.0;
    std::vector<FittedColumn> columns;
    for (size_t c = 0; c < spec_.columns.size(); ++c) {
        FittedColumn f;
        f.spec = spec_.columns[c];
        f.missing_indicator = f.spec.missing_indicator == MissingIndicator::Always ||
                              (f.spec.missing_indicator == MissingIndicator::Auto && column_saw_missing_[c]);
        const Moments& m = column_moments_[c];
        switch (f.spec.kind) {
            case ColumnKind::Numeric:
                if (f.spec.transform == NumericTransform::Standardize || f.spec.transform == NumericTransform::Log1p) {
                    f.center = m.mean;
                    f.scale = m.sd() > 1e-12 ? m.sd() : 1.0;
                } else if (f.spec.transform == NumericTransform::MinMax) {
                    f.center = m.min;
                    f.scale = m.max - m.min > 1e-12 ? m.max - m.min : 1.0;
                }
                f.impute = (m.mean - f.center) / f.scale;  // the mean, in output units
                break;
            case ColumnKind::Boolean:
                f.impute = m.count ? m.mean : 0.0;
                break;
            case ColumnKind::Categorical: {
                std::vector<const CategoryStats*> ranked;
                for (const auto& entry : categories_[c]) ranked.push_back(&entry.second);
                std::sort(ranked.begin(), ranked.end(), [](const CategoryStats* a, const CategoryStats* b) {
                    return a->count != b->count ? a->count > b->count : a->text < b->text;
                });
                size_t total = 0;
                for (const auto* s : ranked) total += s->count;
                const size_t keep = std::min(
                    ranked.size(),
                    size_t(f.spec.encoding == CategoricalEncoding::OneHot ? f.spec.top_k : f.spec.max_categories));
                for (size_t i = 0; i < keep; ++i) {
                    f.categories.push_back(ranked[i]->text);
                    if (f.spec.encoding == CategoricalEncoding::Frequency)
                        f.category_values.push_back(double(ranked[i]->count) / double(total));
                    else if (f.spec.encoding == CategoricalEncoding::Index)
                        f.category_values.push_back(double(i + 1));  // 0 is the unseen/missing row
                    else if (f.spec.encoding == CategoricalEncoding::Target)
                        f.category_values.push_back((ranked[i]->label_sum + f.spec.smoothing * prior) /
                                                    (double(ranked[i]->count) + f.spec.smoothing));
                }
                f.unseen_value = f.spec.encoding == CategoricalEncoding::Target ? prior : 0.0;
                break;
            }
            default:
                break;
        }
        columns.push_back(std::move(f));
    }
    std::vector<FittedHistoryOutput> history;
    for (const auto& m : history_moments_) history.push_back({m.mean, m.sd() > 1e-12 ? m.sd() : 1.0});
    return Featurizer(spec_, std::move(columns), std::move(history));
}

}  // namespace dendrite::engine
