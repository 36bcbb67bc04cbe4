// dendrite's GUCs (defined in module.cpp's _PG_init).
#pragma once

namespace dendrite::pg {

// dendrite.training_memory, in kB: the most memory one training may hold for its data (53200 beyond it).
extern int training_memory_kb;

// dendrite.fault_injection (superuser only, for tests): a failure to simulate where the real one cannot be
// provoked on demand. 'training_out_of_memory': an allocation fails inside the engine between two batches.
enum class Fault { None, TrainingOutOfMemory };
extern int fault_injection;

}  // namespace dendrite::pg
