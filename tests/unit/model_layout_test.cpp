// The one description of a network version's rows (engine/model_layout.hpp): the tensors tile the flat
// buffer in order, and a configuration reads back as the network that wrote it.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/error.hpp"
#include "engine/model_layout.hpp"

using namespace dendrite::engine;

namespace {

NetworkSpec embedded_network() {
    NetworkSpec spec = NetworkSpec::binary_classifier(5, {8, 4}, Activation::Gelu, /*layer_norm=*/true);
    spec.embeddings = {{1, 7, 3}, {4, 2, 2}};
    spec.validate();
    return spec;
}

}  // namespace

TEST(ModelLayout, TensorsTileTheFlatBufferInOrder) {
    const NetworkSpec spec = embedded_network();
    const std::vector<TensorSlot> slots = tensor_layout(spec);
    ASSERT_EQ(slots.size(), 2u + 4u + 4u + 2u);  // 2 tables, 2 normalized hidden layers, the output layer
    size_t next = 0;
    for (const TensorSlot& slot : slots) {
        EXPECT_EQ(slot.offset, next) << slot.layer << "." << slot.name;
        EXPECT_EQ(slot.count, size_t(slot.shape[0]) * size_t(slot.dims == 2 ? slot.shape[1] : 1));
        next += slot.count;
    }
    EXPECT_EQ(next, spec.parameter_count());
    EXPECT_STREQ(slots[0].layer, "embedding_0");
    EXPECT_EQ(slots[1].layer_index, -2);
    EXPECT_STREQ(slots[2].layer, "dense_0");
    EXPECT_STREQ(slots[2].name, "kernel");
    EXPECT_EQ(slots[2].shape[0], spec.dense_inputs());  // the first layer sees each table's row, not the index
    EXPECT_EQ(slots[2].shape[1], 8);
    EXPECT_STREQ(slots[5].name, "norm_shift");
    EXPECT_STREQ(slots.back().name, "bias");
    EXPECT_EQ(slots.back().dims, 1);
}

TEST(ModelLayout, ConfigurationReadsBackAsTheNetworkThatWroteIt) {
    const NetworkSpec spec = embedded_network();
    const std::string configuration = network_configuration_json(spec);
    EXPECT_EQ(
        configuration,
        "{\"layers\": [{\"dense\": 8, \"activation\": \"gelu\", \"layer_norm\": true}, {\"dense\": 4, "
        "\"activation\": \"gelu\", \"layer_norm\": true}, {\"dense\": 1, \"activation\": \"sigmoid\"}], "
        "\"embeddings\": [{\"feature\": 1, \"rows\": 7, \"dim\": 3}, {\"feature\": 4, \"rows\": 2, \"dim\": 2}]}");
    const NetworkSpec read = network_from_configuration(configuration, 5);
    ASSERT_EQ(read.layers.size(), spec.layers.size());
    for (size_t l = 0; l < spec.layers.size(); ++l) {
        EXPECT_EQ(read.layers[l].units, spec.layers[l].units);
        EXPECT_EQ(read.layers[l].activation, spec.layers[l].activation);
        EXPECT_EQ(read.layers[l].layer_norm, spec.layers[l].layer_norm);
    }
    ASSERT_EQ(read.embeddings.size(), 2u);
    EXPECT_EQ(read.embeddings[1].feature, 4);
    EXPECT_EQ(read.parameter_count(), spec.parameter_count());
    // Logistic regression: no hidden layer, no embeddings key.
    EXPECT_EQ(network_configuration_json(NetworkSpec::binary_classifier(3, {}, Activation::Relu)),
              "{\"layers\": [{\"dense\": 1, \"activation\": \"sigmoid\"}]}");
}

TEST(ModelLayout, EditedConfigurationsAreErrorsNamingWhatIsWrong) {
    auto message = [](const std::string& configuration, int inputs = 5) -> std::string {
        try {
            network_from_configuration(configuration, inputs);
        } catch (const Error& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_EQ(message("not json"), "its configuration is not JSON");
    EXPECT_EQ(message("{\"layers\": []}"), "its configuration has no layers");
    EXPECT_EQ(message("{\"layers\": [{\"dense\": 1}]}"), "a layer has no size or activation");
    EXPECT_EQ(message("{\"layers\": [{\"dense\": 1.5, \"activation\": \"sigmoid\"}]}"),
              "a layer has no size or activation");
    EXPECT_EQ(message("{\"layers\": [{\"dense\": 1, \"activation\": \"swish\"}]}"),
              "a layer has an unknown activation");
    EXPECT_NE(message("{\"layers\": [{\"dense\": 2, \"activation\": \"sigmoid\"}]}").find("exactly one unit"),
              std::string::npos);
    EXPECT_NE(
        message(
            "{\"layers\": [{\"dense\": -3, \"activation\": \"relu\"}, {\"dense\": 1, \"activation\": \"sigmoid\"}]}")
            .find("widths"),
        std::string::npos);
    EXPECT_EQ(
        message("{\"layers\": [{\"dense\": 1, \"activation\": \"sigmoid\"}], \"embeddings\": [{\"feature\": 1}]}"),
        "an embedding is malformed");
    // An embedding of a feature the featurizer does not have.
    EXPECT_NE(message("{\"layers\": [{\"dense\": 1, \"activation\": \"sigmoid\"}], "
                      "\"embeddings\": [{\"feature\": 9, \"rows\": 2, \"dim\": 2}]}")
                  .find("ascending order"),
              std::string::npos);
    EXPECT_EQ(message("{\"layers\": [{\"dense\": 1, \"activation\": \"sigmoid\"}]}"), "accepted");
}
