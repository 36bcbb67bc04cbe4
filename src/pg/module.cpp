// The module: PostgreSQL's magic block and _PG_init (the GUCs, and with shared_preload_libraries the
// shared memory for training progress and for the inline history's shared log). CUDA is never touched here
// (nor in the postmaster): the GPU plugin is loaded lazily by the backend that first asks for it.
#include "engine/parallel.hpp"

#include "pg/progress.hpp"
#include "pg/settings.hpp"
#include "pg/shared_history.hpp"
#include "pg/upsert_watch.hpp"

#include "pg/postgres_headers.hpp"

#include <malloc.h>

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace dendrite::pg {
int training_memory_kb = 4 * 1024 * 1024;  // 4 GB: a few trainings at once fit a 24 GB machine
int fault_injection = int(Fault::None);
int default_device = int(DefaultDevice::Auto);
int gpu_memory_mb = 8 * 1024;  // an H100 has 80 GB; a few trainings at once, and the rest for others
char* cuda_library = nullptr;
int catalog_role = int(CatalogRole::Primary);
int max_threads = 0;
}  // namespace dendrite::pg

namespace {
const struct config_enum_entry fault_options[] = {
    {"none", int(dendrite::pg::Fault::None), false},
    {"training_out_of_memory", int(dendrite::pg::Fault::TrainingOutOfMemory), false},
    {nullptr, 0, false}};
const struct config_enum_entry device_options[] = {{"auto", int(dendrite::pg::DefaultDevice::Auto), false},
                                                   {"cpu", int(dendrite::pg::DefaultDevice::Cpu), false},
                                                   {"cuda", int(dendrite::pg::DefaultDevice::Cuda), false},
                                                   {nullptr, 0, false}};
const struct config_enum_entry catalog_options[] = {{"primary", int(dendrite::pg::CatalogRole::Primary), false},
                                                    {"replica", int(dendrite::pg::CatalogRole::Replica), false},
                                                    {nullptr, 0, false}};
}  // namespace

void _PG_init(void) {
    DefineCustomIntVariable("dendrite.training_memory", "The most memory one training may use for its data.",
                            "Training data beyond it is refused with SQLSTATE 53200 before the machine runs out.",
                            &dendrite::pg::training_memory_kb, dendrite::pg::training_memory_kb, 1024, INT_MAX / 2,
                            PGC_USERSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("dendrite.fault_injection",
                             "A failure to simulate, for tests (none or training_out_of_memory).",
                             "training_out_of_memory: an allocation fails inside the training engine between two "
                             "batches, as when the machine runs out of memory.",
                             &dendrite::pg::fault_injection, int(dendrite::pg::Fault::None), fault_options, PGC_SUSET,
                             0, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("dendrite.device", "Where train's device => 'auto' trains: auto, cpu or cuda.",
                             "auto: on the GPU when one is usable and the model can train there, else on the CPU.",
                             &dendrite::pg::default_device, int(dendrite::pg::DefaultDevice::Auto), device_options,
                             PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "dendrite.gpu_memory", "The most GPU memory one training may allocate (0: no limit but the GPU's).",
        "Beyond it training is refused with SQLSTATE 53200 before anything is allocated.", &dendrite::pg::gpu_memory_mb,
        dendrite::pg::gpu_memory_mb, 0, INT_MAX / 2, PGC_SUSET, GUC_UNIT_MB, nullptr, nullptr, nullptr);
    // Only read when a training asks for the GPU: CUDA is never initialised here or in the postmaster.
    DefineCustomStringVariable("dendrite.cuda_library", "The CUDA plugin dendrite opens on first GPU use.", nullptr,
                               &dendrite::pg::cuda_library, "$libdir/dendrite_cuda.so", PGC_SUSET, 0, nullptr, nullptr,
                               nullptr);
    DefineCustomEnumVariable("dendrite.catalog",
                             "primary: models are trained and deployed here; replica: they arrive by logical "
                             "replication.",
                             "On a shard subscribed to the coordinator's catalog publication, replica refuses "
                             "train, deploy, import and every other write to the replicated catalog (55000).",
                             &dendrite::pg::catalog_role, int(dendrite::pg::CatalogRole::Primary), catalog_options,
                             PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "dendrite.max_threads", "The most threads one dendrite statement uses in a backend (0: one per core).",
        "Training (unless its threads argument says otherwise), gbdt, explanations, featurizing passes and "
        "guard_batch's scoring of captured rows stay within it; 1 keeps all of it on the backend's own thread.",
        &dendrite::pg::max_threads, 0, 0, 256, PGC_USERSET, 0, nullptr,
        [](int limit, void*) { dendrite::engine::WorkerPool::set_thread_limit(limit); }, nullptr);
    dendrite::pg::shared_history_init();
    MarkGUCPrefixReserved("dendrite");
    dendrite::pg::watch_upserts();
#ifdef M_MMAP_THRESHOLD
    // A fixed mmap threshold for the backends that load dendrite. Training allocates and frees large
    // buffers (the training matrix, xgboost's, Eigen's); glibc's default raises its threshold to the size of
    // each large block freed, after which such blocks come from the heap, fragment it and stay resident: the
    // memory test (tests/e2e/memory.sh) saw a backend keep ~2 MB more after 500 trainings. Fixed at glibc's
    // default, large blocks are mapped and unmapped as they come and go.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    dendrite::pg::progress_init();
}
