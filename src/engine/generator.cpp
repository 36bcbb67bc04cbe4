#include "engine/generator.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.hpp"
#include "engine/rng.hpp"

namespace dendrite::engine {

namespace {

constexpr double kMapSize = 100.0;
constexpr double kTerminalRadius = 5.0;
constexpr int kSecondsPerDay = 86400;
constexpr int kCompromisedTerminalDays = 28;
constexpr int kLeakedCardDays = 14;
// Day 0 is a Monday; relative activity per weekday (Monday .. Sunday).
constexpr double kWeekdayActivity[7] = {0.95, 0.95, 1.0, 1.0, 1.15, 1.1, 0.85};

struct Customer {
    double x, y, mean_amount, sd_amount, transactions_per_day, online_share;
    uint32_t home_ip;  // a /24 network the customer's online purchases come from
    std::vector<int32_t> terminals;
};

struct Terminal {
    double x, y;
    int8_t country, merchant_category;
};

// Seconds into the day: a mixture of a midday and an evening peak, with a little night activity.
int time_of_day(Rng& rng) {
    const double u = rng.uniform();
    double t;
    if (u < 0.05)
        t = rng.uniform(0, kSecondsPerDay);  // any time, nights included
    else if (u < 0.55)
        t = rng.normal(12.5 * 3600, 2.5 * 3600);  // midday
    else
        t = rng.normal(18.5 * 3600, 2.0 * 3600);  // evening
    const int s = int(std::floor(t));
    return std::clamp(s, 0, kSecondsPerDay - 1);
}

uint32_t random_public_ipv4(Rng& rng) {
    for (;;) {
        const uint32_t ip = uint32_t(rng.next_u64() >> 32);
        const uint32_t a = ip >> 24;
        if (a == 0 || a == 10 || a == 127 || a >= 224 || a == 172 || a == 192) continue;
        return ip;
    }
}

}  // namespace

const std::vector<const char*>& generator_countries() {
    static const std::vector<const char*> countries{"NL", "BE", "DE", "FR", "GB", "US", "NG", "BR"};
    return countries;
}

const std::vector<const char*>& generator_merchant_categories() {
    static const std::vector<const char*> categories{"grocery",     "restaurant", "fuel",   "pharmacy",
                                                     "electronics", "fashion",    "travel", "digital_goods"};
    return categories;
}

void GeneratorOptions::validate() const {
    if (customers < 1 || customers > 1000000)
        fail(ErrorKind::InvalidParameter, "customers must be between 1 and 1000000");
    if (terminals < 1 || terminals > 1000000)
        fail(ErrorKind::InvalidParameter, "terminals must be between 1 and 1000000");
    if (days < 1 || days > 3650) fail(ErrorKind::InvalidParameter, "days must be between 1 and 3650");
    if (card_testing_from_day < -1)
        fail(ErrorKind::InvalidParameter, "card_testing_from_day must be -1 (never) or a day");
    // Average 2 transactions a customer a day: refuse what would not fit in memory comfortably.
    if (double(customers) * days * 2.5 > 200e6)
        fail(ErrorKind::InvalidParameter, "the requested data set is too large",
             "customers * days must stay under 80000000.");
}

double GeneratorOptions::estimated_bytes() const {
    const double nearby_terminals =
        double(terminals) * M_PI * kTerminalRadius * kTerminalRadius / (kMapSize * kMapSize);
    const double rows = double(customers) * days * 2.5;
    return double(customers) * (sizeof(int32_t) * nearby_terminals + 64) + 2 * rows * sizeof(Transaction);
}

std::vector<Transaction> generate_transactions(const GeneratorOptions& options) {
    options.validate();
    if (options.memory_limit_bytes > 0 && options.estimated_bytes() > double(options.memory_limit_bytes))
        fail(ErrorKind::OutOfMemory, "the requested data set needs more memory than the limit",
             "About " + std::to_string(int64_t(options.estimated_bytes() / (1 << 20))) + " MB for " +
                 std::to_string(options.customers) + " customers with " + std::to_string(options.terminals) +
                 " terminals over " + std::to_string(options.days) + " days; the limit is " +
                 std::to_string(options.memory_limit_bytes >> 20) + " MB.",
             "Ask for fewer customers, terminals or days, or raise dendrite.training_memory.");
    auto stop_if_asked = [&] {
        if (options.should_stop && options.should_stop()) fail(ErrorKind::Canceled, "the generation was canceled");
    };
    Rng rng(options.seed);
    const int n_countries = int(generator_countries().size());
    const int n_categories = int(generator_merchant_categories().size());

    std::vector<Terminal> terminals(options.terminals);
    for (auto& t : terminals) {
        t.x = rng.uniform(0, kMapSize);
        t.y = rng.uniform(0, kMapSize);
        t.country = rng.uniform() < 0.9 ? 0 : int8_t(1 + rng.below(n_countries - 1));
        t.merchant_category = int8_t(rng.below(n_categories));
    }

    // Terminals sorted by x so that each customer's neighbourhood is a narrow band to scan.
    std::vector<int32_t> by_x(terminals.size());
    for (size_t i = 0; i < by_x.size(); ++i) by_x[i] = int32_t(i);
    std::sort(by_x.begin(), by_x.end(), [&](int32_t a, int32_t b) { return terminals[a].x < terminals[b].x; });

    std::vector<Customer> customers(options.customers);
    for (size_t i = 0; i < customers.size(); ++i) {
        if ((i & 1023) == 0) stop_if_asked();
        Customer& c = customers[i];
        c.x = rng.uniform(0, kMapSize);
        c.y = rng.uniform(0, kMapSize);
        c.mean_amount = rng.uniform(5, 100);
        c.sd_amount = c.mean_amount / 2;
        c.transactions_per_day = rng.uniform(0, 4);
        c.online_share = rng.uniform(0.0, 0.3);
        c.home_ip = random_public_ipv4(rng) & 0xFFFFFF00u;
        auto first = std::lower_bound(by_x.begin(), by_x.end(), c.x - kTerminalRadius,
                                      [&](int32_t t, double x) { return terminals[t].x < x; });
        for (auto it = first; it != by_x.end() && terminals[*it].x <= c.x + kTerminalRadius; ++it) {
            const double dx = terminals[*it].x - c.x, dy = terminals[*it].y - c.y;
            if (dx * dx + dy * dy <= kTerminalRadius * kTerminalRadius) c.terminals.push_back(*it);
        }
        std::sort(c.terminals.begin(), c.terminals.end());
    }

    // Fraud campaigns: per day, terminals compromised and cards leaked (counts scale with the population
    // so that about 1 % of transactions are fraud).
    const double terminals_per_day = options.terminals / 4000.0;
    const double cards_per_day = options.customers / 2000.0;
    std::vector<int> terminal_compromised_until(terminals.size(), -1);
    std::vector<int> card_leaked_until(customers.size(), -1);
    // Card testing's merchants: digital goods abroad (or any digital goods, when none is abroad).
    std::vector<int32_t> testing_terminals;
    const int8_t digital_goods = int8_t(n_categories - 1);
    for (int abroad = 1; abroad >= 0 && testing_terminals.empty(); --abroad)
        for (size_t t = 0; t < terminals.size(); ++t)
            if (terminals[t].merchant_category == digital_goods && (!abroad || terminals[t].country != 0))
                testing_terminals.push_back(int32_t(t));

    std::vector<Transaction> transactions;
    transactions.reserve(size_t(options.customers) * options.days * 2 + 1024);
    for (int day = 0; day < options.days; ++day) {
        const size_t day_start = transactions.size();
        for (int k = rng.poisson(terminals_per_day); k > 0; --k)
            terminal_compromised_until[rng.below(terminals.size())] = day + kCompromisedTerminalDays;
        for (int k = rng.poisson(cards_per_day); k > 0; --k)
            card_leaked_until[rng.below(customers.size())] = day + kLeakedCardDays;

        const double activity = kWeekdayActivity[day % 7];
        for (int32_t customer_id = 0; customer_id < options.customers; ++customer_id) {
            if ((customer_id & 4095) == 0) stop_if_asked();
            Customer& c = customers[customer_id];
            if (c.terminals.empty()) continue;
            for (int k = rng.poisson(c.transactions_per_day * activity); k > 0; --k) {
                Transaction tx{};
                tx.customer_id = customer_id;
                tx.seconds = int64_t(day) * kSecondsPerDay + time_of_day(rng);
                tx.terminal_id = c.terminals[rng.below(c.terminals.size())];
                double amount = rng.normal(c.mean_amount, c.sd_amount);
                if (amount <= 0) amount = rng.uniform(0, 2 * c.mean_amount);
                tx.online = rng.uniform() < c.online_share;
                tx.ipv4 = tx.online ? c.home_ip | uint32_t(1 + rng.below(254)) : 0;

                if (day < card_leaked_until[customer_id] && rng.uniform() < 1.0 / 3.0) {
                    amount *= 5;
                    tx.fraud = true;
                    tx.scenario = FraudScenario::LeakedCard;
                    if (rng.uniform() < 0.6) {
                        tx.online = true;
                        tx.ipv4 = random_public_ipv4(rng);
                    }
                }
                if (day < terminal_compromised_until[tx.terminal_id]) {
                    tx.fraud = true;
                    tx.scenario = FraudScenario::CompromisedTerminal;
                }
                tx.amount = std::max(0.01, std::round(amount * 100.0) / 100.0);
                if (tx.amount > 220 && !tx.fraud) {
                    tx.fraud = true;
                    tx.scenario = FraudScenario::LargeAmount;
                }
                tx.country = terminals[tx.terminal_id].country;
                tx.merchant_category = terminals[tx.terminal_id].merchant_category;
                transactions.push_back(tx);
            }
        }
        // Card testing draws after the day's other transactions, so the days before it are unchanged.
        if (options.card_testing_from_day >= 0 && day >= options.card_testing_from_day && !testing_terminals.empty()) {
            for (int k = rng.poisson(10 * cards_per_day); k > 0; --k) {
                const int32_t customer_id = int32_t(rng.below(customers.size()));
                const int32_t terminal_id = testing_terminals[rng.below(testing_terminals.size())];
                const uint32_t network = random_public_ipv4(rng) & 0xFFFFFF00u;
                int64_t seconds = int64_t(day) * kSecondsPerDay + time_of_day(rng);
                for (int n = 3 + int(rng.below(6)); n > 0; --n) {
                    Transaction tx{};
                    tx.customer_id = customer_id;
                    tx.terminal_id = terminal_id;
                    tx.seconds = std::min<int64_t>(seconds, int64_t(day + 1) * kSecondsPerDay - 1);
                    tx.amount = std::round(rng.uniform(0.5, 3.0) * 100.0) / 100.0;
                    tx.online = true;
                    tx.ipv4 = network | uint32_t(1 + rng.below(254));
                    tx.fraud = true;
                    tx.scenario = FraudScenario::CardTesting;
                    tx.country = terminals[terminal_id].country;
                    tx.merchant_category = terminals[terminal_id].merchant_category;
                    transactions.push_back(tx);
                    seconds += 30 + int64_t(rng.below(270));
                }
            }
        }
        // A day's transactions all come after the previous day's: sorting each day in turn is the sort of the
        // whole set, in steps short enough to answer a cancel.
        std::stable_sort(transactions.begin() + std::ptrdiff_t(day_start), transactions.end(),
                         [](const Transaction& a, const Transaction& b) { return a.seconds < b.seconds; });
    }
    for (size_t i = 0; i < transactions.size(); ++i) transactions[i].transaction_id = int64_t(i);
    return transactions;
}

}  // namespace dendrite::engine
