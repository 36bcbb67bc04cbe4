// The module: PostgreSQL's magic block and _PG_init. CUDA is never touched here (nor in the postmaster):
// the GPU plugin is loaded lazily by the backend that first asks for it.
#include "pg/postgres_headers.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {}
