// dendrite's GUCs (defined in module.cpp's _PG_init).
#pragma once

namespace dendrite::pg {

// dendrite.training_memory, in kB: the most memory one training may hold for its data (53200 beyond it).
extern int training_memory_kb;

}  // namespace dendrite::pg
