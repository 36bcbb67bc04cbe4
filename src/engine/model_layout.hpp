// A model version as the catalog stores it, described once (as tiny-cuda-nn's objects own their parameter
// layout): its configuration (dendrite.model_versions.configuration, JSON) and, for a network, its named
// tensors (the rows of dendrite.parameters) with where each one lives in the flat parameter buffer. The
// glue's one writer and one reader (src/pg/model_rows.cpp) turn a trained model into rows and rows back into
// a model that scores; export and import copy the rows as they are.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <string>
#include <vector>

#include "engine/gbdt.hpp"
#include "engine/network.hpp"

namespace dendrite::engine {

// One named tensor: one row of dendrite.parameters. Plain data with fixed-size names, so that the glue can
// keep a copy in memory that PostgreSQL owns.
struct TensorSlot {
    int layer_index;  // dense layer l: l; embedding table e: -1 - e; encoding k: -1 - k
    char layer[24];   // "dense_<l>", "embedding_<e>" or "encoding_<k>"
    char name[16];    // kernel {inputs, units} (row-major), bias / norm_scale / norm_shift {units}, table {rows, dim},
                      // edges {bins + 1}
    int dims;         // 1 or 2
    int shape[2];     // shape[1] = 0 when dims is 1
    size_t offset;    // its first float in the flat buffer (NetworkSpec's layout)
    size_t count;     // the product of its shape
};

// Every tensor of a network, in the order of the flat buffer: the embedding tables, then per dense layer
// its kernel, bias and, with layer normalization, norm_scale and norm_shift, then each encoding's edges (not
// trained: fitted before training, piecewise_encoding.hpp); an autoencoder's last is its
// table of training errors (layer "anomaly_score", name "error_quantiles", layer_index = the number of
// layers). Their counts add up to spec.stored_floats().
std::vector<TensorSlot> tensor_layout(const NetworkSpec& spec);

// A network's configuration: {"layers": [{"dense": 16, "activation": "relu", "layer_norm": true}, ...,
// {"dense": 1, "activation": "sigmoid"}], "embeddings": [{"feature": 3, "rows": 12, "dim": 4}],
// "encodings": [{"feature": 5, "bins": 8}]} (no "embeddings" or "encodings" key without them); an
// autoencoder's last layer is {"dense": <inputs>, "activation": "identity"} and it has "error_quantiles": <count>.
std::string network_configuration_json(const NetworkSpec& spec);
// The network a stored configuration describes for inputs features, validated. Throws Error naming what is
// wrong (the glue reports it as a corrupted version).
NetworkSpec network_from_configuration(const std::string& configuration, int inputs);

// A tree ensemble's configuration: {"trees": 300, "base_margin": -3.2}.
std::string trees_configuration_json(const TreeEnsemble& trees);
// A blend's: the network's keys, then the trees' and the network's share of the logit:
// {"layers": [...], "trees": 300, "base_margin": -3.2, "network_weight": 0.5}.
std::string blend_configuration_json(const NetworkSpec& spec, const TreeEnsemble& trees, double network_weight);

}  // namespace dendrite::engine
