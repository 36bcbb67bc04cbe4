/* The C interface between the engine and a training device plugin (kernels/plugin.cu, built into
 * dendrite_cuda.so, which dendrite.so opens with dlopen on first GPU use). Plain C on purpose: nothing of C++
 * (exceptions, std types, vtables) crosses the boundary, every call returns a status code, and a plugin
 * built by another compiler (nvcc) cannot disagree with the engine about a layout.
 *
 * A session holds the training set on the device (uploaded once), the parameters, the optimizer's state and
 * the buffers of one batch. The engine keeps everything else (split, shuffles, schedule, metrics, early
 * stopping), so a model trained on a device follows the CPU's steps one for one. */
#ifndef DENDRITE_DEVICE_ABI_H
#define DENDRITE_DEVICE_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DENDRITE_DEVICE_ABI_VERSION 2 /* 2: DENDRITE_LOSS_RECONSTRUCTION */

enum dendrite_device_code {
    DENDRITE_DEVICE_OK = 0,
    DENDRITE_DEVICE_OUT_OF_MEMORY = 1, /* the device's memory, or the memory budget: 53200 */
    DENDRITE_DEVICE_UNAVAILABLE = 2,   /* no driver, no device: 0A000 */
    DENDRITE_DEVICE_FAILED = 3,        /* a CUDA or cuBLAS call failed: XX000 */
    DENDRITE_DEVICE_INVALID = 4        /* a configuration the plugin does not take: 0A000 */
};

typedef struct dendrite_device_status {
    int code;
    char message[512];
} dendrite_device_status;

/* engine::Activation's values */
enum {
    DENDRITE_ACT_IDENTITY = 0,
    DENDRITE_ACT_RELU,
    DENDRITE_ACT_TANH,
    DENDRITE_ACT_SIGMOID,
    DENDRITE_ACT_LEAKY_RELU,
    DENDRITE_ACT_GELU
};
enum { DENDRITE_OPT_SGD = 0, DENDRITE_OPT_ADAM, DENDRITE_OPT_ADAMW, DENDRITE_OPT_RMSPROP };
/* RECONSTRUCTION: an autoencoder. The output layer has `inputs` units and the identity activation; the loss
 * of a batch is the mean over its rows of mean((outputs - x)^2), the labels are not read, and predict_logits
 * is refused (the engine measures it on the host from the parameters). */
enum { DENDRITE_LOSS_BCE = 0, DENDRITE_LOSS_FOCAL, DENDRITE_LOSS_RECONSTRUCTION };

typedef struct dendrite_device_config {
    /* The network: dense layers only (no layer normalization, dropout or embeddings on a device), the
     * engine's flat parameter layout: per layer its kernel (units x inputs, column-major) then its bias. */
    int32_t inputs;
    int32_t layers;
    const int32_t* units;       /* per layer; the last is 1 (the logit), or inputs (an autoencoder) */
    const int32_t* activations; /* per layer; the last layer's is not applied (the loss takes logits) */
    /* The optimizer, with torch's update rules as engine/optimizer.hpp states them. */
    int32_t optimizer;
    double momentum, beta1, beta2, epsilon, alpha, weight_decay;
    int32_t nesterov;
    int32_t loss;
    double focal_gamma;
    double clip_norm;     /* 0: none */
    int32_t max_batch;    /* the most rows one step takes */
    size_t memory_budget; /* bytes the session may allocate on the device; 0: no limit but the device's */
} dendrite_device_config;

typedef struct dendrite_device_api {
    int32_t abi_version;
    /* Usable devices (0 when there is no driver or no device: status says which) and the first one's name. */
    int (*describe)(int* devices, char* name, size_t name_size, dendrite_device_status* status);
    /* Uploads the training set (rows x config->inputs floats, row-major; rows labels, 0 or 1). */
    int (*open)(const dendrite_device_config* config, const float* features, const float* labels, size_t rows,
                void** session, dendrite_device_status* status);
    int (*set_parameters)(void* session, const float* parameters, size_t count, dendrite_device_status* status);
    int (*get_parameters)(void* session, float* parameters, size_t count, dendrite_device_status* status);
    /* The order of an epoch's rows (indices into the uploaded set); steps read batches of it by offset. */
    int (*set_epoch_rows)(void* session, const uint32_t* rows, size_t count, dendrite_device_status* status);
    /* One gradient step on epoch rows [offset, offset + count): forward, weighted loss (divided by count),
     * backward, clipping, the optimizer's update at learning_rate. Asynchronous: an error may surface at the
     * next call that reads back. */
    int (*step)(void* session, size_t offset, int32_t count, float positive_weight, float negative_weight,
                double learning_rate, dendrite_device_status* status);
    /* The sum of the batch losses since the last call (then zero). */
    int (*take_loss)(void* session, double* loss_sum, dendrite_device_status* status);
    /* Logits of the listed rows of the uploaded set, with the current parameters. */
    int (*predict_logits)(void* session, const uint32_t* rows, size_t count, float* logits,
                          dendrite_device_status* status);
    void (*close)(void* session);
} dendrite_device_api;

/* The one symbol a plugin exports. */
typedef const dendrite_device_api* (*dendrite_device_api_function)(void);
#define DENDRITE_DEVICE_API_SYMBOL "dendrite_device_api_v1"

#ifdef __cplusplus
}
#endif

#endif
