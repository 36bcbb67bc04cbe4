// PostgreSQL's numeric, read from its stored bytes without PostgreSQL: the glue hands over a value's
// payload (what follows its varlena header) and gets the double numeric_float8 would give, when that is
// cheap to get exactly. numeric_float8 prints the numeric and parses the text (~8 % of a scoring SELECT
// over a numeric column).
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>

namespace dendrite::engine {

// The layout (src/backend/utils/adt/numeric.c; fixed since 9.1, because pg_upgrade keeps table files as
// they are): a 16-bit header (sign, and for the short form the display scale and weight), for the long
// form a 16-bit weight, then base-10000 digits, most significant first, trailing zero digits stripped.
// Returns false for NaN and infinities, malformed payloads and values outside Clinger's fast path (an
// integer mantissa M <= 2^53 of at most four digits and 10^e with |e| <= 22, both exact doubles, so
// M * 10^e or M / 10^-e is rounded once: the same double as a correctly rounded strtod of the decimal
// text); the caller then converts through numeric_float8.
bool numeric_payload_to_double(const char* payload, size_t payload_bytes, double* out);

}  // namespace dendrite::engine
