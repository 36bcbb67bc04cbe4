// dendrite.train's settings (engine/train_options.hpp): the named arguments and the options jsonb parsed
// into TrainOptions, and every setting written back as the JSON stored with a version.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/train_options.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

TEST(TrainOptions, ParsedFromArgumentsAndOptions) {
    const TrainOptions o = parse_train_options(R"({"algorithm": "mlp", "hidden": [32, 16], "threshold": "recall:0.8"})",
                                               R"({"weight_decay": 0.01, "schedule": "cosine", "threads": 1})");
    EXPECT_EQ(o.hidden, (std::vector<int>{32, 16}));
    EXPECT_EQ(o.threshold.kind, ThresholdRule::Kind::Recall);
    EXPECT_DOUBLE_EQ(o.optimizer.weight_decay, 0.01);
    EXPECT_EQ(o.schedule.kind, "cosine");
    EXPECT_NE(train_options_json(o).find("\"weight_decay\":0.01"), std::string::npos);
    // The device and split column as asked are stored with the settings, for a retraining to ask again.
    EXPECT_NE(train_options_json(o).find("\"device\":\"auto\""), std::string::npos);
    EXPECT_NE(train_options_json(o).find("\"split_column\":null"), std::string::npos);
    const TrainOptions split =
        parse_train_options(R"({"algorithm": "gbdt", "device": "cpu", "split_column": "tx_time"})", "{}");
    EXPECT_NE(train_options_json(split).find("\"device\":\"cpu\""), std::string::npos);
    EXPECT_NE(train_options_json(split).find("\"split_column\":\"tx_time\""), std::string::npos);
    // An autoencoder's settings name no loss or class weights it did not use; a classifier's do.
    const std::string autoencoder = train_options_json(parse_train_options(R"({"algorithm": "autoencoder"})", "{}"));
    EXPECT_EQ(autoencoder.find("\"loss\""), std::string::npos);
    EXPECT_EQ(autoencoder.find("\"class_weight\""), std::string::npos);
    EXPECT_EQ(autoencoder.find("\"focal_gamma\""), std::string::npos);
    EXPECT_NE(train_options_json(o).find("\"loss\":\"bce\""), std::string::npos);
    EXPECT_NE(train_options_json(o).find("\"class_weight\""), std::string::npos);
    for (const char* bad : {R"({"no_such": 1})", R"({"epochs": 3})", R"({"weight_decay": "lots"})", R"([1])",
                            R"({"threads": 1.5})", "not json", R"({"schedule": "exponential"})"})
        EXPECT_EQ(kind_of([&] { parse_train_options("{}", bad); }), ErrorKind::InvalidParameter) << bad;
}

// The network's shape is checked with the other settings, before a row is read (tune checks every candidate
// this way before the first trains): widths of 1..4096, at most 64 hidden layers, for the networks only.
TEST(TrainOptions, HiddenLayersCheckedBeforeAnyRow) {
    for (const char* bad : {R"({"algorithm": "mlp", "hidden": [0]})", R"({"algorithm": "blend", "hidden": [64, 4097]})",
                            R"({"algorithm": "autoencoder", "hidden": [8, -1, 8]})"})
        EXPECT_EQ(kind_of([&] { parse_train_options(bad, "{}"); }), ErrorKind::InvalidParameter) << bad;
    std::string layers;
    for (int i = 0; i < 65; ++i) layers += (i ? ", 2" : "2");
    EXPECT_EQ(kind_of([&] { parse_train_options("{\"algorithm\": \"mlp\", \"hidden\": [" + layers + "]}", "{}"); }),
              ErrorKind::InvalidParameter);
    EXPECT_NO_THROW(parse_train_options(R"({"algorithm": "mlp", "hidden": [1, 4096]})", "{}"));
    // Logistic regression and gbdt have no hidden layers: whatever hidden says is not theirs to refuse.
    EXPECT_NO_THROW(parse_train_options(R"({"algorithm": "logistic_regression", "hidden": [0]})", "{}"));
    EXPECT_NO_THROW(parse_train_options(R"({"algorithm": "gbdt", "hidden": [0]})", "{}"));
}
