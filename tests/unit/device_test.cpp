// The device training path (kernels/device_trainer.hpp behind the C table of engine/device_abi.h):
//  - on the host emulation (tests/unit/host_backend.hpp), always: the session's sequence of operations,
//    shapes and offsets against the engine's CPU trainer, its memory accounting and its errors;
//  - on the CUDA plugin (DENDRITE_CUDA_PLUGIN, built by CMake where nvcc is), only where a GPU is present:
//    the same parity, and the kernels against the host emulation over many shapes. Without a GPU these
//    report themselves skipped with the plugin's reason.
#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>

#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/trainer.hpp"
#include "host_backend.hpp"

using namespace dendrite::engine;
using dendrite::device::Api;
using dendrite::device::HostBackend;

namespace {

const dendrite_device_api* host_api() { return Api<HostBackend>::table(); }

struct Data {
    std::vector<float> features, labels;
    int columns = 0;
    Dataset view() const { return {features.data(), labels.data(), labels.size(), columns}; }
};

// A noisy linear rule over `columns` standard normal features, ~12 % positive.
Data make_data(size_t rows, int columns, uint64_t seed) {
    Rng rng(seed);
    Data d;
    d.columns = columns;
    for (size_t r = 0; r < rows; ++r) {
        double score = 0;
        for (int c = 0; c < columns; ++c) {
            const float x = float(rng.normal());
            d.features.push_back(x);
            score += (c % 3 == 0 ? 0.8 : c % 3 == 1 ? -0.4 : 0.1) * x;
        }
        d.labels.push_back(score + 0.5 * rng.normal() > 1.3 ? 1.0f : 0.0f);
    }
    return d;
}

double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        norm += double(b[i]) * b[i];
    }
    return std::sqrt(diff / std::max(norm, 1e-30));
}

// Parity as the GPU issue states it: parameters after the same steps within float32 tolerance (relative
// L2 error <= 1e-4) and the same metrics within 1e-3.
void expect_parity(const Data& d, TrainOptions options, const dendrite_device_api* api) {
    const TrainResult cpu = train(d.view(), options);
    options.device = api;
    const TrainResult device = train(d.view(), options);
    // An mlp encodes its inputs by default (the device trains on the rows encoded on the host).
    EXPECT_EQ(cpu.spec.encodings.empty(), options.network_piecewise_bins() == 0);
    EXPECT_EQ(device.spec.encodings.size(), cpu.spec.encodings.size());
    ASSERT_EQ(device.parameters.size(), cpu.parameters.size());
    EXPECT_LE(relative_l2(device.parameters, cpu.parameters), 1e-4);
    ASSERT_EQ(device.epochs.size(), cpu.epochs.size());
    for (size_t e = 0; e < cpu.epochs.size(); ++e) {
        EXPECT_NEAR(device.epochs[e].loss, cpu.epochs[e].loss, 1e-4 * std::max(1.0, cpu.epochs[e].loss)) << e;
        EXPECT_NEAR(device.epochs[e].validation_loss, cpu.epochs[e].validation_loss, 1e-4) << e;
        EXPECT_NEAR(device.epochs[e].metrics.pr_auc, cpu.epochs[e].metrics.pr_auc, 1e-3) << e;
        EXPECT_NEAR(device.epochs[e].metrics.roc_auc, cpu.epochs[e].metrics.roc_auc, 1e-3) << e;
    }
    EXPECT_EQ(device.best_epoch, cpu.best_epoch);
}

// The configurations every parity test runs: each optimizer, activation and loss, clipping, a schedule,
// a last batch shorter than the others, logistic regression, early stopping, weight averaging, an mlp with
// and without the piecewise-linear encoding of its inputs.
std::vector<TrainOptions> parity_configurations() {
    std::vector<TrainOptions> all;
    TrainOptions base;
    base.epochs = 3;
    base.hidden = {16, 8};
    base.batch_size = 200;  // 1,600 training rows: 8 batches, a shorter one with the 10 % validation split
    base.validation_fraction = 0.1;
    base.threads = 2;
    all.push_back(base);  // adam, relu, bce, balanced weights
    TrainOptions sgd = base;
    sgd.optimizer.kind = "sgd";
    sgd.optimizer.nesterov = true;
    sgd.optimizer.learning_rate = 0.05;
    sgd.optimizer.weight_decay = 1e-3;
    sgd.activation = "tanh";
    sgd.clip_norm = 0.5;
    all.push_back(sgd);
    TrainOptions rmsprop = base;
    rmsprop.optimizer.kind = "rmsprop";
    rmsprop.optimizer.momentum = 0.5;
    rmsprop.activation = "gelu";
    rmsprop.loss.kind = "focal";
    rmsprop.schedule.kind = "cosine";
    rmsprop.schedule.warmup_epochs = 1;
    all.push_back(rmsprop);
    TrainOptions adamw = base;
    adamw.optimizer.kind = "adamw";
    adamw.optimizer.weight_decay = 0.01;
    adamw.activation = "leaky_relu";
    adamw.hidden = {32, 16, 8};
    adamw.class_weight = ClassWeight::parse("none");
    all.push_back(adamw);
    TrainOptions sigmoid = base;
    sigmoid.activation = "sigmoid";
    sigmoid.optimizer.kind = "rmsprop";
    sigmoid.optimizer.momentum = 0;
    all.push_back(sigmoid);
    TrainOptions logistic = base;
    logistic.algorithm = "logistic_regression";
    logistic.batch_size = 64;
    all.push_back(logistic);
    TrainOptions early = base;
    early.epochs = 6;
    early.patience = 2;
    early.optimizer.learning_rate = 0.05;
    all.push_back(early);
    TrainOptions averaged = base;  // weight averaging: each epoch's mean is evaluated on the device
    averaged.epochs = 4;
    averaged.average_epochs = 3;
    all.push_back(averaged);
    TrainOptions unencoded = base;  // the network of its inputs as they are
    unencoded.piecewise_bins = 0;
    all.push_back(unencoded);
    TrainOptions averaged_early = early;  // and early stopping on the means
    averaged_early.average_epochs = 2;
    all.push_back(averaged_early);
    TrainOptions autoencoder = base;  // the reconstruction loss, measured on the host each epoch
    autoencoder.algorithm = "autoencoder";
    autoencoder.hidden = {16, 4, 16};
    autoencoder.epochs = 4;
    autoencoder.patience = 2;
    all.push_back(autoencoder);
    TrainOptions averaged_autoencoder = autoencoder;
    averaged_autoencoder.average_epochs = 2;
    averaged_autoencoder.optimizer.kind = "sgd";
    averaged_autoencoder.optimizer.learning_rate = 0.05;
    averaged_autoencoder.clip_norm = 0.5;
    all.push_back(averaged_autoencoder);
    return all;
}

// The CUDA plugin built beside the tests, if any, and why it cannot be used when it cannot.
const dendrite_device_api* cuda_api(std::string* why) {
#ifdef DENDRITE_CUDA_PLUGIN
    const char* path = std::getenv("DENDRITE_CUDA_PLUGIN") ? std::getenv("DENDRITE_CUDA_PLUGIN") : DENDRITE_CUDA_PLUGIN;
    const dendrite_device_api* api = load_device_plugin(path, why);
    if (!api) return nullptr;
    int devices = 0;
    char name[256] = "";
    dendrite_device_status status{};
    if (api->describe(&devices, name, sizeof name, &status) != DENDRITE_DEVICE_OK || devices == 0) {
        *why = std::string("no usable GPU: ") + status.message;
        return nullptr;
    }
    return api;
#else
    *why = "nvcc was not found when this build was configured, so the CUDA plugin was not built";
    return nullptr;
#endif
}

}  // namespace

TEST(DeviceHost, TrainsLikeTheCpuEngine) {
    const Data d = make_data(1800, 12, 7);
    const auto configurations = parity_configurations();
    for (size_t i = 0; i < configurations.size(); ++i) {
        SCOPED_TRACE("configuration " + std::to_string(i));
        expect_parity(d, configurations[i], host_api());
    }
    EXPECT_EQ(HostBackend::live_allocations, 0);
}

TEST(DeviceHost, TheBudgetIsCheckedBeforeAnyAllocation) {
    const Data d = make_data(500, 4, 8);
    TrainOptions options;
    options.epochs = 1;
    options.device = host_api();
    options.device_memory_budget = 1000;  // bytes: far too few
    try {
        train(d.view(), options);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        EXPECT_STREQ(e.what(), "out of GPU memory");
        EXPECT_NE(e.detail().find("over the budget of 0 MiB"), std::string::npos) << e.detail();
    }
    EXPECT_EQ(HostBackend::live_allocations, 0);
}

// The device trains an encoded network on a copy of the rows expanded on the host: that copy counts against
// what dendrite.training_memory leaves (the CPU encodes a batch at a time and needs no copy).
TEST(DeviceHost, TheEncodedCopyOfTheRowsIsCheckedAgainstTheHostBudget) {
    const Data d = make_data(2000, 6, 8);
    TrainOptions options;
    options.epochs = 1;
    options.piecewise_bins = 4;
    options.device = host_api();
    options.host_memory_headroom = 1000;  // bytes: fewer than 2,000 encoded rows take
    try {
        train(d.view(), options);
        ADD_FAILURE() << "no error: were no inputs encoded?";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        EXPECT_STREQ(e.what(), "the encoded training rows do not fit in dendrite.training_memory");
        EXPECT_NE(e.detail().find("2000 rows with their piecewise-linear encodings"), std::string::npos) << e.detail();
    }
    EXPECT_EQ(HostBackend::live_allocations, 0);
    options.host_memory_headroom = 2000 * 6 * 5 * sizeof(float);  // every input with 4 bins beside its value
    EXPECT_NO_THROW(train(d.view(), options));
    options.piecewise_bins = 0;  // no encoding, no copy
    options.host_memory_headroom = 0;
    EXPECT_NO_THROW(train(d.view(), options));
    EXPECT_EQ(HostBackend::live_allocations, 0);
}

TEST(DeviceHost, AnAllocationFailingHalfWayLeaksNothing) {
    const Data d = make_data(500, 4, 9);
    TrainOptions options;
    options.epochs = 1;
    options.device = host_api();
    for (int after : {0, 3, 10}) {
        HostBackend::allocations_before_failure = after;
        try {
            train(d.view(), options);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        }
        EXPECT_EQ(HostBackend::live_allocations, 0) << after;
    }
    HostBackend::allocations_before_failure = -1;
    HostBackend::free_bytes = 1000;  // the device's free memory, not a budget, is the limit
    try {
        train(d.view(), options);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        EXPECT_NE(e.detail().find("MiB free"), std::string::npos) << e.detail();
    }
    HostBackend::free_bytes = size_t(1) << 40;
    EXPECT_EQ(HostBackend::live_allocations, 0);
}

TEST(DeviceHost, WhatTheGpuDoesNotTrainIsRefused) {
    const Data d = make_data(300, 4, 10);
    auto refused = [&](TrainOptions options) {
        options.epochs = 1;
        options.device = host_api();
        try {
            train(d.view(), options);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::NotSupported);
            return std::string(e.detail());
        }
        return std::string("trained");
    };
    TrainOptions layer_norm;
    layer_norm.layer_norm = true;
    EXPECT_EQ(refused(layer_norm), "layer_norm is not implemented on the GPU");
    TrainOptions dropout;
    dropout.dropout = 0.2;
    EXPECT_EQ(refused(dropout), "dropout is not implemented on the GPU");
    TrainOptions embedded;
    embedded.index_features = {{1, 5}};
    EXPECT_NE(refused(embedded).find("embeddings"), std::string::npos);
    TrainOptions autoencoder;  // trains there, but not with what the GPU lacks
    autoencoder.algorithm = "autoencoder";
    autoencoder.hidden = {4, 2, 4};
    EXPECT_EQ(refused(autoencoder), "trained");
    autoencoder.layer_norm = true;
    EXPECT_EQ(refused(autoencoder), "layer_norm is not implemented on the GPU");
    EXPECT_EQ(device_unsupported_reason(TrainOptions{}), "");
}

TEST(DeviceHost, RowsOutsideTheSetAndOversizedStepsAreRefusedByTheSession) {
    const Data d = make_data(100, 3, 11);
    const dendrite_device_api* api = host_api();
    const int32_t units[] = {4, 1}, activations[] = {DENDRITE_ACT_RELU, DENDRITE_ACT_SIGMOID};
    dendrite_device_config config{};
    config.inputs = 3;
    config.layers = 2;
    config.units = units;
    config.activations = activations;
    config.optimizer = DENDRITE_OPT_ADAM;
    config.beta1 = 0.9;
    config.beta2 = 0.999;
    config.epsilon = 1e-8;
    config.max_batch = 10;
    void* session = nullptr;
    dendrite_device_status status{};
    ASSERT_EQ(api->open(&config, d.features.data(), d.labels.data(), 100, &session, &status), DENDRITE_DEVICE_OK);
    const uint32_t bad[] = {1, 2, 100};
    EXPECT_EQ(api->set_epoch_rows(session, bad, 3, &status), DENDRITE_DEVICE_INVALID);
    EXPECT_STREQ(status.message, "a row index outside the uploaded training set");
    const uint32_t good[] = {1, 2, 3};
    ASSERT_EQ(api->set_epoch_rows(session, good, 3, &status), DENDRITE_DEVICE_OK);
    EXPECT_EQ(api->step(session, 2, 2, 1, 1, 0.1, &status), DENDRITE_DEVICE_INVALID);
    EXPECT_EQ(api->step(session, 0, 11, 1, 1, 0.1, &status), DENDRITE_DEVICE_INVALID);
    std::vector<float> parameters(3);
    EXPECT_EQ(api->get_parameters(session, parameters.data(), 3, &status), DENDRITE_DEVICE_INVALID);
    EXPECT_STREQ(status.message, "expected 21 parameters, got 3");
    api->close(session);
    config.units = nullptr;
    EXPECT_EQ(api->open(&config, d.features.data(), d.labels.data(), 100, &session, &status), DENDRITE_DEVICE_INVALID);
    EXPECT_EQ(session, nullptr);
    EXPECT_EQ(HostBackend::live_allocations, 0);
}

TEST(DevicePlugin, AMissingPluginSaysWhy) {
    std::string why;
    EXPECT_EQ(load_device_plugin("/nonexistent/dendrite_cuda.so", &why), nullptr);
    EXPECT_NE(why.find("/nonexistent/dendrite_cuda.so"), std::string::npos) << why;
}

TEST(DeviceCuda, TrainsLikeTheCpuEngine) {
    std::string why;
    const dendrite_device_api* api = cuda_api(&why);
    if (!api) GTEST_SKIP() << why;
    const Data d = make_data(1800, 12, 7);
    const auto configurations = parity_configurations();
    for (size_t i = 0; i < configurations.size(); ++i) {
        SCOPED_TRACE("configuration " + std::to_string(i));
        expect_parity(d, configurations[i], api);
    }
}

// One step of every kind of layer on many shapes: the CUDA kernels and cuBLAS against the host emulation
// (the unfused reference), parameters and loss after the step.
TEST(DeviceCuda, KernelsMatchTheReferenceOnManyShapes) {
    std::string why;
    const dendrite_device_api* api = cuda_api(&why);
    if (!api) GTEST_SKIP() << why;
    Rng rng(99);
    for (int trial = 0; trial < 40; ++trial) {
        const int inputs = 1 + int(rng.uniform() * 100), layers = 1 + trial % 4;
        const int batch = trial % 5 == 0 ? 1 : 1 + int(rng.uniform() * 2048);
        std::vector<int32_t> units, activations;
        for (int l = 0; l + 1 < layers; ++l) {
            units.push_back(16 + int(rng.uniform() * 113));
            activations.push_back(int32_t(1 + trial % 5));
        }
        const bool reconstructs = trial % 4 == 3;  // an autoencoder: one identity output per input
        units.push_back(reconstructs ? inputs : 1);
        activations.push_back(reconstructs ? DENDRITE_ACT_IDENTITY : DENDRITE_ACT_SIGMOID);
        const Data d = make_data(size_t(batch) + 50, inputs, uint64_t(trial));
        dendrite_device_config config{};
        config.inputs = inputs;
        config.layers = layers;
        config.units = units.data();
        config.activations = activations.data();
        config.optimizer = trial % 4 == 0   ? DENDRITE_OPT_SGD
                           : trial % 4 == 1 ? DENDRITE_OPT_RMSPROP
                                            : DENDRITE_OPT_ADAM;
        config.momentum = 0.9;
        config.beta1 = 0.9;
        config.beta2 = 0.999;
        config.epsilon = 1e-8;
        config.alpha = 0.99;
        config.loss = reconstructs     ? DENDRITE_LOSS_RECONSTRUCTION
                      : trial % 3 == 0 ? DENDRITE_LOSS_FOCAL
                                       : DENDRITE_LOSS_BCE;
        config.focal_gamma = 2;
        config.clip_norm = trial % 2 ? 1.0 : 0;
        config.max_batch = batch;
        size_t n_parameters = 0;
        for (int l = 0, fan_in = inputs; l < layers; fan_in = units[size_t(l)], ++l)
            n_parameters += size_t(units[size_t(l)]) * size_t(fan_in + 1);
        std::vector<float> initial(n_parameters);
        for (float& p : initial) p = float(rng.uniform(-0.3, 0.3));
        std::vector<uint32_t> rows(d.labels.size());
        for (size_t i = 0; i < rows.size(); ++i) rows[i] = uint32_t(rows.size() - 1 - i);
        std::vector<float> after[2], logits[2];
        double loss[2] = {0, 0};
        const dendrite_device_api* apis[2] = {host_api(), api};
        for (int k = 0; k < 2; ++k) {
            void* session = nullptr;
            dendrite_device_status status{};
            ASSERT_EQ(apis[k]->open(&config, d.features.data(), d.labels.data(), d.labels.size(), &session, &status), 0)
                << status.message;
            ASSERT_EQ(apis[k]->set_parameters(session, initial.data(), n_parameters, &status), 0) << status.message;
            ASSERT_EQ(apis[k]->set_epoch_rows(session, rows.data(), rows.size(), &status), 0) << status.message;
            ASSERT_EQ(apis[k]->step(session, 3, batch, 4.0f, 0.6f, 1e-2, &status), 0) << status.message;
            ASSERT_EQ(apis[k]->take_loss(session, &loss[k], &status), 0) << status.message;
            after[k].resize(n_parameters);
            ASSERT_EQ(apis[k]->get_parameters(session, after[k].data(), n_parameters, &status), 0) << status.message;
            logits[k].resize(rows.size());
            if (reconstructs)
                ASSERT_EQ(apis[k]->predict_logits(session, rows.data(), rows.size(), logits[k].data(), &status),
                          DENDRITE_DEVICE_INVALID);  // its outputs are measured on the host
            else
                ASSERT_EQ(apis[k]->predict_logits(session, rows.data(), rows.size(), logits[k].data(), &status), 0)
                    << status.message;
            apis[k]->close(session);
        }
        SCOPED_TRACE("trial " + std::to_string(trial) + ": inputs " + std::to_string(inputs) + ", layers " +
                     std::to_string(layers) + ", batch " + std::to_string(batch));
        EXPECT_LE(relative_l2(after[1], after[0]), 1e-4);
        EXPECT_LE(relative_l2(logits[1], logits[0]), 1e-4);
        EXPECT_NEAR(loss[1], loss[0], 1e-4 * std::max(1.0, std::fabs(loss[0])));
    }
}
