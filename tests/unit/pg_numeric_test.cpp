// PostgreSQL's numeric read from its stored bytes: wherever the fast path answers, it gives exactly the
// double that numeric_float8 would (a correctly rounded strtod of the decimal text); elsewhere it declines.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/pg_numeric.hpp"
#include "engine/rng.hpp"

using namespace dendrite::engine;

namespace {

// The payload PostgreSQL stores for a decimal text such as "-1234.5600": header, (weight,) base-10000
// digits with leading and trailing zero digits stripped; short form when dscale and weight allow it.
std::vector<uint16_t> encode(const std::string& text, bool allow_short = true) {
    bool negative = text[0] == '-';
    std::string body = negative ? text.substr(1) : text;
    const size_t point = body.find('.');
    std::string integer = point == std::string::npos ? body : body.substr(0, point);
    std::string fraction = point == std::string::npos ? "" : body.substr(point + 1);
    const int dscale = int(fraction.size());
    // Pad to whole base-10000 groups around the decimal point.
    while (integer.size() % 4) integer.insert(0, "0");
    while (fraction.size() % 4) fraction += "0";
    std::vector<uint16_t> groups;
    for (size_t i = 0; i < integer.size(); i += 4) groups.push_back(uint16_t(std::stoi(integer.substr(i, 4))));
    for (size_t i = 0; i < fraction.size(); i += 4) groups.push_back(uint16_t(std::stoi(fraction.substr(i, 4))));
    int weight = int(integer.size() / 4) - 1;
    size_t first = 0, last = groups.size();
    while (first < last && groups[first] == 0) {
        ++first;
        --weight;
    }
    while (last > first && groups[last - 1] == 0) --last;
    std::vector<uint16_t> digits(groups.begin() + long(first), groups.begin() + long(last));
    if (digits.empty()) {
        weight = 0;
        negative = false;
    }
    std::vector<uint16_t> payload;
    if (allow_short && dscale <= 63 && weight >= -64 && weight <= 63) {
        payload.push_back(
            uint16_t(0x8000 | (negative ? 0x2000 : 0) | (dscale << 7) | (weight < 0 ? 0x40 : 0) | (weight & 0x3F)));
    } else {
        payload.push_back(uint16_t((negative ? 0x4000 : 0) | (dscale & 0x3FFF)));
        payload.push_back(uint16_t(int16_t(weight)));
    }
    payload.insert(payload.end(), digits.begin(), digits.end());
    return payload;
}

bool convert(const std::vector<uint16_t>& payload, double* out, size_t offset = 0) {
    // At an odd offset too: a 1-byte varlena header leaves the payload unaligned.
    std::vector<char> bytes(offset + payload.size() * sizeof(uint16_t) + 1);
    if (!payload.empty()) std::memcpy(bytes.data() + offset, payload.data(), payload.size() * sizeof(uint16_t));
    return numeric_payload_to_double(bytes.data() + offset, payload.size() * sizeof(uint16_t), out);
}

std::string random_decimal(Rng& rng) {
    std::string text = rng.uniform() < 0.3 ? "-" : "";
    const int integer_digits = int(rng.below(21)), fraction_digits = int(rng.below(13));
    text += integer_digits == 0 ? "0" : std::to_string(1 + rng.below(9));
    for (int i = 1; i < integer_digits; ++i) text += char('0' + rng.below(10));
    if (fraction_digits > 0) {
        text += '.';
        for (int i = 0; i < fraction_digits; ++i) text += char('0' + rng.below(10));
    }
    return text;
}

}  // namespace

TEST(PgNumeric, FastPathGivesStrtodsDoubleBitForBit) {
    Rng rng(7);
    int answered = 0, money_answered = 0;
    for (int i = 0; i < 200000; ++i) {
        const std::string text = random_decimal(rng);
        double expected = std::strtod(text.c_str(), nullptr);
        if (expected == 0.0) expected = 0.0;  // numeric has no negative zero ("-0.00" is stored as 0)
        for (bool allow_short : {true, false}) {
            double got = NAN;
            if (!convert(encode(text, allow_short), &got, size_t(i % 2))) continue;
            ++answered;
            uint64_t a, b;
            std::memcpy(&a, &expected, sizeof a);
            std::memcpy(&b, &got, sizeof b);
            ASSERT_EQ(a, b) << text << ": " << expected << " vs " << got << (allow_short ? " (short)" : " (long)");
        }
    }
    // Amounts of money, up to 12 integer digits and 2 decimals, always take the fast path.
    for (int i = 0; i < 100000; ++i) {
        std::string text = std::to_string(rng.below(1000000000000ULL)) + "." + std::to_string(10 + rng.below(90));
        if (rng.uniform() < 0.5) text = "-" + text;
        double got = NAN;
        ASSERT_TRUE(convert(encode(text), &got)) << text;
        ASSERT_EQ(got, std::strtod(text.c_str(), nullptr)) << text;
        ++money_answered;
    }
    EXPECT_GT(answered, 100000);  // most random decimals too; the rest decline
    EXPECT_EQ(money_answered, 100000);
}

TEST(PgNumeric, ZeroSpecialValuesAndMalformedPayloads) {
    double got = NAN;
    ASSERT_TRUE(convert(encode("0"), &got));
    EXPECT_EQ(got, 0.0);
    EXPECT_FALSE(std::signbit(got));
    ASSERT_TRUE(convert(encode("0.000"), &got));
    EXPECT_EQ(got, 0.0);
    // NaN, +Infinity, -Infinity: numeric_float8 handles them.
    for (uint16_t special : {0xC000, 0xD000, 0xF000}) EXPECT_FALSE(convert({special}, &got));
    EXPECT_FALSE(convert({}, &got));                                         // no header
    EXPECT_FALSE(convert({0x0000}, &got));                                   // long form without its weight
    EXPECT_FALSE(convert({0x8000, 10000}, &got));                            // a digit out of range
    EXPECT_FALSE(convert(encode("123456789012345678901234"), &got));         // more than four digits
    EXPECT_FALSE(convert(encode("1000000000000000000000000000000"), &got));  // 10^30
    EXPECT_FALSE(convert(encode("0.0000000000000000000000001"), &got));      // 10^-25
    ASSERT_TRUE(convert({0x8000, 0}, &got));  // an unstripped zero digit (PostgreSQL never stores one)
    EXPECT_EQ(got, 0.0);
    ASSERT_TRUE(convert(encode("-42.5"), &got));
    EXPECT_EQ(got, -42.5);
}
