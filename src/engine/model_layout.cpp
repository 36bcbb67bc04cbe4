#include "engine/model_layout.hpp"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace dendrite::engine {

using json = nlohmann::json;

namespace {

TensorSlot slot(int layer_index, const char* layer_prefix, int layer_number, const char* name, int first, int second,
                size_t offset) {
    TensorSlot s{};
    s.layer_index = layer_index;
    std::snprintf(s.layer, sizeof s.layer, "%s_%d", layer_prefix, layer_number);
    std::snprintf(s.name, sizeof s.name, "%s", name);
    s.dims = second > 0 ? 2 : 1;
    s.shape[0] = first;
    s.shape[1] = second > 0 ? second : 0;
    s.offset = offset;
    s.count = size_t(first) * size_t(second > 0 ? second : 1);
    return s;
}

[[noreturn]] void malformed(const std::string& what) { fail(ErrorKind::Data, what); }

int integer_member(const json& object, const char* key, const char* what) {
    const auto found = object.find(key);
    if (found == object.end() || !found->is_number_integer()) malformed(what);
    const auto value = found->get<long long>();
    if (value < -2147483647LL || value > 2147483647LL) malformed(what);
    return int(value);
}

}  // namespace

std::vector<TensorSlot> tensor_layout(const NetworkSpec& spec) {
    std::vector<TensorSlot> slots;
    for (size_t e = 0; e < spec.embeddings.size(); ++e) {
        const EmbeddingSpec& embedding = spec.embeddings[e];
        slots.push_back(
            slot(-1 - int(e), "embedding", int(e), "table", embedding.rows, embedding.dim, spec.embedding_offset(e)));
    }
    for (size_t l = 0; l < spec.layers.size(); ++l) {
        const int units = spec.layers[l].units, inputs = spec.layer_inputs(l);
        slots.push_back(slot(int(l), "dense", int(l), "kernel", inputs, units, spec.kernel_offset(l)));
        slots.push_back(slot(int(l), "dense", int(l), "bias", units, 0, spec.bias_offset(l)));
        if (spec.layers[l].layer_norm) {
            slots.push_back(slot(int(l), "dense", int(l), "norm_scale", units, 0, spec.norm_scale_offset(l)));
            slots.push_back(slot(int(l), "dense", int(l), "norm_shift", units, 0, spec.norm_shift_offset(l)));
        }
    }
    // The encodings' edges, after the trained parameters: layer encoding_<k>, name edges, layer_index -1 - k
    // (embedding tables share those indices under another name).
    for (size_t k = 0, offset = spec.encoding_offset(); k < spec.encodings.size(); ++k) {
        slots.push_back(slot(-1 - int(k), "encoding", int(k), "edges", spec.encodings[k].bins + 1, 0, offset));
        offset += size_t(spec.encodings[k].bins) + 1;
    }
    if (spec.error_quantiles > 0) {  // an autoencoder's, after the last layer's tensors
        TensorSlot s = slot(int(spec.layers.size()), "dense", 0, "error_quantiles", spec.error_quantiles, 0,
                            spec.quantile_offset());
        std::snprintf(s.layer, sizeof s.layer, "%s", "anomaly_score");
        slots.push_back(s);
    }
    return slots;
}

std::string network_configuration_json(const NetworkSpec& spec) {
    // Written by hand, not by nlohmann::json, to keep the key order of the versions stored before.
    std::string out = "{\"layers\": [";
    for (size_t l = 0; l < spec.layers.size(); ++l) {
        const LayerSpec& layer = spec.layers[l];
        out += (l ? ", " : "") + std::string("{\"dense\": ") + std::to_string(layer.units) + ", \"activation\": \"" +
               activation_name(layer.activation) + "\"" + (layer.layer_norm ? ", \"layer_norm\": true" : "") + "}";
    }
    out += "]";
    if (!spec.embeddings.empty()) {
        out += ", \"embeddings\": [";
        for (size_t e = 0; e < spec.embeddings.size(); ++e) {
            const EmbeddingSpec& embedding = spec.embeddings[e];
            out += (e ? ", " : "") + std::string("{\"feature\": ") + std::to_string(embedding.feature) +
                   ", \"rows\": " + std::to_string(embedding.rows) + ", \"dim\": " + std::to_string(embedding.dim) +
                   "}";
        }
        out += "]";
    }
    if (!spec.encodings.empty()) {
        out += ", \"encodings\": [";
        for (size_t k = 0; k < spec.encodings.size(); ++k)
            out += (k ? ", " : "") + std::string("{\"feature\": ") + std::to_string(spec.encodings[k].feature) +
                   ", \"bins\": " + std::to_string(spec.encodings[k].bins) + "}";
        out += "]";
    }
    if (spec.error_quantiles > 0) out += ", \"error_quantiles\": " + std::to_string(spec.error_quantiles);
    return out + "}";
}

NetworkSpec network_from_configuration(const std::string& configuration, int inputs) {
    json document;
    try {
        document = json::parse(configuration);
    } catch (const json::exception&) {
        malformed("its configuration is not JSON");
    }
    if (!document.is_object()) malformed("its configuration is not an object");
    const auto layers = document.find("layers");
    if (layers == document.end() || !layers->is_array() || layers->empty())
        malformed("its configuration has no layers");
    NetworkSpec spec;
    spec.inputs = inputs;
    for (const json& layer : *layers) {
        if (!layer.is_object()) malformed("a layer has no size or activation");
        const auto activation = layer.find("activation");
        if (activation == layer.end() || !activation->is_string()) malformed("a layer has no size or activation");
        const int units = integer_member(layer, "dense", "a layer has no size or activation");
        bool layer_norm = false;
        if (const auto norm = layer.find("layer_norm"); norm != layer.end()) {
            if (!norm->is_boolean()) malformed("a layer's layer_norm is not a boolean");
            layer_norm = norm->get<bool>();
        }
        Activation parsed;
        try {
            parsed = parse_activation(activation->get<std::string>());
        } catch (const Error&) {
            malformed("a layer has an unknown activation");
        }
        spec.layers.push_back({units, parsed, layer_norm});
    }
    if (const auto embeddings = document.find("embeddings"); embeddings != document.end()) {
        if (!embeddings->is_array()) malformed("an embedding is malformed");
        for (const json& embedding : *embeddings) {
            if (!embedding.is_object()) malformed("an embedding is malformed");
            spec.embeddings.push_back({integer_member(embedding, "feature", "an embedding is malformed"),
                                       integer_member(embedding, "rows", "an embedding is malformed"),
                                       integer_member(embedding, "dim", "an embedding is malformed")});
        }
    }
    if (const auto encodings = document.find("encodings"); encodings != document.end()) {
        if (!encodings->is_array()) malformed("an encoding is malformed");
        for (const json& encoding : *encodings) {
            if (!encoding.is_object()) malformed("an encoding is malformed");
            spec.encodings.push_back({integer_member(encoding, "feature", "an encoding is malformed"),
                                      integer_member(encoding, "bins", "an encoding is malformed")});
        }
    }
    if (document.contains("error_quantiles"))
        spec.error_quantiles = integer_member(document, "error_quantiles", "its error_quantiles is not an integer");
    try {
        spec.validate();
        if (spec.reconstructs() && spec.error_quantiles < 2) malformed("an autoencoder has no error quantiles");
    } catch (const Error& e) {
        malformed(std::string("its configuration is not a network dendrite trains (") + e.what() + ")");
    }
    return spec;
}

std::string trees_configuration_json(const TreeEnsemble& trees) {
    char text[96];
    std::snprintf(text, sizeof text, "{\"trees\": %d, \"base_margin\": %.9g}", trees.trees(),
                  double(trees.base_margin));
    return text;
}

std::string blend_configuration_json(const NetworkSpec& spec, const TreeEnsemble& trees, double network_weight) {
    std::string network = network_configuration_json(spec);
    network.pop_back();  // its closing brace
    // The weight is scored as a float: its shortest text that reads back as that float (0.3, not 0.300000012).
    char weight_text[32];
    *std::to_chars(weight_text, weight_text + sizeof weight_text - 1, float(network_weight)).ptr = '\0';
    char text[128];
    std::snprintf(text, sizeof text, ", \"trees\": %d, \"base_margin\": %.9g, \"network_weight\": %s}", trees.trees(),
                  double(trees.base_margin), weight_text);
    return network + text;
}

}  // namespace dendrite::engine
