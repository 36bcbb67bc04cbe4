#include "engine/train_options.hpp"

#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace dendrite::engine {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& what) {
    fail(ErrorKind::InvalidParameter, "invalid training option \"" + key + "\": " + what);
}

double as_number(const std::string& key, const json& v) {
    if (!v.is_number()) bad(key, "a number is expected, found " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d)) bad(key, "the number must be finite");
    return d;
}

int as_int(const std::string& key, const json& v) {
    const double d = as_number(key, v);
    if (d != std::floor(d) || d < -2147483648.0 || d > 2147483647.0)
        bad(key, "an integer is expected, found " + v.dump());
    return int(d);
}

std::string as_string(const std::string& key, const json& v) {
    if (!v.is_string()) bad(key, "a string is expected, found " + v.dump());
    return v.get<std::string>();
}

bool as_bool(const std::string& key, const json& v) {
    if (!v.is_boolean()) bad(key, "true or false is expected, found " + v.dump());
    return v.get<bool>();
}

using Setter = std::function<void(TrainOptions&, const std::string&, const json&)>;

// The named arguments of dendrite.train that reach the engine.
const std::map<std::string, Setter>& argument_setters() {
    static const std::map<std::string, Setter> setters{
        {"algorithm", [](TrainOptions& o, const std::string& k, const json& v) { o.algorithm = as_string(k, v); }},
        {"hidden",
         [](TrainOptions& o, const std::string& k, const json& v) {
             if (!v.is_array()) bad(k, "an array of layer widths is expected");
             o.hidden.clear();
             for (const auto& w : v) o.hidden.push_back(as_int(k, w));
         }},
        {"activation", [](TrainOptions& o, const std::string& k, const json& v) { o.activation = as_string(k, v); }},
        {"epochs", [](TrainOptions& o, const std::string& k, const json& v) { o.epochs = as_int(k, v); }},
        {"batch_size", [](TrainOptions& o, const std::string& k, const json& v) { o.batch_size = as_int(k, v); }},
        {"learning_rate",
         [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.learning_rate = as_number(k, v); }},
        {"optimizer", [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.kind = as_string(k, v); }},
        {"class_weight", [](TrainOptions& o, const std::string& k,
                            const json& v) { o.class_weight = ClassWeight::parse(as_string(k, v)); }},
        {"validation_fraction",
         [](TrainOptions& o, const std::string& k, const json& v) { o.validation_fraction = as_number(k, v); }},
        {"seed",
         [](TrainOptions& o, const std::string& k, const json& v) {
             if (!v.is_number_integer()) bad(k, "an integer is expected");
             o.seed = uint64_t(v.get<int64_t>());
         }},
        {"dropout", [](TrainOptions& o, const std::string& k, const json& v) { o.dropout = as_number(k, v); }},
        {"layer_norm", [](TrainOptions& o, const std::string& k, const json& v) { o.layer_norm = as_bool(k, v); }},
        {"loss", [](TrainOptions& o, const std::string& k, const json& v) { o.loss.kind = as_string(k, v); }},
        {"threshold", [](TrainOptions& o, const std::string& k,
                         const json& v) { o.threshold = ThresholdRule::parse(as_string(k, v)); }},
        {"patience", [](TrainOptions& o, const std::string& k, const json& v) { o.patience = as_int(k, v); }},
        {"device", [](TrainOptions& o, const std::string& k, const json& v) { o.device_request = as_string(k, v); }},
        {"split_column", [](TrainOptions& o, const std::string& k,
                            const json& v) { o.split_column = v.is_null() ? std::string() : as_string(k, v); }},
    };
    return setters;
}

// The keys of the options jsonb.
const std::map<std::string, Setter>& option_setters() {
    static const std::map<std::string, Setter> setters{
        {"momentum",
         [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.momentum = as_number(k, v); }},
        {"nesterov",
         [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.nesterov = as_bool(k, v); }},
        {"beta1", [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.beta1 = as_number(k, v); }},
        {"beta2", [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.beta2 = as_number(k, v); }},
        {"epsilon",
         [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.epsilon = as_number(k, v); }},
        {"alpha", [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.alpha = as_number(k, v); }},
        {"weight_decay",
         [](TrainOptions& o, const std::string& k, const json& v) { o.optimizer.weight_decay = as_number(k, v); }},
        {"schedule", [](TrainOptions& o, const std::string& k, const json& v) { o.schedule.kind = as_string(k, v); }},
        {"warmup_epochs",
         [](TrainOptions& o, const std::string& k, const json& v) { o.schedule.warmup_epochs = as_number(k, v); }},
        {"step_epochs",
         [](TrainOptions& o, const std::string& k, const json& v) { o.schedule.step_epochs = as_int(k, v); }},
        {"gamma", [](TrainOptions& o, const std::string& k, const json& v) { o.schedule.gamma = as_number(k, v); }},
        {"clip_norm", [](TrainOptions& o, const std::string& k, const json& v) { o.clip_norm = as_number(k, v); }},
        {"focal_gamma",
         [](TrainOptions& o, const std::string& k, const json& v) { o.loss.focal_gamma = as_number(k, v); }},
        {"negative_sampling",
         [](TrainOptions& o, const std::string& k, const json& v) { o.negative_sampling = as_number(k, v); }},
        {"threads", [](TrainOptions& o, const std::string& k, const json& v) { o.threads = as_int(k, v); }},
        {"embedding_dim", [](TrainOptions& o, const std::string& k, const json& v) { o.embedding_dim = as_int(k, v); }},
        {"piecewise_bins",
         [](TrainOptions& o, const std::string& k, const json& v) { o.piecewise_bins = as_int(k, v); }},
        {"average_epochs",
         [](TrainOptions& o, const std::string& k, const json& v) { o.average_epochs = as_int(k, v); }},
        {"rounds", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.rounds = as_int(k, v); }},
        {"max_depth", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.max_depth = as_int(k, v); }},
        {"eta", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.eta = as_number(k, v); }},
        {"subsample", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.subsample = as_number(k, v); }},
        {"colsample_bytree",
         [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.colsample_bytree = as_number(k, v); }},
        {"min_child_weight",
         [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.min_child_weight = as_number(k, v); }},
        {"reg_lambda", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.lambda = as_number(k, v); }},
        {"reg_alpha", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.alpha = as_number(k, v); }},
        {"max_bin", [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.max_bin = as_int(k, v); }},
        {"network_weight",
         [](TrainOptions& o, const std::string& k, const json& v) { o.network_weight = as_number(k, v); }},
        {"evaluate_every",
         [](TrainOptions& o, const std::string& k, const json& v) { o.gbdt.evaluate_every = as_int(k, v); }},
    };
    return setters;
}

json parse_object(const std::string& text, const char* what) {
    if (text.empty()) return json::object();
    json value;
    try {
        value = json::parse(text);
    } catch (const json::exception& e) {
        fail(ErrorKind::InvalidParameter, std::string(what) + " is not valid JSON", e.what());
    }
    if (!value.is_object()) fail(ErrorKind::InvalidParameter, std::string(what) + " must be a JSON object");
    return value;
}

}  // namespace

const char* train_option_keys() {
    static const std::string keys = [] {
        std::string all;
        for (const auto& [key, setter] : option_setters()) all += (all.empty() ? "" : ", ") + key;
        return all;
    }();
    return keys.c_str();
}

TrainOptions parse_train_options(const std::string& arguments_json, const std::string& options_json) {
    TrainOptions options;
    const json arguments = parse_object(arguments_json, "the training arguments");
    for (const auto& [key, value] : arguments.items()) {
        const auto setter = argument_setters().find(key);
        if (setter == argument_setters().end()) fail(ErrorKind::Internal, "unknown training argument \"" + key + "\"");
        setter->second(options, key, value);
    }
    const json extra = parse_object(options_json, "options");
    for (const auto& [key, value] : extra.items()) {
        if (argument_setters().count(key))
            fail(ErrorKind::InvalidParameter, "option \"" + key + "\" is an argument of dendrite.train", {},
                 "Pass it as " + key + " => ... rather than in options.");
        const auto setter = option_setters().find(key);
        if (setter == option_setters().end())
            fail(ErrorKind::InvalidParameter, "unknown training option \"" + key + "\"", {},
                 std::string("The options are: ") + train_option_keys() + ".");
        setter->second(options, key, value);
    }
    options.validate();
    return options;
}

std::string train_options_json(const TrainOptions& o) {
    json j;
    j["algorithm"] = o.algorithm;
    j["seed"] = int64_t(o.seed);
    j["validation_fraction"] = o.validation_fraction;
    // An autoencoder reads no label: no class weights and no classification loss to record (retrain's
    // defaults for them are ignored by it).
    const bool reconstructs = o.algorithm == "autoencoder";
    if (!reconstructs)
        j["class_weight"] = o.class_weight.mode == ClassWeight::Mode::Balanced ? std::string("balanced")
                            : o.class_weight.mode == ClassWeight::Mode::None   ? std::string("none")
                                                                               : json(o.class_weight.positive).dump();
    j["threshold"] = o.threshold.text();
    j["patience"] = o.patience;
    j["threads"] = o.threads;
    j["device"] = o.device_request;
    j["split_column"] = o.split_column.empty() ? json(nullptr) : json(o.split_column);
    if (o.algorithm == "gbdt" || o.algorithm == "blend") {
        j["rounds"] = o.gbdt.rounds;
        j["max_depth"] = o.gbdt.max_depth;
        j["eta"] = o.gbdt.eta;
        j["subsample"] = o.gbdt.subsample;
        j["colsample_bytree"] = o.gbdt.colsample_bytree;
        j["min_child_weight"] = o.gbdt.min_child_weight;
        j["reg_lambda"] = o.gbdt.lambda;
        j["reg_alpha"] = o.gbdt.alpha;
        j["max_bin"] = o.gbdt.max_bin;
        j["evaluate_every"] = o.gbdt.evaluate_every;
        if (o.algorithm == "gbdt") return j.dump();
        j["network_weight"] = o.network_weight;
    }
    j["hidden"] = o.algorithm == "logistic_regression" ? std::vector<int>{} : o.hidden;
    j["activation"] = o.activation;
    j["dropout"] = o.dropout;
    j["layer_norm"] = o.layer_norm;
    j["epochs"] = o.epochs;
    j["batch_size"] = o.batch_size;
    j["learning_rate"] = o.optimizer.learning_rate;
    j["optimizer"] = o.optimizer.kind;
    j["momentum"] = o.optimizer.momentum;
    j["nesterov"] = o.optimizer.nesterov;
    j["beta1"] = o.optimizer.beta1;
    j["beta2"] = o.optimizer.beta2;
    j["epsilon"] = o.optimizer.epsilon;
    j["alpha"] = o.optimizer.alpha;
    j["weight_decay"] = o.optimizer.weight_decay;
    j["schedule"] = o.schedule.kind;
    j["warmup_epochs"] = o.schedule.warmup_epochs;
    j["step_epochs"] = o.schedule.step_epochs;
    j["gamma"] = o.schedule.gamma;
    j["clip_norm"] = o.clip_norm;
    if (!reconstructs) {
        j["loss"] = o.loss.kind;
        j["focal_gamma"] = o.loss.focal_gamma;
    }
    j["negative_sampling"] = o.negative_sampling;
    j["embedding_dim"] = o.embedding_dim;
    j["average_epochs"] = o.average_epochs;
    j["piecewise_bins"] = o.network_piecewise_bins();
    return j.dump();
}

}  // namespace dendrite::engine
