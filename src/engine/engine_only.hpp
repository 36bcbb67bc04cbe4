// Included first by every engine header: the engine must never see PostgreSQL.
// CMake builds the engine without PostgreSQL's include path, so `#include "postgres.h"` fails there;
// this assertion catches the other order (postgres.h first, then an engine header) in src/pg.
#pragma once

#ifdef POSTGRES_H
static_assert(false, "src/engine must not be compiled together with postgres.h; include engine headers first");
#endif
