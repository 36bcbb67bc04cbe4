#include "engine/featurizer_spec.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "engine/error.hpp"

namespace dendrite::engine {

using json = nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& message, const std::string& hint = {}) {
    fail(ErrorKind::InvalidParameter, message, {}, hint);
}

json parse_json(const std::string& text, const char* what) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        invalid(std::string(what) + " is not valid JSON", e.what());
    }
}

const InputColumn* find_column(const std::vector<InputColumn>& columns, const std::string& name) {
    for (const auto& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

std::string get_string(const json& object, const char* key, const std::string& context, bool required = false) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        if (required) invalid(context + " needs \"" + key + "\"");
        return {};
    }
    if (!it->is_string()) invalid(context + ": \"" + key + "\" must be a string");
    return it->get<std::string>();
}

double get_number(const json& value, const std::string& context) {
    if (!value.is_number()) invalid(context + " must be a number");
    const double x = value.get<double>();
    if (!std::isfinite(x)) invalid(context + " must be finite");
    return x;
}

int get_int(const json& object, const char* key, int fallback, int low, int high, const std::string& context) {
    auto it = object.find(key);
    if (it == object.end()) return fallback;
    if (!it->is_number_integer()) invalid(context + ": \"" + key + "\" must be an integer");
    const auto v = it->get<long long>();
    if (v < low || v > high)
        invalid(context + ": \"" + key + "\" must be between " + std::to_string(low) + " and " + std::to_string(high));
    return int(v);
}

ColumnKind automatic_kind(SqlTypeClass type) {
    switch (type) {
        case SqlTypeClass::Number:
        case SqlTypeClass::Integer:
            return ColumnKind::Numeric;
        case SqlTypeClass::Boolean:
            return ColumnKind::Boolean;
        case SqlTypeClass::Text:
            return ColumnKind::Categorical;
        case SqlTypeClass::Timestamp:
            return ColumnKind::Timestamp;
        case SqlTypeClass::Inet:
            return ColumnKind::Inet;
        case SqlTypeClass::Other:
            return ColumnKind::Ignore;
    }
    return ColumnKind::Ignore;
}

// Applies a shorthand ("log1p", "categorical", "ignore", ...) to a column spec; false when unknown.
bool apply_shorthand(const std::string& word, ColumnSpec& spec) {
    if (word == "numeric" || word == "standardize") {
        spec.kind = ColumnKind::Numeric;
        spec.transform = NumericTransform::Standardize;
    } else if (word == "log1p") {
        spec.kind = ColumnKind::Numeric;
        spec.transform = NumericTransform::Log1p;
    } else if (word == "minmax") {
        spec.kind = ColumnKind::Numeric;
        spec.transform = NumericTransform::MinMax;
    } else if (word == "raw" || word == "none") {
        spec.kind = ColumnKind::Numeric;
        spec.transform = NumericTransform::None;
    } else if (word == "boolean")
        spec.kind = ColumnKind::Boolean;
    else if (word == "categorical" || word == "onehot") {
        spec.kind = ColumnKind::Categorical;
        spec.encoding = CategoricalEncoding::OneHot;
    } else if (word == "frequency") {
        spec.kind = ColumnKind::Categorical;
        spec.encoding = CategoricalEncoding::Frequency;
    } else if (word == "target") {
        spec.kind = ColumnKind::Categorical;
        spec.encoding = CategoricalEncoding::Target;
    } else if (word == "index") {
        spec.kind = ColumnKind::Categorical;
        spec.encoding = CategoricalEncoding::Index;
    } else if (word == "timestamp")
        spec.kind = ColumnKind::Timestamp;
    else if (word == "inet")
        spec.kind = ColumnKind::Inet;
    else if (word == "ignore")
        spec.kind = ColumnKind::Ignore;
    else
        return false;
    return true;
}

const char* kShorthandHint =
    "Use one of numeric, log1p, minmax, raw, boolean, categorical, frequency, target, index, timestamp, inet, ignore, "
    "or an object such as {\"kind\": \"categorical\", \"top_k\": 10}.";

void check_kind_fits_type(const ColumnSpec& spec, SqlTypeClass type) {
    const std::string context = "column \"" + spec.name + "\"";
    switch (spec.kind) {
        case ColumnKind::Numeric:
        case ColumnKind::Boolean:
            if (type != SqlTypeClass::Number && type != SqlTypeClass::Integer && type != SqlTypeClass::Boolean)
                invalid(context + " is not a number and cannot be " + kind_name(spec.kind));
            break;
        case ColumnKind::Categorical:
            if (type != SqlTypeClass::Text && type != SqlTypeClass::Integer && type != SqlTypeClass::Boolean)
                invalid(context + " cannot be categorical", "Categorical columns are text, integer or boolean.");
            break;
        case ColumnKind::Timestamp:
            if (type != SqlTypeClass::Timestamp) invalid(context + " is not a timestamp");
            break;
        case ColumnKind::Inet:
            if (type != SqlTypeClass::Inet) invalid(context + " is not of type inet");
            break;
        case ColumnKind::Ignore:
            break;
    }
}

void read_column_object(const json& object, ColumnSpec& spec) {
    const std::string context = "the spec of column \"" + spec.name + "\"";
    for (auto it = object.begin(); it != object.end(); ++it) {
        static const std::set<std::string> known{"kind",      "transform", "encoding",
                                                 "clip",      "top_k",     "max_categories",
                                                 "smoothing", "buckets",   "missing_indicator"};
        if (!known.count(it.key())) invalid(context + " has an unknown key \"" + it.key() + "\"");
    }
    const std::string kind = get_string(object, "kind", context);
    if (!kind.empty() && !apply_shorthand(kind, spec))
        invalid(context + ": unknown kind \"" + kind + "\"", kShorthandHint);
    const std::string transform = get_string(object, "transform", context);
    if (!transform.empty()) {
        if (transform == "standardize")
            spec.transform = NumericTransform::Standardize;
        else if (transform == "log1p")
            spec.transform = NumericTransform::Log1p;
        else if (transform == "minmax")
            spec.transform = NumericTransform::MinMax;
        else if (transform == "none" || transform == "raw")
            spec.transform = NumericTransform::None;
        else
            invalid(context + ": unknown transform \"" + transform + "\"", "Use standardize, log1p, minmax or none.");
    }
    const std::string encoding = get_string(object, "encoding", context);
    if (!encoding.empty()) {
        if (encoding == "onehot")
            spec.encoding = CategoricalEncoding::OneHot;
        else if (encoding == "frequency")
            spec.encoding = CategoricalEncoding::Frequency;
        else if (encoding == "target")
            spec.encoding = CategoricalEncoding::Target;
        else if (encoding == "index")
            spec.encoding = CategoricalEncoding::Index;
        else
            invalid(context + ": unknown encoding \"" + encoding + "\"", "Use onehot, frequency, target or index.");
    }
    if (auto it = object.find("clip"); it != object.end()) {
        if (!it->is_array() || it->size() != 2) invalid(context + ": \"clip\" must be [low, high]");
        spec.clip = true;
        spec.clip_low = get_number((*it)[0], context + ": clip low");
        spec.clip_high = get_number((*it)[1], context + ": clip high");
        if (spec.clip_low > spec.clip_high) invalid(context + ": clip low is above clip high");
    }
    spec.top_k = get_int(object, "top_k", spec.top_k, 1, 1000, context);
    spec.max_categories = get_int(object, "max_categories", spec.max_categories, 1, 10000000, context);
    spec.buckets = get_int(object, "buckets", spec.buckets, 1, 1024, context);
    if (auto it = object.find("smoothing"); it != object.end()) {
        spec.smoothing = get_number(*it, context + ": smoothing");
        if (spec.smoothing < 0) invalid(context + ": smoothing must not be negative");
    }
    if (auto it = object.find("missing_indicator"); it != object.end()) {
        if (!it->is_boolean()) invalid(context + ": \"missing_indicator\" must be true or false");
        spec.missing_indicator = it->get<bool>() ? MissingIndicator::Always : MissingIndicator::Never;
    }
}

std::string quoted_identifier(const std::string& name);

// An entity computed from the row (a composite or scoped one): a derived text column `name`, declared once
// (a second declaration with the same expression reuses it). kind names it in errors. Returns name.
std::string declare_entity_column(const std::string& name, const std::string& expression,
                                  const std::vector<InputColumn>& columns, std::vector<DerivedColumn>& derived,
                                  const std::string& context, const char* kind) {
    const std::string entity = std::string("the ") + kind + " entity";
    for (const auto& d : derived)
        if (d.name == name) {
            if (d.expression != expression)
                invalid(context + ": " + entity + "'s column \"" + name + "\" is already a derived column");
            return name;
        }
    if (find_column(columns, name))
        invalid(context + ": " + entity + " would be named \"" + name + "\", a column of the query",
                "Rename that column in the query.");
    if (name.size() >= 64) invalid(context + ": " + entity + "'s name \"" + name + "\" is too long");
    derived.push_back({name, expression, SqlTypeClass::Text});
    return name;
}

// "entity": ["card", "merchant"]: a derived text column card_merchant, the parts' text joined by a unit
// separator (a NULL part makes the entity NULL: the row has no such entity). Returns its name.
std::string composite_entity(const json& parts, const std::vector<InputColumn>& columns,
                             std::vector<DerivedColumn>& derived, const std::string& context) {
    if (parts.size() < 2) invalid(context + ": a composite \"entity\" names two or more columns");
    std::string name, expression;
    for (const auto& part : parts) {
        if (!part.is_string()) invalid(context + ": the parts of a composite \"entity\" are column names");
        const std::string column = part.get<std::string>();
        const InputColumn* c = find_column(columns, column);
        if (!c) invalid(context + ": entity column \"" + column + "\" is not in the query");
        if (c->type != SqlTypeClass::Text && c->type != SqlTypeClass::Integer && c->type != SqlTypeClass::Inet)
            invalid(context + ": entity column \"" + column + "\" must be text, an integer or inet");
        name += (name.empty() ? "" : "_") + column;
        expression += (expression.empty() ? "" : " || chr(31) || ") + quoted_identifier(column) + "::text";
    }
    return declare_entity_column(name, expression, columns, derived, context, "composite");
}

// A history declaration's transform by name (standardize or log1p); false for any other name.
bool history_transform(const std::string& name, NumericTransform* transform) {
    if (name == "standardize")
        *transform = NumericTransform::Standardize;
    else if (name == "log1p")
        *transform = NumericTransform::Log1p;
    else
        return false;
    return true;
}

// "within": "shard" (the query's shard layout) or {"key": "customer_id", "shards": 3}: the entity becomes a
// derived text column <entity>_within_shard, the entity's text and its row's shard joined by a unit separator,
// the shard computed as PostgreSQL routes the row (dendrite.shard_of).
void scope_within_shard(const json& within, const std::vector<InputColumn>& columns, const ShardLayout* layout,
                        std::vector<DerivedColumn>& derived, const std::string& context, HistorySpec& h) {
    const char* explicit_form = "Name the shard key and count: \"within\": {\"key\": \"customer_id\", \"shards\": 3}.";
    if (within.is_string()) {
        if (within.get<std::string>() != "shard")
            invalid(context + ": \"within\" must be \"shard\" or {\"key\": ..., \"shards\": ...}");
        if (!layout || layout->key.empty())
            invalid(context +
                        ": \"within\": \"shard\" needs a query over a table hash-partitioned on one column "
                        "into foreign tables of equal modulus",
                    explicit_form);
        h.within_key = layout->key;
        h.within_shards = layout->shards;
    } else if (within.is_object()) {
        for (auto it = within.begin(); it != within.end(); ++it)
            if (it.key() != "key" && it.key() != "shards")
                invalid(context + ": \"within\" has an unknown key \"" + it.key() + "\"", explicit_form);
        h.within_key = get_string(within, "key", context + " \"within\"", true);
        h.within_shards = get_int(within, "shards", 0, 1, 65536, context + " \"within\"");
        if (h.within_shards == 0)
            invalid(context + ": \"within\" needs \"shards\", the number of shards", explicit_form);
        const InputColumn* key = find_column(columns, h.within_key);
        if (!key) invalid(context + ": shard key column \"" + h.within_key + "\" is not in the query");
        if (key->type != SqlTypeClass::Text && key->type != SqlTypeClass::Integer && key->type != SqlTypeClass::Inet)
            invalid(context + ": shard key column \"" + h.within_key + "\" must be text, an integer or inet");
    } else {
        invalid(context + ": \"within\" must be \"shard\" or {\"key\": ..., \"shards\": ...}", explicit_form);
    }
    if (h.within_key == h.entity)
        invalid(context + ": history of the shard key \"" + h.entity + "\" is whole on every shard",
                "Leave \"within\" out: it is for entities whose rows the shards split (a terminal, a merchant).");
    std::string entity_text = quoted_identifier(h.entity) + "::text";
    for (const auto& d : derived)
        if (d.name == h.entity) entity_text = "(" + d.expression + ")";  // a composite entity's expression
    const std::string expression = entity_text + " || chr(31) || dendrite.shard_of(" + quoted_identifier(h.within_key) +
                                   ", " + std::to_string(h.within_shards) + ")::text";
    h.entity = declare_entity_column(h.entity + "_within_shard", expression, columns, derived, context, "scoped");
}

// Every aggregate a history declaration may ask for, by its name in declarations and in stored specs (in the
// order stored specs list them).
constexpr std::pair<const char*, bool HistorySpec::*> kHistoryAggregates[] = {
    {"count", &HistorySpec::count},
    {"sum", &HistorySpec::sum},
    {"mean", &HistorySpec::mean},
    {"max", &HistorySpec::max},
    {"min", &HistorySpec::min},
    {"stddev", &HistorySpec::stddev},
    {"ratio_to_mean", &HistorySpec::ratio_to_mean},
    {"fraud_count", &HistorySpec::fraud_count},
    {"fraud_rate", &HistorySpec::fraud_rate},
    {"distinct", &HistorySpec::distinct},
    {"since_last", &HistorySpec::since_last}};

// Turns on aggregate `name` in h; false when there is no such aggregate.
bool enable_aggregate(HistorySpec& h, const std::string& name) {
    for (const auto& [known, member] : kHistoryAggregates)
        if (name == known) {
            h.*member = true;
            return true;
        }
    return false;
}

HistorySpec read_history(const json& object, const std::vector<InputColumn>& columns, size_t index,
                         std::vector<DerivedColumn>& derived, const ShardLayout* layout) {
    const std::string context = "history declaration " + std::to_string(index + 1);
    if (!object.is_object()) invalid(context + " must be an object");
    for (auto it = object.begin(); it != object.end(); ++it) {
        static const std::set<std::string> known{"name",  "entity",     "time",     "value",     "label", "windows",
                                                 "delay", "aggregates", "distinct", "transform", "within"};
        if (!known.count(it.key())) invalid(context + " has an unknown key \"" + it.key() + "\"");
    }
    HistorySpec h;
    const bool composite = object.contains("entity") && object.at("entity").is_array();
    h.entity = composite ? composite_entity(object.at("entity"), columns, derived, context)
                         : get_string(object, "entity", context, true);
    h.time = get_string(object, "time", context, true);
    h.value = get_string(object, "value", context);
    h.label = get_string(object, "label", context);
    auto require = [&](const std::string& name, const char* role) {
        const InputColumn* c = find_column(columns, name);
        if (!c) invalid(context + ": " + role + " column \"" + name + "\" is not in the query");
        return c;
    };
    if (!composite) {
        const InputColumn* entity = require(h.entity, "entity");
        if (entity->type != SqlTypeClass::Text && entity->type != SqlTypeClass::Integer &&
            entity->type != SqlTypeClass::Inet)
            invalid(context + ": entity column \"" + h.entity + "\" must be text, an integer or inet");
    }
    if (require(h.time, "time")->type != SqlTypeClass::Timestamp)
        invalid(context + ": time column \"" + h.time + "\" must be a timestamp");
    if (!h.value.empty()) {
        const auto t = require(h.value, "value")->type;
        if (t != SqlTypeClass::Number && t != SqlTypeClass::Integer)
            invalid(context + ": value column \"" + h.value + "\" must be numeric");
    }
    const std::string transform = get_string(object, "transform", context);
    if (!transform.empty() && !history_transform(transform, &h.transform))
        invalid(context + ": unknown transform \"" + transform + "\"",
                "History outputs take standardize (the default) or log1p (sign(x) log(1 + |x|), then standardized).");
    h.distinct_of = get_string(object, "distinct", context);
    if (!h.distinct_of.empty()) {
        const auto t = require(h.distinct_of, "distinct")->type;
        if (t != SqlTypeClass::Text && t != SqlTypeClass::Integer && t != SqlTypeClass::Inet &&
            t != SqlTypeClass::Boolean)
            invalid(context + ": distinct column \"" + h.distinct_of + "\" must be text, an integer, inet or boolean");
    }
    if (!h.label.empty()) {
        const auto t = require(h.label, "label")->type;
        if (t != SqlTypeClass::Number && t != SqlTypeClass::Integer && t != SqlTypeClass::Boolean)
            invalid(context + ": label column \"" + h.label + "\" must be boolean or 0/1");
    }
    auto windows = object.find("windows");
    if (windows == object.end() || !windows->is_array() || windows->empty())
        invalid(context + " needs \"windows\", a non-empty array such as [\"1 day\", \"7 days\"]");
    for (const auto& w : *windows) {
        if (!w.is_string() && !w.is_number()) invalid(context + ": windows are intervals such as \"7 days\"");
        std::string short_name;
        const int64_t window_us = parse_interval(w.is_string() ? w.get<std::string>() : w.dump(), &short_name);
        // The same length twice ("1 day" and "24 hours") would be the same features twice (named alike when
        // written alike).
        for (size_t k = 0; k < h.windows_us.size(); ++k)
            if (h.windows_us[k] == window_us)
                invalid(context + ": window " + w.dump() + " is as long as window " + (*windows)[k].dump() +
                            " listed before it",
                        "List each window once.");
        h.windows_us.push_back(window_us);
        h.window_names.push_back(short_name);
    }
    std::string delay_name;
    if (auto d = object.find("delay"); d != object.end() && !d->is_null()) {
        if (!d->is_string() && !d->is_number()) invalid(context + ": \"delay\" is an interval such as \"7 days\"");
        h.delay_us = parse_interval(d->is_string() ? d->get<std::string>() : d->dump(), &delay_name);
    }
    auto aggregates = object.find("aggregates");
    if (aggregates == object.end()) {
        h.count = true;
        if (!h.value.empty()) h.mean = true;
        if (!h.label.empty()) h.fraud_rate = true;
        if (!h.distinct_of.empty()) h.distinct = true;
    } else {
        if (!aggregates->is_array() || aggregates->empty())
            invalid(context + ": \"aggregates\" must be a non-empty array");
        for (const auto& a : *aggregates) {
            const std::string name = a.is_string() ? a.get<std::string>() : "";
            if (!enable_aggregate(h, name))
                invalid(context + ": unknown aggregate " + a.dump(),
                        "Use count, sum, mean, max, min, stddev, ratio_to_mean, fraud_count, fraud_rate, distinct, "
                        "since_last.");
        }
    }
    if ((h.sum || h.mean || h.max || h.min || h.stddev || h.ratio_to_mean) && h.value.empty())
        invalid(context + ": sum, mean, max, min, stddev and ratio_to_mean need a \"value\" column");
    if (h.distinct && h.distinct_of.empty())
        invalid(context + ": distinct needs a \"distinct\" column, such as \"merchant\"");
    if ((h.fraud_count || h.fraud_rate) && h.label.empty())
        invalid(context + ": fraud_count and fraud_rate need a \"label\" column");
    if (!h.label.empty() && h.delay_us <= 0)
        invalid(context + ": label aggregates need a positive \"delay\"",
                "Labels become known only after a while; a delay such as \"7 days\" keeps them from leaking.");
    if (auto within = object.find("within"); within != object.end() && !within->is_null())
        scope_within_shard(*within, columns, layout, derived, context, h);
    h.name = get_string(object, "name", context);
    if (h.name.empty()) h.name = h.entity + (h.delay_us > 0 ? "_delayed" + delay_name : "");
    return h;
}

}  // namespace

const char* kind_name(ColumnKind kind) {
    switch (kind) {
        case ColumnKind::Numeric:
            return "numeric";
        case ColumnKind::Boolean:
            return "boolean";
        case ColumnKind::Categorical:
            return "categorical";
        case ColumnKind::Timestamp:
            return "timestamp";
        case ColumnKind::Inet:
            return "inet";
        case ColumnKind::Ignore:
            return "ignore";
    }
    return "unknown";
}

int64_t parse_interval(const std::string& text, std::string* short_name) {
    size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t digits = i;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == i || digits - i > 9)
        invalid("invalid interval \"" + text + "\"",
                "Use a whole number and a unit, such as \"7 days\" or \"1 hour\".");
    const long long amount = std::stoll(text.substr(i, digits - i));
    std::string unit;
    for (size_t j = digits; j < text.size(); ++j)
        if (!std::isspace(static_cast<unsigned char>(text[j])))
            unit += char(std::tolower(static_cast<unsigned char>(text[j])));
    int64_t seconds_per_unit;
    char letter;
    if (unit.empty() || unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") {
        seconds_per_unit = 1;
        letter = 's';
    } else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") {
        seconds_per_unit = 60;
        letter = 'm';
    } else if (unit == "h" || unit == "hour" || unit == "hours") {
        seconds_per_unit = 3600;
        letter = 'h';
    } else if (unit == "d" || unit == "day" || unit == "days") {
        seconds_per_unit = 86400;
        letter = 'd';
    } else if (unit == "w" || unit == "week" || unit == "weeks") {
        seconds_per_unit = 7 * 86400;
        letter = 'w';
    } else
        invalid("invalid interval \"" + text + "\"", "Units are seconds, minutes, hours, days and weeks.");
    if (amount <= 0 || amount * seconds_per_unit > 3650LL * 86400)
        invalid("interval \"" + text + "\" must be positive and at most 10 years");
    if (short_name) *short_name = std::to_string(amount) + letter;
    return amount * seconds_per_unit * 1000000LL;
}

namespace {

std::string quoted_identifier(const std::string& name) {
    std::string quoted = "\"";
    for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

// Percent with no decimals, for reasons.
std::string share(int64_t part, int64_t whole) {
    return std::to_string(whole > 0 ? int64_t(std::lround(100.0 * double(part) / double(whole))) : 0) + " %";
}

struct AutomaticDecision {
    ColumnKind kind;
    CategoricalEncoding encoding;
    std::string choice, reason;
};

// The data-driven choices for the columns without an override (see resolve_spec), and the derived
// columns they add. columns holds the query's columns; taken are the names in use.
std::string lower(std::string text) {
    for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Two latitude/longitude pairs (lat/long, merch_lat/merch_long; "lon", "lng", "latitude", "longitude"):
// the numeric columns of each, or nothing when there are not exactly two.
std::vector<std::pair<std::string, std::string>> coordinate_pairs(const std::vector<InputColumn>& columns) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& latitude : columns) {
        if (latitude.type != SqlTypeClass::Number) continue;
        const std::string name = lower(latitude.name);
        std::string prefix;
        if (ends_with(name, "latitude"))
            prefix = name.substr(0, name.size() - 8);
        else if (ends_with(name, "lat"))
            prefix = name.substr(0, name.size() - 3);
        else
            continue;
        for (const auto& longitude : columns)
            if (longitude.type == SqlTypeClass::Number)
                for (const char* suffix : {"long", "lon", "lng", "longitude"})
                    if (lower(longitude.name) == prefix + suffix) pairs.emplace_back(latitude.name, longitude.name);
    }
    if (pairs.size() != 2) pairs.clear();
    return pairs;
}

std::vector<std::pair<std::string, AutomaticDecision>> decide_from_profiles(
    const std::vector<InputColumn>& columns, const std::vector<ColumnProfile>& profiles, const json& overrides,
    std::vector<HistorySpec>& history, const std::string& label, std::vector<DerivedColumn>& derived) {
    std::vector<std::pair<std::string, AutomaticDecision>> decisions;
    if (profiles.empty()) return decisions;
    auto profile_of = [&](const std::string& name) -> const ColumnProfile* {
        for (const auto& p : profiles)
            if (p.name == name) return &p;
        return nullptr;
    };
    std::set<std::string> roles{label};  // columns with a part in a history declaration keep their choice
    for (const auto& h : history) roles.insert({h.entity, h.time, h.value, h.label, h.distinct_of});
    // The event time: the history's, else the timestamp with the most distinct values.
    std::string event_time = history.empty() ? "" : history[0].time;
    if (event_time.empty()) {
        int64_t most = -1;
        for (const auto& c : columns)
            if (const ColumnProfile* p = profile_of(c.name);
                p && c.type == SqlTypeClass::Timestamp && p->distinct > most && c.name != label) {
                most = p->distinct;
                event_time = c.name;
            }
    }
    const ColumnProfile* event = event_time.empty() ? nullptr : profile_of(event_time);
    auto taken = [&](const std::string& name) {
        for (const auto& c : columns)
            if (c.name == name) return true;
        for (const auto& d : derived)
            if (d.name == name) return true;
        return false;
    };
    for (const auto& c : columns) {
        const ColumnProfile* p = profile_of(c.name);
        if (!p || roles.count(c.name) || overrides.contains(c.name)) continue;
        const std::string counted =
            std::to_string(p->distinct) + " distinct values in " + std::to_string(p->non_null) + " sampled rows";
        AutomaticDecision d{ColumnKind::Ignore, CategoricalEncoding::OneHot, "", ""};
        if (c.type == SqlTypeClass::Text) {
            if (p->non_null >= 1000 && double(p->distinct) >= 0.95 * double(p->non_null)) {
                d.choice = "ignore";
                d.reason = "identifies rows (" + counted + ")";
            } else if (p->with_space >= 0.5 && p->mean_length >= 12 && p->distinct >= 100) {
                d.choice = "ignore";
                d.reason = "free text (" + share(int64_t(std::lround(p->with_space * 100)), 100) +
                           " of values with a space, " + std::to_string(int(std::lround(p->mean_length))) +
                           " characters on average, " + std::to_string(p->distinct) + " distinct)";
            } else if (p->distinct > 50) {
                d.kind = ColumnKind::Categorical;
                d.encoding = CategoricalEncoding::Frequency;
                d.choice = "frequency";
                d.reason = "an identifier with " + counted + ": one-hot would keep 20 of them";
            }
        } else if (c.type == SqlTypeClass::Integer) {
            if (p->non_null >= 1000 && double(p->distinct) >= 0.995 * double(p->non_null)) {
                d.choice = "ignore";
                d.reason = "identifies rows (" + counted + ")";
            } else if (p->min_value >= 1e9 && p->distinct > 50) {
                d.kind = ColumnKind::Categorical;
                d.encoding = CategoricalEncoding::Frequency;
                d.choice = "frequency";
                d.reason = "numbers of 10+ digits (" + counted + "): an identifier, not a quantity";
            }
        } else if (c.type == SqlTypeClass::Timestamp && event && c.name != event_time && c.name != label) {
            const std::string age = c.name + "_age_years";
            const std::string t = quoted_identifier(event_time), x = quoted_identifier(c.name);
            std::string expression;
            if (p->sql_type == "date" && (event->sql_type == "timestamp" || event->sql_type == "timestamptz"))
                expression = "dendrite.age_years(" + x + ", " + t + ")";
            else if (p->sql_type == "date" && event->sql_type == "date")
                expression = "(" + t + " - " + x + ") / 365.25";
            else if (p->sql_type == event->sql_type)
                expression = "extract(epoch FROM " + t + " - " + x + ") / 31557600";
            if (!expression.empty() && age.size() < 64 && !taken(age)) {
                derived.push_back({age, expression, SqlTypeClass::Number});
                d.choice = "age_years";
                d.reason = "a date other than the event time " + event_time + ": its age in years, as " + age;
            }
        }
        if (!d.choice.empty()) decisions.emplace_back(c.name, d);
    }

    // Two places (a card holder's home and the merchant): the distance between them.
    // (Only where the four columns are left to the automatic choice.)
    const auto pairs = coordinate_pairs(columns);
    const bool chosen_by_user = std::any_of(pairs.begin(), pairs.end(), [&](const auto& pair) {
        return overrides.contains(pair.first) || overrides.contains(pair.second);
    });
    if (!pairs.empty() && !chosen_by_user && !taken("distance_km")) {
        const auto& [lat1, lon1] = pairs[0];
        const auto& [lat2, lon2] = pairs[1];
        derived.push_back({"distance_km",
                           "dendrite.distance_km(" + quoted_identifier(lat1) + ", " + quoted_identifier(lon1) + ", " +
                               quoted_identifier(lat2) + ", " + quoted_identifier(lon2) + ")",
                           SqlTypeClass::Number});
        decisions.emplace_back("distance_km",
                               AutomaticDecision{ColumnKind::Numeric, CategoricalEncoding::OneHot, "distance_km",
                                                 "two places, (" + lat1 + ", " + lon1 + ") and (" + lat2 + ", " + lon2 +
                                                     "): the great-circle distance between them"});
    }

    // No history declared, an event time and an identifier: the identifier with the most distinct values (the
    // card, the account) gets the history fraud teams start from: how many payments it made over the last
    // hour, day and week, the hours since its previous one, and with an amount column, their mean and
    // largest amount and this amount against the mean.
    if (history.empty() && event) {
        const ColumnProfile* entity = nullptr;
        AutomaticDecision* entity_decision = nullptr;
        for (auto& [name, d] : decisions)
            if (d.choice == "frequency")
                if (const ColumnProfile* p = profile_of(name); p && (!entity || p->distinct > entity->distinct)) {
                    entity = p;
                    entity_decision = &d;
                }
        if (entity) {
            HistorySpec h;
            h.name = entity->name;
            h.entity = entity->name;
            h.time = event_time;
            for (const auto& c : columns) {
                const std::string name = lower(c.name);
                if ((c.type == SqlTypeClass::Number || c.type == SqlTypeClass::Integer) && c.name != label &&
                    (name.find("amount") != std::string::npos || name == "amt")) {
                    h.value = c.name;
                    break;
                }
            }
            for (const char* window : {"1 hour", "1 day", "7 days"}) {
                std::string short_name;
                h.windows_us.push_back(parse_interval(window, &short_name));
                h.window_names.push_back(short_name);
            }
            h.count = h.since_last = true;
            h.mean = h.max = h.ratio_to_mean = !h.value.empty();
            history.push_back(h);
            entity_decision->kind = ColumnKind::Ignore;
            entity_decision->choice = "history";
            entity_decision->reason = "the identifier with the most distinct values (" +
                                      std::to_string(entity->distinct) + "): its count" +
                                      (h.value.empty() ? "" : ", mean and max of " + h.value + ", ratio to mean") +
                                      " over 1 hour, 1 day and 7 days of " + event_time + ", and hours since its last";
        }
    }
    return decisions;
}

}  // namespace

std::string describe_automatic_choices(const FeaturizerSpec& spec) {
    std::string text;
    for (const auto& a : spec.automatic)
        text += (text.empty() ? "" : "; ") + a.column + ": " + a.choice + ", " + a.reason;
    return text;
}

std::vector<DerivedColumn> parse_derived(const std::string& derived_json) {
    std::vector<DerivedColumn> derived;
    if (derived_json.empty()) return derived;
    // In the order written (nlohmann's json object sorts its keys; ordered_json keeps them; a jsonb argument
    // has already put them in jsonb's order).
    nlohmann::ordered_json object;
    try {
        object = nlohmann::ordered_json::parse(derived_json);
    } catch (const nlohmann::ordered_json::exception& e) {
        invalid("derived is not valid JSON", e.what());
    }
    if (!object.is_object())
        invalid("derived must be a JSON object mapping new column names to SQL expressions",
                "For example {\"home_km\": \"dendrite.distance_km(lat, long, merch_lat, merch_long)\"}.");
    for (auto it = object.begin(); it != object.end(); ++it) {
        const std::string& name = it.key();
        const auto& expression = it.value();
        if (name.empty()) invalid("a derived column needs a name");
        if (name.size() >= 64) invalid("derived column name \"" + name + "\" is longer than 63 bytes");
        if (!expression.is_string() || expression.get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos)
            invalid("derived column \"" + name + "\" must be a non-empty SQL expression (a JSON string)");
        for (const auto& d : derived)
            if (d.name == name) invalid("derived column \"" + name + "\" is declared twice");
        derived.push_back({name, expression.get<std::string>(), SqlTypeClass::Other});
    }
    return derived;
}

std::vector<AnomalySpec> parse_anomaly(const std::string& anomaly_json) {
    std::vector<AnomalySpec> declarations;
    if (anomaly_json.empty()) return declarations;
    json array = parse_json(anomaly_json, "anomaly");
    if (array.is_object()) array = json::array({array});
    if (!array.is_array())
        invalid("anomaly must be a JSON array of declarations",
                "Write anomaly => '[{\"model\": \"unusual\"}]' (an autoencoder's name, and optionally its "
                "\"version\" and the feature's \"name\").");
    for (size_t i = 0; i < array.size(); ++i) {
        const std::string context = "anomaly declaration " + std::to_string(i + 1);
        const json& object = array[i];
        if (!object.is_object()) invalid(context + " must be a JSON object");
        for (auto it = object.begin(); it != object.end(); ++it)
            if (it.key() != "model" && it.key() != "version" && it.key() != "name")
                invalid(context + " has an unknown key \"" + it.key() + "\"",
                        "Use \"model\", \"version\" and \"name\".");
        AnomalySpec a;
        a.model = get_string(object, "model", context, true);
        if (a.model.empty()) invalid(context + ": \"model\" must not be empty");
        a.version = get_int(object, "version", 0, 1, 1000000000, context);
        a.name = get_string(object, "name", context);
        if (a.name.empty()) a.name = a.model + "_anomaly";
        if (a.name.size() >= 64) invalid(context + ": the feature name \"" + a.name + "\" is longer than 63 bytes");
        for (const auto& other : declarations)
            if (other.name == a.name)
                invalid("two anomaly declarations are both named \"" + a.name + "\"", "Give one a \"name\".");
        declarations.push_back(a);
    }
    return declarations;
}

namespace {

const char* type_class_text(SqlTypeClass type) {
    switch (type) {
        case SqlTypeClass::Number:
            return "a number";
        case SqlTypeClass::Integer:
            return "an integer";
        case SqlTypeClass::Boolean:
            return "a boolean";
        case SqlTypeClass::Text:
            return "text";
        case SqlTypeClass::Timestamp:
            return "a timestamp";
        case SqlTypeClass::Inet:
            return "an address";
        case SqlTypeClass::Other:
            break;
    }
    return "another type";
}

// Each anomaly model's input is a column of the query (or a derived one) of the type it was fitted on, and
// not this featurizer's label (the autoencoder would hand the label to the model as a feature).
void check_anomaly_inputs(const std::vector<AnomalySpec>& anomaly, const std::vector<InputColumn>& columns,
                          const std::string& label) {
    for (const auto& a : anomaly) {
        const std::string model = "the autoencoder \"" + a.model + "\" (version " + std::to_string(a.version) + ")";
        if (find_column(columns, a.name))
            invalid("anomaly feature \"" + a.name + "\" has the name of a column of the query",
                    "Give the declaration another \"name\".");
        for (size_t i = 0; i < a.inputs.size(); ++i) {
            const InputColumn* column = find_column(columns, a.inputs[i]);
            if (!column)
                invalid(model + " reads column \"" + a.inputs[i] + "\", which is not in the query",
                        "The featurizer's query must have every column the autoencoder was trained on.");
            if (a.inputs[i] == label)
                invalid(model + " reads column \"" + a.inputs[i] + "\", the label",
                        "Train the autoencoder on a query without the label.");
            if (i < a.input_types.size() && column->type != a.input_types[i])
                invalid(model + " was fitted on column \"" + a.inputs[i] + "\" as " +
                            type_class_text(a.input_types[i]) + ", but in this query it is " +
                            type_class_text(column->type),
                        "Cast the column in the query to the type the autoencoder saw.");
        }
    }
}

}  // namespace

FeaturizerSpec resolve_spec(const std::vector<InputColumn>& given_columns, const std::string& columns_json,
                            const std::string& history_json, const std::string& label, const std::string& nonfinite,
                            const std::vector<DerivedColumn>& derived, const std::vector<ColumnProfile>& profiles,
                            const ShardLayout* shards, const std::vector<AnomalySpec>& anomaly) {
    FeaturizerSpec spec;
    spec.label = label;
    spec.derived = derived;
    for (const auto& d : derived)
        if (find_column(given_columns, d.name))
            invalid("derived column \"" + d.name + "\" has the name of a column of the query",
                    "Give the derived column another name, or leave the query's column out.");
    std::vector<InputColumn> declared_columns = given_columns;  // the query's and the declared derived ones
    for (const auto& d : derived) declared_columns.push_back({d.name, d.type});
    if (nonfinite == "error")
        spec.nonfinite_as_missing = false;
    else if (nonfinite == "missing")
        spec.nonfinite_as_missing = true;
    else
        invalid("invalid nonfinite \"" + nonfinite + "\"", "Use 'error' or 'missing'.");
    if (!label.empty() && !find_column(given_columns, label))
        invalid("label column \"" + label + "\" is not in the query");

    if (!history_json.empty()) {
        const json history = parse_json(history_json, "history");
        if (!history.is_array()) invalid("history must be a JSON array of declarations");
        for (size_t i = 0; i < history.size(); ++i)
            spec.history.push_back(read_history(history[i], declared_columns, i, spec.derived, shards));
        for (const auto& h : spec.history)
            if (!find_column(given_columns, h.time))
                invalid("history time column \"" + h.time + "\" is a derived column",
                        "Rows are replayed in the order of the time column, which must be a column of the query.");
        std::set<std::string> names;
        for (const auto& h : spec.history)
            if (!names.insert(h.name).second)
                invalid("two history declarations are both named \"" + h.name + "\"", "Give one a \"name\".");
    }

    json overrides = json::object();
    if (!columns_json.empty()) {
        overrides = parse_json(columns_json, "columns");
        if (!overrides.is_object()) invalid("columns must be a JSON object mapping column names to specs");
        for (auto it = overrides.begin(); it != overrides.end(); ++it)
            if (!find_column(declared_columns, it.key()))
                invalid("column \"" + it.key() + "\" of the columns spec is not in the query");
    }
    const auto decisions = decide_from_profiles(given_columns, profiles, overrides, spec.history, label, spec.derived);
    // Derived columns (declared, then automatic) are read like the query's own, after them.
    std::vector<InputColumn> query_columns = given_columns;
    for (const auto& d : spec.derived) query_columns.push_back({d.name, d.type});

    std::set<std::string> seen;
    for (const auto& column : query_columns) {
        if (!seen.insert(column.name).second)
            invalid("column \"" + column.name + "\" appears more than once in the query",
                    "Give every column a distinct name with AS.");
        if (column.name == label) continue;
        ColumnSpec c;
        c.name = column.name;
        c.kind = automatic_kind(column.type);
        // Entity columns identify rows of history; they are not features unless asked for.
        for (const auto& h : spec.history)
            if (h.entity == column.name) c.kind = ColumnKind::Ignore;
        for (const auto& [name, decision] : decisions)
            if (name == column.name) {
                c.kind = decision.kind;
                c.encoding = decision.encoding;
                spec.automatic.push_back({name, decision.choice, decision.reason});
            }
        auto it = overrides.find(column.name);
        if (it != overrides.end()) {
            if (it->is_string()) {
                if (!apply_shorthand(it->get<std::string>(), c))
                    invalid("unknown spec \"" + it->get<std::string>() + "\" for column \"" + column.name + "\"",
                            kShorthandHint);
            } else if (it->is_object()) {
                if (c.kind == ColumnKind::Ignore && !it->contains("kind")) c.kind = automatic_kind(column.type);
                read_column_object(*it, c);
            } else {
                invalid("the spec of column \"" + column.name + "\" must be a string or an object");
            }
        }
        if (c.kind == ColumnKind::Ignore) continue;
        check_kind_fits_type(c, column.type);
        if (c.kind == ColumnKind::Categorical && c.encoding == CategoricalEncoding::Target && label.empty())
            invalid("target encoding of column \"" + c.name + "\" needs a label", "Pass label => 'your_label_column'.");
        spec.columns.push_back(c);
    }
    check_anomaly_inputs(anomaly, query_columns, label);
    spec.anomaly = anomaly;
    // One event time orders every pass over the rows: the autoencoders' history declarations must use it too.
    const std::string event_time = spec.event_time();
    for (const auto& a : spec.anomaly)
        for (const auto& h : a.history)
            if (h.time != event_time)
                invalid("the autoencoder \"" + a.model + "\" keeps history in the order of column \"" + h.time +
                            "\", this featurizer in the order of \"" + event_time + "\"",
                        "Rows are replayed in the order of one time column: use the same in both featurizers.");
    if (spec.columns.empty() && spec.history.empty() && spec.anomaly.empty())
        invalid("the featurizer has no input",
                "The query has no column that can be a feature, and no history is declared.");
    return spec;
}

std::vector<std::string> FeaturizerSpec::inputs() const {
    std::vector<std::string> names;
    auto add = [&](const std::string& name) {
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    };
    for (const auto& c : columns) add(c.name);
    for (const auto& h : history) {
        add(h.entity);
        add(h.time);
        add(h.value);
        add(h.label);
        add(h.distinct_of);
    }
    for (const auto& a : anomaly)
        for (const auto& input : a.inputs) add(input);
    add(label);
    return names;
}

std::vector<HistorySpec> FeaturizerSpec::all_history() const {
    std::vector<HistorySpec> all = history;
    for (const auto& a : anomaly) all.insert(all.end(), a.history.begin(), a.history.end());
    return all;
}

std::string FeaturizerSpec::event_time() const {
    if (!history.empty()) return history[0].time;
    for (const auto& a : anomaly)
        if (!a.history.empty()) return a.history[0].time;
    return {};
}

namespace {
const char* transform_name(NumericTransform t) {
    switch (t) {
        case NumericTransform::Standardize:
            return "standardize";
        case NumericTransform::Log1p:
            return "log1p";
        case NumericTransform::MinMax:
            return "minmax";
        case NumericTransform::None:
            return "none";
    }
    return "none";
}
const char* encoding_name(CategoricalEncoding e) {
    switch (e) {
        case CategoricalEncoding::OneHot:
            return "onehot";
        case CategoricalEncoding::Frequency:
            return "frequency";
        case CategoricalEncoding::Target:
            return "target";
        case CategoricalEncoding::Index:
            return "index";
    }
    return "onehot";
}

// One history declaration as the stored spec has it (also inside an anomaly declaration).
json history_to_json(const HistorySpec& h) {
    json o{{"name", h.name},
           {"entity", h.entity},
           {"time", h.time},
           {"value", h.value},
           {"label", h.label},
           {"distinct", h.distinct_of},
           {"windows_us", h.windows_us},
           {"window_names", h.window_names},
           {"delay_us", h.delay_us},
           {"transform", transform_name(h.transform)}};
    if (h.within_shards > 0) o["within"] = {{"key", h.within_key}, {"shards", h.within_shards}};
    json aggregates = json::array();
    for (const auto& [name, member] : kHistoryAggregates)
        if (h.*member) aggregates.push_back(name);
    o["aggregates"] = aggregates;
    return o;
}

HistorySpec history_from_json(const json& o) {
    HistorySpec h;
    h.name = o.at("name").get<std::string>();
    h.entity = o.at("entity").get<std::string>();
    h.time = o.at("time").get<std::string>();
    h.value = o.at("value").get<std::string>();
    h.label = o.at("label").get<std::string>();
    if (o.contains("distinct")) h.distinct_of = o.at("distinct").get<std::string>();  // since 0.6.0
    if (o.contains("within")) {                                                       // since 0.6.0
        h.within_key = o.at("within").at("key").get<std::string>();
        h.within_shards = o.at("within").at("shards").get<int>();
    }
    h.windows_us = o.at("windows_us").get<std::vector<int64_t>>();
    h.window_names = o.at("window_names").get<std::vector<std::string>>();
    h.delay_us = o.at("delay_us").get<int64_t>();
    // Since 0.6.0 (before, the raw aggregate was standardized: the default).
    if (o.contains("transform") && !history_transform(o.at("transform").get<std::string>(), &h.transform))
        invalid("the stored featurizer spec has an unknown history transform");
    for (const auto& a : o.at("aggregates")) enable_aggregate(h, a.get<std::string>());  // an unknown one: ignored
    return h;
}

}  // namespace

std::string FeaturizerSpec::to_json() const {
    json j;
    if (!derived.empty()) {
        j["derived"] = json::array();
        for (const auto& d : derived) j["derived"].push_back({{"name", d.name}, {"expression", d.expression}});
    }
    j["label"] = label;
    j["nonfinite"] = nonfinite_as_missing ? "missing" : "error";
    if (!automatic.empty()) {
        j["automatic"] = json::array();
        for (const auto& a : automatic)
            j["automatic"].push_back({{"column", a.column}, {"choice", a.choice}, {"reason", a.reason}});
    }
    j["columns"] = json::array();
    for (const auto& c : columns) {
        json o{{"name", c.name}, {"kind", kind_name(c.kind)}};
        if (c.kind == ColumnKind::Numeric) o["transform"] = transform_name(c.transform);
        if (c.clip) o["clip"] = {c.clip_low, c.clip_high};
        if (c.kind == ColumnKind::Categorical) {
            o["encoding"] = encoding_name(c.encoding);
            o["top_k"] = c.top_k;
            o["max_categories"] = c.max_categories;
            o["smoothing"] = c.smoothing;
        }
        if (c.kind == ColumnKind::Inet) o["buckets"] = c.buckets;
        if (c.missing_indicator != MissingIndicator::Auto)
            o["missing_indicator"] = c.missing_indicator == MissingIndicator::Always;
        j["columns"].push_back(o);
    }
    j["history"] = json::array();
    for (const auto& h : history) j["history"].push_back(history_to_json(h));
    if (!anomaly.empty()) {
        j["anomaly"] = json::array();
        for (const auto& a : anomaly) {
            json o{{"name", a.name}, {"model", a.model}, {"version", a.version}, {"inputs", a.inputs}};
            if (!a.history.empty()) {
                o["history"] = json::array();
                for (const auto& h : a.history) o["history"].push_back(history_to_json(h));
            }
            j["anomaly"].push_back(o);
        }
    }
    return j.dump();
}

FeaturizerSpec FeaturizerSpec::from_json(const std::string& text) {
    const json j = parse_json(text, "the stored featurizer spec");
    try {
        FeaturizerSpec spec;
        spec.label = j.at("label").get<std::string>();
        spec.nonfinite_as_missing = j.at("nonfinite").get<std::string>() == "missing";
        if (j.contains("automatic"))  // since 0.6.0
            for (const auto& o : j.at("automatic"))
                spec.automatic.push_back({o.at("column").get<std::string>(), o.at("choice").get<std::string>(),
                                          o.at("reason").get<std::string>()});
        if (j.contains("derived"))  // since 0.6.0
            for (const auto& o : j.at("derived"))
                spec.derived.push_back(
                    {o.at("name").get<std::string>(), o.at("expression").get<std::string>(), SqlTypeClass::Other});
        for (const auto& o : j.at("columns")) {
            ColumnSpec c;
            c.name = o.at("name").get<std::string>();
            if (!apply_shorthand(o.at("kind").get<std::string>(), c))
                invalid("the stored featurizer spec has an unknown kind");
            if (o.contains("transform")) {
                ColumnSpec t;
                apply_shorthand(o["transform"].get<std::string>() == "none" ? "raw" : o["transform"].get<std::string>(),
                                t);
                c.transform = t.transform;
            }
            if (o.contains("clip")) {
                c.clip = true;
                c.clip_low = o["clip"][0].get<double>();
                c.clip_high = o["clip"][1].get<double>();
            }
            if (o.contains("encoding")) {
                ColumnSpec e;
                apply_shorthand(o["encoding"].get<std::string>(), e);
                c.encoding = e.encoding;
                c.top_k = o.at("top_k").get<int>();
                c.max_categories = o.at("max_categories").get<int>();
                c.smoothing = o.at("smoothing").get<double>();
            }
            if (o.contains("buckets")) c.buckets = o["buckets"].get<int>();
            if (o.contains("missing_indicator"))
                c.missing_indicator =
                    o["missing_indicator"].get<bool>() ? MissingIndicator::Always : MissingIndicator::Never;
            spec.columns.push_back(c);
        }
        for (const auto& o : j.at("history")) spec.history.push_back(history_from_json(o));
        if (j.contains("anomaly"))  // since 0.6.0
            for (const auto& o : j.at("anomaly")) {
                AnomalySpec a;
                a.name = o.at("name").get<std::string>();
                a.model = o.at("model").get<std::string>();
                a.version = o.at("version").get<int>();
                a.inputs = o.at("inputs").get<std::vector<std::string>>();
                if (o.contains("history"))
                    for (const auto& h : o.at("history")) a.history.push_back(history_from_json(h));
                if (a.version < 1 || a.inputs.empty())
                    fail(ErrorKind::Data,
                         "the stored featurizer spec has an anomaly declaration without a version or inputs");
                spec.anomaly.push_back(a);
            }
        return spec;
    } catch (const json::exception& e) {
        fail(ErrorKind::Data, "the stored featurizer spec is malformed", e.what());
    }
}

bool same_declaration(const HistorySpec& a, const HistorySpec& b) { return history_to_json(a) == history_to_json(b); }

bool same_state(HistorySpec a, HistorySpec b) {
    a.name.clear();
    b.name.clear();
    return same_declaration(a, b);
}

}  // namespace dendrite::engine
