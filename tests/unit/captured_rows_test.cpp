// guard_batch's row capture (engine side): rows featurized and scored in chunks on a helper thread give the
// scores and the history of featurizing each row when it was captured, bit for bit; an error stops the
// rows after it.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../bench/bench_workload.hpp"
#include "engine/captured_rows.hpp"
#include "engine/error.hpp"
#include "engine/network.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"

using namespace dendrite::engine;

namespace {

struct Scored {
    std::vector<float> scores;
    std::unique_ptr<HistoryState> history;
};

struct Fixture {
    BenchWorkload workload = make_bench_workload(5000, false);
    Featurizer featurizer = workload.fit();
    Network network{NetworkSpec::binary_classifier(featurizer.output_count(), {16, 8}, Activation::Relu)};
    std::unique_ptr<SpecView> spec_view;
    ModelView model;

    Fixture() {
        Rng rng(11);
        network.initialize(rng);
        spec_view = std::make_unique<SpecView>(network.spec(), network.parameters().data());
        model.kind = ModelView::Kind::Network;
        model.network = spec_view->view();
    }
    size_t width() const { return workload.inputs.size(); }
    const RawValue* row(size_t i) const { return &workload.rows[i * width()]; }

    // What the row trigger does: featurize, score, observe (unless skipped(i)), one row at a time.
    Scored one_at_a_time(size_t rows, bool (*skipped)(size_t) = nullptr) const {
        Scored s{{}, featurizer.new_history()};
        std::vector<float> x(size_t(featurizer.output_count()));
        std::vector<float> scratch(size_t(model_scratch_floats(model)));
        for (size_t i = 0; i < rows; ++i) {
            featurizer.transform(row(i), s.history.get(), x.data());
            s.scores.push_back(score_one(model, x.data(), scratch.data()));
            if (!skipped || !skipped(i)) featurizer.observe(row(i), s.history.get());
        }
        return s;
    }

    // What guard_batch's capture does: rows copied in one by one (texts from a buffer that is overwritten
    // right after, as a tuple's would be), chunks sealed as they fill, the last one at the end.
    void capture(CapturedRows& captured, size_t rows, HistoryState* history, SerialWorker* worker,
                 bool (*skipped)(size_t) = nullptr) const {
        std::string scribble;
        std::vector<RawValue> copy(width());
        for (size_t i = 0; i < rows; ++i) {
            for (size_t j = 0; j < width(); ++j) copy[j] = row(i)[j];
            scribble.clear();
            for (size_t j = 0; j < width(); ++j)
                if (copy[j].type == RawValue::Type::Text) scribble.append(copy[j].text, copy[j].length);
            size_t offset = 0;
            for (size_t j = 0; j < width(); ++j)
                if (copy[j].type == RawValue::Type::Text) {
                    copy[j].text = scribble.data() + offset;
                    offset += copy[j].length;
                }
            captured.add_row(copy.data(), !skipped || !skipped(i));
            std::fill(scribble.begin(), scribble.end(), '#');  // the caller's copy is gone
            for (RawValue& value : copy) value = RawValue::of_number(-1);
            if (captured.open_rows() == CapturedRows::kChunkRows) captured.seal(history, worker);
        }
        captured.seal(history, worker);
        if (worker) {
            ASSERT_TRUE(worker->wait_until_unfinished_at_most(0, 60 * 1000000LL));
        }
    }

    // Features of a probe row against a history: equal histories give equal features.
    std::vector<float> probe(const HistoryState* history, size_t i) const {
        std::vector<float> x(size_t(featurizer.output_count()));
        featurizer.transform(row(i), history, x.data());
        return x;
    }
};

}  // namespace

TEST(CapturedRows, ChunksOnAHelperThreadEqualRowByRow) {
    const Fixture f;
    const size_t n = 3 * CapturedRows::kChunkRows + 77;  // three full chunks and a short one
    ASSERT_GT(f.workload.n, n);
    const Scored reference = f.one_at_a_time(n);
    for (bool threaded : {true, false}) {
        SerialWorker worker;
        auto history = f.featurizer.new_history();
        CapturedRows captured(f.featurizer, f.model);
        f.capture(captured, n, history.get(), threaded ? &worker : nullptr);
        captured.rethrow_error();
        ASSERT_EQ(captured.rows(), n);
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(captured.score(i), reference.scores[i]) << "row " << i << (threaded ? ", threaded" : "");
        for (size_t first = 0; first < n; first += CapturedRows::kChunkRows)  // the statement trigger reads them so
            for (size_t k = 0; k < CapturedRows::kChunkRows && first + k < n; ++k)
                ASSERT_EQ(captured.chunk_scores(first)[k], reference.scores[first + k]);
        EXPECT_EQ(history->entity_count(), reference.history->entity_count());
        EXPECT_EQ(history->event_count(), reference.history->event_count());
        EXPECT_EQ(f.probe(history.get(), n), f.probe(reference.history.get(), n));
    }
}

// Rows that INSERT ... ON CONFLICT will skip are scored where they come but do not join the history: the
// rows after them see the history without them, as the row guard does.
TEST(CapturedRows, RowsNotObservedAreScoredAndLeftOutOfTheHistory) {
    const Fixture f;
    const size_t n = 2 * CapturedRows::kChunkRows + 300;
    auto every_third = [](size_t i) { return i % 3 == 1; };
    const Scored reference = f.one_at_a_time(n, every_third);
    const Scored all = f.one_at_a_time(n);
    for (bool threaded : {true, false}) {
        SerialWorker worker;
        auto history = f.featurizer.new_history();
        CapturedRows captured(f.featurizer, f.model);
        f.capture(captured, n, history.get(), threaded ? &worker : nullptr, every_third);
        captured.rethrow_error();
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(captured.score(i), reference.scores[i]) << "row " << i << (threaded ? ", threaded" : "");
        EXPECT_EQ(history->event_count(), reference.history->event_count());
        EXPECT_LT(history->event_count(), all.history->event_count());
        EXPECT_EQ(f.probe(history.get(), n), f.probe(reference.history.get(), n));
    }
}

TEST(CapturedRows, ChunksComeBackToThePoolForTheNextStatement) {
    // Statement after statement through one pool: the same scores as row by row each time, the chunks
    // reused (at most `keep` kept), whatever size the previous statement left them at.
    const Fixture f;
    CapturedChunkPool pool(3);
    SerialWorker worker;
    for (size_t n : {size_t(2 * CapturedRows::kChunkRows + 5), size_t(7), size_t(4 * CapturedRows::kChunkRows)}) {
        const Scored reference = f.one_at_a_time(n);
        auto history = f.featurizer.new_history();
        {
            CapturedRows captured(f.featurizer, f.model, &pool);
            f.capture(captured, n, history.get(), &worker);
            captured.rethrow_error();
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(captured.score(i), reference.scores[i]) << n << " rows, row " << i;
        }
        EXPECT_GE(pool.spare(), 1u);
        EXPECT_LE(pool.spare(), 3u);
    }
}

TEST(CapturedRows, OneRowStatementNeedsNoThread) {
    const Fixture f;
    const Scored reference = f.one_at_a_time(1);
    auto history = f.featurizer.new_history();
    CapturedRows captured(f.featurizer, f.model);
    f.capture(captured, 1, history.get(), nullptr);
    captured.rethrow_error();
    ASSERT_EQ(captured.rows(), 1u);
    EXPECT_EQ(captured.score(0), reference.scores[0]);
    EXPECT_THROW(captured.add_row(f.row(1)), std::logic_error);  // nothing after the short last chunk
}

TEST(CapturedRows, AnErrorStopsTheRowsAfterIt) {
    Fixture f;
    const size_t n = 3 * CapturedRows::kChunkRows;
    const size_t bad = CapturedRows::kChunkRows + 500;  // in the second chunk
    size_t amount = 0;
    while (f.workload.inputs[amount] != "amount") ++amount;
    f.workload.rows[bad * f.width() + amount] = RawValue::of_number(std::numeric_limits<double>::quiet_NaN());
    const Scored before_bad = f.one_at_a_time(bad);
    for (bool threaded : {true, false}) {
        SerialWorker worker;
        auto history = f.featurizer.new_history();
        CapturedRows captured(f.featurizer, f.model);
        f.capture(captured, n, history.get(), threaded ? &worker : nullptr);
        try {
            captured.rethrow_error();
            ADD_FAILURE() << "the NaN amount raised no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Data) << e.what();
        }
        // The history holds exactly the rows before the bad one: the rest of its chunk and the third
        // chunk were not observed.
        EXPECT_EQ(history->event_count(), before_bad.history->event_count());
        EXPECT_EQ(f.probe(history.get(), n), f.probe(before_bad.history.get(), n));
        for (size_t i = 0; i < size_t(CapturedRows::kChunkRows); ++i)
            ASSERT_EQ(captured.score(i), before_bad.scores[i]);
    }
}
