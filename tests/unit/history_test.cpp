// Entity history (engine/history.hpp): incremental windows equal brute force, entities keep their own
// state, and the offline pass and the inline state agree bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/featurizer.hpp"
#include "engine/history.hpp"
#include "engine/rng.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

// A row of (card, at, amount) in the order a featurizer reads its inputs.
std::vector<RawValue> in_input_order(const std::vector<std::string>& inputs, const char* card, int64_t at,
                                     double amount) {
    std::vector<RawValue> row;
    for (const auto& name : inputs)
        row.push_back(name == "card" ? text(card) : name == "at" ? RawValue::of_time(at) : RawValue::of_number(amount));
    return row;
}

// The columns of a card's payments with an integer label.
std::vector<InputColumn> card_at_amount_y() {
    return {{"card", SqlTypeClass::Integer},
            {"at", SqlTypeClass::Timestamp},
            {"amount", SqlTypeClass::Number},
            {"y", SqlTypeClass::Integer}};
}

// History: the incremental state against the definition, recomputed by brute force for every row.
TEST(History, IncrementalMatchesBruteForce) {
    const std::vector<InputColumn> columns = card_at_amount_y();
    const FeaturizerSpec spec =
        resolve_spec(columns, R"({"amount": "raw", "at": "ignore"})",
                     R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 hour", "1 day", "7 days"],
             "aggregates": ["count", "sum", "mean", "max", "min", "stddev", "ratio_to_mean", "since_last"]},
            {"entity": "card", "time": "at", "label": "y", "delay": "2 days", "windows": ["1 day", "5 days"],
             "aggregates": ["count", "fraud_count", "fraud_rate"], "name": "risk"}])",
                     "y", "error");
    struct Row {
        int64_t card, at;
        double amount;
        double y;  // NaN = unknown label
    };
    std::vector<Row> rows;
    Rng rng(5);
    int64_t now = 0;
    for (int i = 0; i < 4000; ++i) {
        now += int64_t(rng.uniform(0, 3 * kHour)) * (rng.uniform() < 0.1 ? 0 : 1);  // some equal times
        const double amount = rng.uniform() < 0.05 ? NAN : std::round(rng.uniform(1, 500) * 100) / 100;
        const double y = rng.uniform() < 0.1 ? NAN : (rng.uniform() < 0.2 ? 1 : 0);
        rows.push_back({int64_t(rng.below(40)), now, amount, y});
    }
    auto raw = [](const Row& r) {
        return std::vector<RawValue>{RawValue::of_number(double(r.card)), RawValue::of_time(r.at),
                                     std::isnan(r.amount) ? RawValue::null() : RawValue::of_number(r.amount),
                                     std::isnan(r.y) ? RawValue::null() : RawValue::of_number(r.y)};
    };
    HistoryState state(spec.history);
    std::vector<double> incremental(64);
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const auto values = raw(r);
        // Declaration 0: windows (t - w, t], the row included.
        HistoryEvent event{true, category_key(values[0]), r.at, r.amount, int8_t(std::isnan(r.y) ? -1 : int(r.y))};
        state.compute(0, event, incremental.data());
        size_t k = 0;
        for (int64_t w : spec.history[0].windows_us) {
            double count = 0, valued = 0, sum = 0, max = -INFINITY, min = INFINITY;
            for (size_t j = 0; j <= i; ++j)
                if (rows[j].card == r.card && rows[j].at > r.at - w && rows[j].at <= r.at) {
                    ++count;
                    if (!std::isnan(rows[j].amount)) {
                        ++valued;
                        sum += rows[j].amount;
                        max = std::max(max, rows[j].amount);
                        min = std::min(min, rows[j].amount);
                    }
                }
            const double mean = valued ? sum / valued : 0;
            double squared_deviations = 0;  // the two-pass definition, against the running sums of squares
            for (size_t j = 0; j <= i; ++j)
                if (rows[j].card == r.card && rows[j].at > r.at - w && rows[j].at <= r.at &&
                    !std::isnan(rows[j].amount))
                    squared_deviations += (rows[j].amount - mean) * (rows[j].amount - mean);
            const double variance = valued ? squared_deviations / valued : 0;
            double mean_square = 0;  // the scale of the running sums whose difference gives the variance
            for (size_t j = 0; j <= i; ++j)
                if (rows[j].card == r.card && rows[j].at > r.at - w && rows[j].at <= r.at &&
                    !std::isnan(rows[j].amount))
                    mean_square += rows[j].amount * rows[j].amount / valued;
            EXPECT_EQ(incremental[k++], count) << "row " << i;
            EXPECT_NEAR(incremental[k++], sum, 1e-7 * std::max(1.0, sum)) << "row " << i;
            EXPECT_NEAR(incremental[k++], mean, 1e-9 * std::max(1.0, mean)) << "row " << i;
            EXPECT_EQ(incremental[k++], valued ? max : 0) << "row " << i;
            EXPECT_EQ(incremental[k++], valued ? min : 0) << "row " << i;
            // The variance is E[x^2] - mean^2 of running sums of squares that values (up to 500) were added to
            // and removed from: exact up to rounding relative to the largest squares they held, as the sum's
            // check above is relative to the sums.
            const double incremental_stddev = incremental[k++];
            EXPECT_NEAR(incremental_stddev * incremental_stddev, variance, 1e-12 * std::max(mean_square, 500.0 * 500.0))
                << "row " << i;
            const double ratio = !std::isnan(r.amount) && valued && mean != 0 ? r.amount / mean : 1.0;
            EXPECT_NEAR(incremental[k++], ratio, 1e-9 * std::max(1.0, ratio)) << "row " << i;
        }
        // Hours since the card's previous event, at most the horizon (7 days, no delay).
        double since = 7 * kDay;
        for (size_t j = 0; j < i; ++j)
            if (rows[j].card == r.card) since = std::min<double>(7 * kDay, double(r.at - rows[j].at));
        EXPECT_DOUBLE_EQ(incremental[k++], since / 3.6e9) << "row " << i;
        // Declaration 1: windows (t - 2d - w, t - 2d], labels only when known.
        state.compute(1, event, incremental.data());
        k = 0;
        for (int64_t w : spec.history[1].windows_us) {
            const int64_t upper = r.at - 2 * kDay;
            double count = 0, labelled = 0, frauds = 0;
            for (size_t j = 0; j < i; ++j)
                if (rows[j].card == r.card && rows[j].at > upper - w && rows[j].at <= upper) {
                    ++count;
                    if (!std::isnan(rows[j].y)) {
                        ++labelled;
                        frauds += rows[j].y;
                    }
                }
            EXPECT_EQ(incremental[k++], count) << "row " << i;
            EXPECT_EQ(incremental[k++], frauds) << "row " << i;
            EXPECT_DOUBLE_EQ(incremental[k++], labelled ? frauds / labelled : 0) << "row " << i;
        }
        state.observe(0, event);
        state.observe(1, event);
        if (::testing::Test::HasFailure()) break;
    }
    // Only the longest window plus the delay is kept per entity.
    EXPECT_LT(state.event_count(), rows.size() / 4);
    EXPECT_EQ(state.entity_count(), 80u);  // 40 cards in each declaration
}

// distinct: the distinct values of a column among the window's rows (merchants per card), with and without a
// delay, NULLs not counted, against brute force.
TEST(History, DistinctMatchesBruteForce) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}, {"merchant", SqlTypeClass::Integer}};
    const FeaturizerSpec spec =
        resolve_spec(columns, R"({"at": "ignore", "merchant": "ignore"})",
                     R"([{"entity": "card", "time": "at", "distinct": "merchant", "windows": ["3 hours", "1 day"]},
            {"entity": "card", "time": "at", "distinct": "merchant", "delay": "6 hours", "windows": ["1 day"],
             "aggregates": ["count", "distinct"], "name": "late"}])",
                     "", "error");
    // Without "aggregates": count and distinct, per window.
    EXPECT_EQ(HistoryState::output_names(spec.history[0])[3], "card_distinct_merchant_1d");
    struct Row {
        int64_t card, at, merchant;  // merchant -1: NULL
    };
    std::vector<Row> rows;
    Rng rng(11);
    int64_t now = 0;
    for (int i = 0; i < 3000; ++i) {
        now += int64_t(rng.uniform(0, kHour)) * (rng.uniform() < 0.1 ? 0 : 1);
        rows.push_back({int64_t(rng.below(25)), now, rng.uniform() < 0.05 ? -1 : int64_t(rng.below(12))});
    }
    HistoryState state(spec.history);
    double out[8];
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        HistoryEvent event{true, category_key(RawValue::of_number(double(r.card))), r.at, NAN, -1};
        if (r.merchant >= 0) event.distinct_key = category_key(RawValue::of_number(double(r.merchant)));
        auto brute = [&](int64_t upper, int64_t w, bool include_row) {
            std::set<int64_t> seen;
            for (size_t j = 0; j < i + (include_row ? 1 : 0); ++j)
                if (rows[j].card == r.card && rows[j].at > upper - w && rows[j].at <= upper && rows[j].merchant >= 0)
                    seen.insert(rows[j].merchant);
            return double(seen.size());
        };
        state.compute(0, event, out);
        EXPECT_EQ(out[1], brute(r.at, 3 * kHour, true)) << "row " << i;
        EXPECT_EQ(out[3], brute(r.at, kDay, true)) << "row " << i;
        state.compute(1, event, out);
        EXPECT_EQ(out[1], brute(r.at - 6 * kHour, kDay, false)) << "row " << i;
        state.observe(0, event);
        state.observe(1, event);
        if (::testing::Test::HasFailure()) break;
    }
}

// Many entities: the state's table grows and its records span many blocks; keys that agree in their low
// bits (FNV hashes of short texts differ mostly in the high ones) still find their own entity.
TEST(History, ManyEntitiesKeepTheirOwnState) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, R"({"amount": "raw", "at": "ignore"})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "max"]}])",
        "", "error");
    HistoryState state(spec.history);
    constexpr int kEntities = 5000;
    const auto key = [](int e) { return (uint64_t(e) << 40) | 0x5bd1e995ULL; };
    std::vector<double> out(4);
    for (int round = 0; round < 3; ++round)
        for (int e = 0; e < kEntities; ++e) {
            // Entity e's events: amounts e, e + 1, e + 2, twelve hours apart, so the 1-day window drops the first.
            const HistoryEvent event{true, key(e), int64_t(round) * 12 * kHour, double(e + round), -1};
            state.prefetch(0, key(e));  // a hint for the table's slot (what transform() asks first); reads nothing
            state.compute(0, event, out.data());
            ASSERT_EQ(out[0], std::min(round, 1) + 1.0) << "entity " << e << " round " << round;  // count, 1 day
            ASSERT_EQ(out[1], double(e + round)) << "entity " << e;                               // max, 1 day
            ASSERT_EQ(out[2], round + 1.0) << "entity " << e;                                     // count, 7 days
            ASSERT_EQ(out[3], double(e + round)) << "entity " << e;                               // max, 7 days
            state.observe(0, event);
        }
    EXPECT_EQ(state.entity_count(), size_t(kEntities));
    EXPECT_EQ(state.event_count(), size_t(3 * kEntities));
}

// The offline pass (fit, then transform + observe in order) and the inline path (a fresh state fed row
// by row, transform before observe) give identical vectors, and NULL entities or times are skipped.
TEST(History, OfflineAndInlineAgreeBitForBit) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Text}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, "", R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "30 days"],
                          "aggregates": ["count", "mean", "max", "stddev", "ratio_to_mean", "since_last"]}])",
        "", "error");
    const char* cards[] = {"alice", "bob", "carol"};
    FeaturizerFitter fitter(spec);
    const auto card_input = std::find(fitter.inputs().begin(), fitter.inputs().end(), "card") - fitter.inputs().begin();
    std::vector<std::vector<RawValue>> rows;
    Rng rng(9);
    for (int i = 0; i < 3000; ++i) {
        auto row =
            in_input_order(fitter.inputs(), cards[rng.below(3)], int64_t(i) * 20 * 60 * 1000000LL, rng.uniform(1, 100));
        if (i % 97 == 0) row[size_t(card_input)] = RawValue::null();
        rows.push_back(row);
    }
    for (const auto& row : rows) fitter.add(row.data());
    const Featurizer f = fitter.finish();
    auto offline = f.new_history();
    auto inline_state = f.new_history();
    for (const auto& row : rows) {
        const auto a = run(f, row, offline.get());
        f.observe(row.data(), offline.get());
        const auto b = run(f, row, inline_state.get());
        f.observe(row.data(), inline_state.get());
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    }
    // The history outputs were standardized with statistics fitted in the same pass, over a history that the
    // rows did build (a card's count over 30 days varies).
    EXPECT_EQ(f.history_outputs().size(), 11u);  // 5 aggregates in 2 windows, and since_last
    EXPECT_GT(f.history_outputs()[0].scale, 0.0);
    EXPECT_GT(offline->event_count(), 1000u);
}

// History outputs are log1p-transformed before standardization unless a declaration says "standardize"; a
// spec stored before the transform existed (no "transform" key) reads back as standardize, as it was fitted.
TEST(History, OutputsAreLog1pTransformedUnlessDeclaredStandardize) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Text}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    auto fitted = [&](const char* transform_key) {
        const std::string history = std::string(R"([{"entity": "card", "time": "at", "value": "amount",
            "windows": ["1 day"], "aggregates": ["count", "sum"])") +
                                    transform_key + "}]";
        FeaturizerFitter fitter(resolve_spec(columns, "", history, "", "error"));
        Rng rng(4);
        for (int i = 0; i < 500; ++i) {
            const auto row = in_input_order(fitter.inputs(), rng.below(2) ? "alice" : "bob", int64_t(i) * kHour / 4,
                                            rng.uniform(1, 1000));
            fitter.add(row.data());
        }
        return fitter.finish();
    };
    const Featurizer log1p = fitted(R"(, "transform": "log1p")"), plain = fitted("");
    EXPECT_EQ(log1p.spec().history[0].transform, NumericTransform::Log1p);
    EXPECT_EQ(plain.spec().history[0].transform, NumericTransform::Standardize);
    // The same history (an earlier event of 400 for alice; the window holds it and the row itself) through
    // each: output = (f(raw) - center) / scale.
    for (const Featurizer* f : {&log1p, &plain}) {
        auto state = f->new_history();
        const auto earlier = in_input_order(f->inputs(), "alice", 0, 400);
        const auto now = in_input_order(f->inputs(), "alice", kHour, 5);
        f->observe(earlier.data(), state.get());
        const auto out = run(*f, now, state.get());
        const auto& h = f->history_outputs();
        ASSERT_EQ(h.size(), 2u);
        const double sum = f == &log1p ? std::log1p(405.0) : 405.0, count = f == &log1p ? std::log1p(2.0) : 2.0;
        EXPECT_FLOAT_EQ(out[out.size() - 2], float((count - h[0].center) / h[0].scale));
        EXPECT_FLOAT_EQ(out[out.size() - 1], float((sum - h[1].center) / h[1].scale));
    }
    // The fitted centers are means of the transformed outputs: a card's day holds ~48 amounts of ~500.
    EXPECT_LT(log1p.history_outputs()[1].center, std::log1p(100 * 1000.0));
    EXPECT_GT(plain.history_outputs()[1].center, 1000.0);

    // Stored specs: the transform round-trips; a spec without one is read as standardize.
    const std::string json = log1p.spec().to_json();
    EXPECT_NE(json.find(R"("transform":"log1p")"), std::string::npos);
    EXPECT_EQ(FeaturizerSpec::from_json(json).history[0].transform, NumericTransform::Log1p);
    std::string before = json;
    before.erase(before.find(R"(,"transform":"log1p")"), std::strlen(R"(,"transform":"log1p")"));
    EXPECT_EQ(FeaturizerSpec::from_json(before).history[0].transform, NumericTransform::Standardize);
    EXPECT_EQ(kind_of([&] {
                  resolve_spec(columns, "", R"([{"entity": "card", "time": "at", "windows": ["1 day"],
                                                 "transform": "quantile"}])",
                               "", "error");
              }),
              ErrorKind::InvalidParameter);
}

// Two inline states (two backends) taking the rows in turn, each replaying the other's journal before its
// next row (what src/pg/shared_history.cpp does at commit and at the next statement), compute what the
// offline pass computes over all the rows; invalid events (a NULL card) are not journaled.
TEST(History, JournalsReplayedByAnotherStateMatchTheOfflinePass) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Text}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(
        columns, "", R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 hour", "1 day"],
                          "aggregates": ["count", "mean", "max", "since_last"]}])",
        "", "error");
    FeaturizerFitter fitter(spec);
    std::vector<std::vector<RawValue>> rows;
    Rng rng(5);
    const auto card_input = std::find(fitter.inputs().begin(), fitter.inputs().end(), "card") - fitter.inputs().begin();
    for (int i = 0; i < 600; ++i) {
        auto row = in_input_order(fitter.inputs(), i % 2 ? "alice" : "bob", int64_t(i) * 7 * 60 * 1000000LL,
                                  rng.uniform(1, 100));
        if (i % 50 == 7) row[size_t(card_input)] = RawValue::null();
        rows.push_back(row);
    }
    for (const auto& row : rows) fitter.add(row.data());
    const Featurizer f = fitter.finish();
    auto offline = f.new_history();
    std::unique_ptr<HistoryState> backend[2] = {f.new_history(), f.new_history()};
    HistoryJournal journal[2];
    for (int b = 0; b < 2; ++b) {
        journal[b].limit = 1000;
        backend[b]->attach_journal(&journal[b]);
    }
    size_t journaled = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const int b = int(i % 3 == 0);  // uneven turns: backend 1 takes every third row
        const int other = 1 - b;
        // The other backend's committed rows arrive first, replayed without journaling them again.
        backend[b]->attach_journal(nullptr);
        for (const JournaledEvent& e : journal[other].events) backend[b]->observe(e.declaration, e.event);
        backend[b]->attach_journal(&journal[b]);
        journaled += journal[other].events.size();
        journal[other].clear();
        const auto expected = run(f, rows[i], offline.get());
        f.observe(rows[i].data(), offline.get());
        const auto got = run(f, rows[i], backend[b].get());
        f.observe(rows[i].data(), backend[b].get());
        ASSERT_EQ(0, std::memcmp(expected.data(), got.data(), expected.size() * sizeof(float))) << "row " << i;
    }
    EXPECT_GT(journaled, 300u);
    // Once each has replayed the other's last rows, both states score a new row as the offline pass does.
    const auto probe = in_input_order(fitter.inputs(), "alice", 600 * 7 * 60 * 1000000LL, 50);
    const auto expected = run(f, probe, offline.get());
    for (int b = 0; b < 2; ++b) {
        backend[b]->attach_journal(nullptr);
        for (const JournaledEvent& e : journal[1 - b].events) backend[b]->observe(e.declaration, e.event);
        const auto got = run(f, probe, backend[b].get());
        EXPECT_EQ(0, std::memcmp(expected.data(), got.data(), expected.size() * sizeof(float))) << "backend " << b;
    }
}

// A journal past its limit gives up (the readers rebuild instead), as one told that rows were deleted does; a
// rolled-back subtransaction's events go.
TEST(History, JournalOverflowsAndDropsRolledBackTags) {
    HistoryJournal journal;
    journal.limit = 3;
    const HistoryEvent event{true, 1, 0, 1.0, -1};
    journal.tag = 1;
    journal.record(0, event);
    journal.tag = 2;
    journal.record(0, event);
    journal.record(0, event);
    journal.drop_from_tag(2);  // ROLLBACK TO SAVEPOINT of subtransaction 2
    ASSERT_EQ(journal.events.size(), 1u);
    EXPECT_EQ(journal.events[0].tag, 1u);
    journal.record(0, event);
    journal.record(0, event);
    EXPECT_FALSE(journal.overflowed);
    journal.record(0, event);  // the fourth
    EXPECT_TRUE(journal.overflowed);
    EXPECT_TRUE(journal.events.empty());
    EXPECT_FALSE(journal.empty());
    journal.clear();
    EXPECT_TRUE(journal.empty());
    journal.record(0, event);
    journal.give_up();  // rows were deleted: the readers rebuild, whatever was journaled
    EXPECT_TRUE(journal.overflowed);
    EXPECT_TRUE(journal.events.empty());
}

// Labels that arrive after their rows (HistoryState::relabel): at every row, the label aggregates count each earlier
// row with the label known at that row's time (today's once it arrived, else the one it came with), as brute force
// over the rows does; the other aggregates do not move. Arrivals come before their row enters a window (short lags),
// while it is in one, and after every window has left it; the journal replayed into another state gives the same.
TEST(History, RelabelledRowsCountWithTheLabelKnownThen) {
    const std::vector<InputColumn> columns = card_at_amount_y();
    const FeaturizerSpec spec =
        resolve_spec(columns, R"({"amount": "raw", "at": "ignore"})",
                     R"([{"entity": "card", "time": "at", "value": "amount", "label": "y", "delay": "1 day",
                          "windows": ["1 day", "5 days"], "aggregates": ["count", "max", "fraud_count", "fraud_rate"]}])",
                     "y", "error");
    struct Row {
        int64_t card, at, arrives;  // arrives: when its final label is set (INT64_MAX: never)
        double amount;
        int8_t first, final;  // the label it came with (mostly unknown), and the one set later
    };
    std::vector<Row> rows;
    Rng rng(11);
    int64_t now = 0;
    for (int i = 0; i < 3000; ++i) {
        now += int64_t(rng.uniform(0, 2 * kHour)) * (rng.uniform() < 0.1 ? 0 : 1);  // some equal times
        const int8_t first = rng.uniform() < 0.8 ? -1 : int8_t(rng.uniform() < 0.3);
        const int8_t final = rng.uniform() < 0.1 ? -1 : int8_t(rng.uniform() < 0.25);
        const double lag_days = rng.uniform() < 0.1   ? 1e9
                                : rng.uniform() < 0.2 ? rng.uniform(8, 12)
                                                      : rng.uniform(0, 3);
        const int64_t arrives = lag_days > 1e8 ? INT64_MAX : now + int64_t(lag_days * 24 * kHour);
        rows.push_back({int64_t(rng.below(15)), now, arrives, double(rng.below(50)), first, final});
    }
    const auto event_of = [](const Row& r, int8_t label) {
        return HistoryEvent{true, category_key(RawValue::of_number(double(r.card))), r.at, r.amount, label};
    };
    HistoryState state(spec.history), replayed(spec.history);
    HistoryJournal journal;
    journal.limit = 100000;
    state.attach_journal(&journal);
    std::vector<bool> relabelled(rows.size(), false);
    std::vector<double> got(16);
    const int64_t delay = spec.history[0].delay_us;
    size_t checked_with_arrived = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        for (size_t j = 0; j < i; ++j)
            if (!relabelled[j] && rows[j].arrives <= r.at) {
                ASSERT_TRUE(state.relabel(0, event_of(rows[j], rows[j].first), rows[j].final)) << "row " << j;
                relabelled[j] = true;
            }
        state.compute(0, event_of(r, r.first), got.data());
        size_t k = 0;
        for (int64_t w : spec.history[0].windows_us) {
            double count = 0, max = -INFINITY, labelled = 0, frauds = 0;
            for (size_t j = 0; j < i; ++j) {
                if (rows[j].card != r.card || rows[j].at <= r.at - delay - w || rows[j].at > r.at - delay) continue;
                ++count;
                max = std::max(max, rows[j].amount);
                const int8_t label = relabelled[j] ? rows[j].final : rows[j].first;
                checked_with_arrived += relabelled[j];
                if (label >= 0) {
                    ++labelled;
                    frauds += label;
                }
            }
            ASSERT_EQ(got[k++], count) << "row " << i;
            ASSERT_EQ(got[k++], count > 0 ? max : 0.0) << "row " << i;
            ASSERT_EQ(got[k++], frauds) << "row " << i;
            ASSERT_EQ(got[k++], labelled > 0 ? frauds / labelled : 0.0) << "row " << i;
        }
        state.observe(0, event_of(r, r.first));
    }
    EXPECT_GT(checked_with_arrived, 1000u);
    // Another backend replaying the journal (observed rows and relabellings, in order) ends where this one did.
    for (const JournaledEvent& e : journal.events) ASSERT_TRUE(replayed.replay(e.declaration, e.event, e.what));
    size_t relabellings = 0;
    for (const JournaledEvent& e : journal.events) relabellings += e.what != JournaledEvent::kObserved;
    EXPECT_GT(relabellings, 1000u);
    std::vector<double> expected(16);
    for (int64_t card = 0; card < 15; ++card) {
        const Row probe{card, now + 2 * 24 * kHour, INT64_MAX, 1.0, -1, -1};
        state.compute(0, event_of(probe, -1), expected.data());
        replayed.compute(0, event_of(probe, -1), got.data());
        EXPECT_EQ(0, std::memcmp(expected.data(), got.data(), 8 * sizeof(double))) << "card " << card;
    }
}

// What relabel cannot place it says (the caller rebuilds); a row kept minutes after its own time is found; what the
// state never kept, or what every window has left, changes nothing.
TEST(History, RelabelOfARowKeptAtAnotherTimeAsksForARebuild) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}, {"y", SqlTypeClass::Integer}};
    const FeaturizerSpec spec = resolve_spec(columns, R"({"at": "ignore"})",
                                             R"([{"entity": "card", "time": "at", "label": "y", "delay": "1 hour",
                                                  "windows": ["1 day"], "aggregates": ["fraud_count"]}])",
                                             "y", "error");
    HistoryState state(spec.history);
    const auto at = [](int64_t hours) { return hours * kHour; };
    state.observe(0, HistoryEvent{true, 1, at(10), NAN, -1});
    state.observe(0, HistoryEvent{true, 1, at(5), NAN, -1});  // out of order: kept at 10 h
    EXPECT_FALSE(state.relabel(0, HistoryEvent{true, 1, at(5), NAN, -1}, 1));
    EXPECT_TRUE(state.relabel(0, HistoryEvent{true, 1, at(7), NAN, 0}, 1));    // nothing alike: never observed
    EXPECT_TRUE(state.relabel(0, HistoryEvent{true, 2, at(10), NAN, -1}, 1));  // another card: never observed
    EXPECT_TRUE(state.relabel(0, HistoryEvent{true, 1, at(10), NAN, -1}, 1));  // one of the two at 10 h
    double frauds = 0;
    state.compute(0, HistoryEvent{true, 1, at(12), NAN, -1}, &frauds);
    EXPECT_EQ(frauds, 1.0);
    // A row that came minutes after a later one of its card is kept at that one's time and found by its own.
    const int64_t minute = kHour / 60;
    state.observe(0, HistoryEvent{true, 3, at(10) + 10 * minute, NAN, -1});
    state.observe(0, HistoryEvent{true, 3, at(10) + 5 * minute, NAN, 0});  // kept at 10:10
    EXPECT_TRUE(state.relabel(0, HistoryEvent{true, 3, at(10) + 5 * minute, NAN, 0}, 1));
    state.compute(0, HistoryEvent{true, 3, at(12), NAN, -1}, &frauds);
    EXPECT_EQ(frauds, 1.0);
    // Much later: the rows at 10 h have left the window for good; relabelling one changes nothing.
    state.observe(0, HistoryEvent{true, 1, at(100), NAN, -1});
    EXPECT_TRUE(state.relabel(0, HistoryEvent{true, 1, at(10), NAN, -1}, 1));
    state.compute(0, HistoryEvent{true, 1, at(102), NAN, -1}, &frauds);
    EXPECT_EQ(frauds, 0.0);
}

// An UPDATE's events: a label alone is a relabelling; any other history input, or a row becoming valid or invalid,
// a move; the featurizer reads its label columns as labels only.
TEST(History, EventChangeTellsLabelsFromMoves) {
    const HistoryEvent base{true, 1, 100, 5.0, -1, 7};
    auto with = [&](auto change) {
        HistoryEvent e = base;
        change(e);
        return e;
    };
    EXPECT_EQ(event_change(base, base), EventChange::Unchanged);
    EXPECT_EQ(event_change(HistoryEvent{}, HistoryEvent{}), EventChange::Unchanged);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.label = 1; })), EventChange::Relabelled);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.value = 6; })), EventChange::Moved);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.value = NAN; })), EventChange::Moved);
    EXPECT_EQ(event_change(with([](HistoryEvent& e) { e.value = NAN; }), with([](HistoryEvent& e) { e.value = NAN; })),
              EventChange::Unchanged);
    EXPECT_EQ(event_change(with([](HistoryEvent& e) { e.value = 0.0; }), with([](HistoryEvent& e) { e.value = -0.0; })),
              EventChange::Moved);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.time_us = 101; })), EventChange::Moved);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.entity = 2; })), EventChange::Moved);
    EXPECT_EQ(event_change(base, with([](HistoryEvent& e) { e.distinct_key = 8; })), EventChange::Moved);
    EXPECT_EQ(event_change(base, HistoryEvent{}), EventChange::Moved);

    const std::vector<InputColumn> columns{{"card", SqlTypeClass::Integer},       {"terminal", SqlTypeClass::Integer},
                                           {"at", SqlTypeClass::Timestamp},       {"amount", SqlTypeClass::Number},
                                           {"chargeback", SqlTypeClass::Boolean}, {"y", SqlTypeClass::Boolean}};
    const FeaturizerSpec spec =
        resolve_spec(columns, R"({"terminal": "ignore", "chargeback": "ignore"})",
                     R"([{"entity": "terminal", "time": "at", "label": "chargeback", "delay": "1 day",
                          "windows": ["7 days"], "aggregates": ["fraud_rate"]}])",
                     "y", "error");
    FeaturizerFitter fitter(spec);
    std::vector<RawValue> row;
    for (const auto& name : fitter.inputs())
        row.push_back(name == "at" ? RawValue::of_time(0) : RawValue::of_number(1));
    fitter.add(row.data());
    const Featurizer f = fitter.finish();
    ASSERT_TRUE(f.history_counts_labels());
    for (size_t i = 0; i < f.inputs().size(); ++i) {
        const std::string& name = f.inputs()[i];
        EXPECT_EQ(f.label_only_inputs()[i], name == "chargeback" || name == "y") << name;
    }
}

// A deleted row (HistoryState::row_deleted): a state that may still count it says so (the caller rebuilds it); one
// that never kept it, no longer keeps it, or keeps it only for an entity idle since long before the horizon (a
// retention purge) is unaffected. The journal carries the deletions for other states to ask themselves.
TEST(History, DeletedRowsAStateMayCountAskForARebuild) {
    const std::vector<InputColumn> columns{
        {"card", SqlTypeClass::Integer}, {"at", SqlTypeClass::Timestamp}, {"amount", SqlTypeClass::Number}};
    const FeaturizerSpec spec = resolve_spec(columns, R"({"at": "ignore"})",
                                             R"([{"entity": "card", "time": "at", "value": "amount",
                                                  "windows": ["1 day"], "aggregates": ["count", "max"]}])",
                                             "", "error");
    const auto at = [](int64_t hours) { return hours * kHour; };
    const auto row = [&](uint64_t card, int64_t hours, double amount) {
        return HistoryEvent{true, card, at(hours), amount, -1};
    };
    HistoryState state(spec.history), other(spec.history);
    HistoryJournal journal;
    journal.limit = 1000;
    other.observe(0, row(2, 0, 7));  // the other state knows the idle card 2 only
    state.observe(0, row(2, 0, 7));  // card 2: one payment, then idle
    for (int64_t h = 0; h <= 200; ++h) state.observe(0, row(1, h, double(h % 10)));
    state.attach_journal(&journal);
    EXPECT_FALSE(state.row_deleted(0, row(1, 199, 9)));  // in the window: it may count
    EXPECT_TRUE(state.row_deleted(0, row(1, 199, 5)));   // no such row (another amount)
    EXPECT_TRUE(state.row_deleted(0, row(1, 3, 3)));     // long left the window, no longer kept
    EXPECT_TRUE(state.row_deleted(0, row(2, 0, 7)));     // kept, but 200 hours before the latest time
    EXPECT_TRUE(state.row_deleted(0, row(3, 150, 1)));   // never observed
    ASSERT_EQ(journal.events.size(), 5u);
    for (const JournaledEvent& e : journal.events) EXPECT_EQ(e.what, JournaledEvent::kDeleted);
    // Replayed by a state that knows card 2's payment alone, with nothing observed after it: the deletions of card 1's
    // and 3's rows leave it as it is; card 2's row may still count there.
    for (const JournaledEvent& e : journal.events)
        EXPECT_EQ(other.replay(e.declaration, e.event, e.what), e.event.entity != 2) << "card " << e.event.entity;
}
