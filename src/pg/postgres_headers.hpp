// The only way src/pg includes PostgreSQL: C headers with C linkage. Engine headers must come first in a
// file (src/engine/engine_only.hpp asserts that postgres.h has not been seen).
#pragma once

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}
