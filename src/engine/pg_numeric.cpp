#include "engine/pg_numeric.hpp"

#include <cstdint>
#include <cstring>

namespace dendrite::engine {

namespace {

// The header's bits, as numeric.c names them (NUMERIC_SIGN_MASK, NUMERIC_NEG, NUMERIC_SHORT, ...).
constexpr uint16_t kNumericSignMask = 0xC000, kNumericNegative = 0x4000, kNumericShort = 0x8000,
                   kNumericSpecial = 0xC000;
constexpr uint16_t kShortSignMask = 0x2000, kShortWeightSignMask = 0x0040, kShortWeightMask = 0x003F;

}  // namespace

bool numeric_payload_to_double(const char* payload, size_t payload_bytes, double* out) {
    // The payload follows a 1- or 4-byte varlena header, so it may be unaligned: words are copied out.
    auto word = [&](size_t i) {
        uint16_t w;
        std::memcpy(&w, payload + i * sizeof(uint16_t), sizeof w);
        return w;
    };
    const size_t payload_words = payload_bytes / sizeof(uint16_t);
    if (payload_words == 0) return false;
    const uint16_t header = word(0);
    if ((header & kNumericSignMask) == kNumericSpecial) return false;
    bool negative;
    int weight;
    size_t first_digit;
    if (header & kNumericShort) {
        negative = (header & kShortSignMask) != 0;
        weight = (header & kShortWeightSignMask) ? int(~kShortWeightMask | (header & kShortWeightMask))
                                                 : int(header & kShortWeightMask);
        first_digit = 1;
    } else {
        if (payload_words < 2) return false;
        negative = (header & kNumericSignMask) == kNumericNegative;
        weight = int16_t(word(1));
        first_digit = 2;
    }
    const size_t n_digits = payload_words - first_digit;
    if (n_digits == 0) {
        *out = 0.0;
        return true;
    }
    if (n_digits > 4) return false;  // five could overflow the 64-bit mantissa, and need more than 53 bits
    uint64_t mantissa = 0;
    for (size_t i = first_digit; i < payload_words; ++i) {
        const uint16_t digit = word(i);
        if (digit >= 10000) return false;
        mantissa = mantissa * 10000 + digit;
    }
    int exponent = 4 * (weight - int(n_digits - 1));  // value = mantissa * 10^exponent
    // The last digit holds up to three zeros of padding ("12.5" is 12 and 5000): drop them.
    while (mantissa != 0 && mantissa % 10 == 0) {
        mantissa /= 10;
        ++exponent;
    }
    if (mantissa > (uint64_t(1) << 53)) return false;
    static constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                              1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (exponent > 22 || exponent < -22) return false;
    const double m = double(mantissa);
    const double magnitude = exponent >= 0 ? m * kPowersOfTen[exponent] : m / kPowersOfTen[-exponent];
    *out = negative ? -magnitude : magnitude;
    return true;
}

}  // namespace dendrite::engine
