// A generator of realistic card transactions, after the simulator of the Fraud Detection Handbook:
// customers and terminals on a 100 x 100 map, each customer buying at terminals near home with a daily and
// weekly rhythm, and three fraud scenarios — (1) any amount over 220, (2) terminals compromised for 28 days
// (every transaction there is fraud), (3) cards leaked for 14 days (a third of their transactions, with
// inflated amounts, often online from an unfamiliar IP). None of (2) or (3) is visible in one row alone.
// On request, from a given day, a fourth that the others never show (a model trained before it has not
// seen it): (4) card testing, bursts of tiny online payments at digital-goods merchants abroad.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace dendrite::engine {

struct GeneratorOptions {
    int customers = 2000;
    int terminals = 4000;
    int days = 50;
    uint64_t seed = 42;
    // From this day on (0-based; -1: never), card testing: about ten cards a day per 2,000 customers get a
    // burst of 3 to 8 online payments of 0.50 to 3.00, minutes apart, at one digital-goods terminal outside
    // the home country, from an unfamiliar IP. The days before are those of the same options without it.
    int card_testing_from_day = -1;
    // Polled every few thousand customers and between days: true -> ErrorKind::Canceled.
    std::function<bool()> should_stop;
    // The most memory the generation may take (its estimate, checked before it starts): 0 for no limit;
    // more -> ErrorKind::OutOfMemory.
    size_t memory_limit_bytes = 0;
    void validate() const;  // throws InvalidParameter
    // What the generation takes at its peak, estimated from the options: the customers' nearby terminals
    // and the transactions, twice (the caller copies them out).
    double estimated_bytes() const;
};

enum class FraudScenario : int8_t {
    None = 0,
    LargeAmount = 1,
    CompromisedTerminal = 2,
    LeakedCard = 3,
    CardTesting = 4
};

struct Transaction {
    int64_t transaction_id;
    int64_t seconds;  // since the start of day 0
    int32_t customer_id;
    int32_t terminal_id;
    double amount;             // rounded to cents
    bool online;               // card not present
    uint32_t ipv4;             // the client's address for online transactions, 0 otherwise
    int8_t country;            // index into generator_countries()
    int8_t merchant_category;  // index into generator_merchant_categories()
    bool fraud;
    FraudScenario scenario;
};

const std::vector<const char*>& generator_countries();
const std::vector<const char*>& generator_merchant_categories();

// Ordered by time; transaction_id is 0, 1, 2, ... in that order.
std::vector<Transaction> generate_transactions(const GeneratorOptions& options);

}  // namespace dendrite::engine
