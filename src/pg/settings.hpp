// dendrite's GUCs (defined in module.cpp's _PG_init).
#pragma once

namespace dendrite::pg {

// dendrite.training_memory, in kB: the most memory one training may hold for its data (53200 beyond it).
extern int training_memory_kb;

// dendrite.fault_injection (superuser only, for tests): a failure to simulate where the real one cannot be
// provoked on demand. 'training_out_of_memory': an allocation fails inside the engine between two batches.
enum class Fault { None, TrainingOutOfMemory };
extern int fault_injection;

// dendrite.device: what train's device => 'auto' (its default) resolves to: 'auto' (the GPU when one is
// usable and the model can train there, else the CPU), 'cpu' or 'cuda'.
enum class DefaultDevice { Auto, Cpu, Cuda };
extern int default_device;

// dendrite.gpu_memory, in MB (superuser only): the most GPU memory one training may allocate; 0: the GPU's.
extern int gpu_memory_mb;

// dendrite.cuda_library (superuser only): the CUDA plugin dendrite.so opens on first GPU use.
extern char* cuda_library;

// dendrite.catalog (superuser only): 'primary' (models are trained and deployed in this database) or 'replica'
// (a shard whose catalog arrives by logical replication from the coordinator: a session's write to a
// replicated catalog table is refused with 55000, so ids never collide with the coordinator's).
enum class CatalogRole { Primary, Replica };
extern int catalog_role;

// dendrite.max_threads: the most threads one statement uses in a backend (0: one per core); its assign hook
// sets engine::WorkerPool's thread limit, which every automatic choice of threads reads.
extern int max_threads;

}  // namespace dendrite::pg
