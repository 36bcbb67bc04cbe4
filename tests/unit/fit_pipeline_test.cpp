// The featurizer's fit on a helper thread (PipelinedFit): the featurizer it fits is the one that
// FeaturizerFitter::add gives row after row on one thread, bit for bit, whatever the chunking; an error a
// row raises comes back to the caller; abandoning a pipeline mid-read is safe. The same for an offline pass's
// featurizing on a helper thread (PipelinedTransform): the features of transform and observe row after row.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/fit_pipeline.hpp"
#include "engine/transform_pipeline.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

namespace {

const std::vector<InputColumn> kColumns{{"amount", SqlTypeClass::Number}, {"ratio", SqlTypeClass::Number},
                                        {"m", SqlTypeClass::Text},        {"channel", SqlTypeClass::Text},
                                        {"at", SqlTypeClass::Timestamp},  {"card", SqlTypeClass::Integer},
                                        {"y", SqlTypeClass::Integer}};

FeaturizerSpec spec_with_everything(const char* nonfinite = "error") {
    return resolve_spec(
        kColumns,
        R"({"amount": {"transform": "log1p", "clip": [0, 1000]}, "ratio": "minmax", "m": {"encoding": "target"},
            "channel": "onehot"})",
        R"([{"entity": "card", "time": "at", "value": "amount", "windows": ["1 day", "7 days"], "aggregates": ["count", "mean", "max"]},
            {"entity": "card", "time": "at", "label": "y", "delay": "2 days", "windows": ["7 days"], "name": "card_risk"}])",
        "y", nonfinite);
}

// Deterministic rows in time order: NULLs, texts of varied lengths, a few hundred cards.
struct Rows {
    std::vector<std::string> texts;
    std::vector<std::vector<RawValue>> rows;
};

Rows make_rows(size_t n, uint64_t seed) {
    Rng rng(seed);
    Rows r;
    r.texts.reserve(n);
    const char* channels[] = {"pos", "web", "atm", "moto"};
    for (size_t i = 0; i < n; ++i) r.texts.push_back("merchant " + std::to_string(rng.below(60)));
    for (size_t i = 0; i < n; ++i) {
        std::vector<RawValue> row{RawValue::of_number(std::exp(4 * rng.uniform())),
                                  RawValue::of_number(rng.normal()),
                                  RawValue::of_text(r.texts[i].c_str(), uint32_t(r.texts[i].size())),
                                  text(channels[rng.below(4)]),
                                  RawValue::of_time(int64_t(i) * 7 * 60 * 1000000LL),
                                  RawValue::of_number(double(rng.below(300))),
                                  RawValue::of_number(rng.uniform() < 0.05 ? 1 : 0)};
        if (i % 17 == 3) row[1] = RawValue::null();
        if (i % 29 == 5) row[3] = RawValue::null();
        r.rows.push_back(row);
    }
    return r;
}

void expect_same_featurizer(const Featurizer& a, const Featurizer& b) {
    ASSERT_EQ(a.output_names(), b.output_names());
    ASSERT_EQ(a.columns().size(), b.columns().size());
    for (size_t c = 0; c < a.columns().size(); ++c) {
        const FittedColumn &x = a.columns()[c], &y = b.columns()[c];
        EXPECT_EQ(std::memcmp(&x.center, &y.center, sizeof x.center), 0) << x.spec.name;
        EXPECT_EQ(std::memcmp(&x.scale, &y.scale, sizeof x.scale), 0) << x.spec.name;
        EXPECT_EQ(std::memcmp(&x.impute, &y.impute, sizeof x.impute), 0) << x.spec.name;
        EXPECT_EQ(x.missing_indicator, y.missing_indicator) << x.spec.name;
        EXPECT_EQ(x.categories, y.categories) << x.spec.name;
        EXPECT_EQ(x.category_values, y.category_values) << x.spec.name;
        EXPECT_EQ(x.unseen_value, y.unseen_value) << x.spec.name;
    }
    ASSERT_EQ(a.history_outputs().size(), b.history_outputs().size());
    for (size_t h = 0; h < a.history_outputs().size(); ++h) {
        EXPECT_EQ(a.history_outputs()[h].center, b.history_outputs()[h].center) << h;
        EXPECT_EQ(a.history_outputs()[h].scale, b.history_outputs()[h].scale) << h;
    }
}

}  // namespace

// Rows before `since` (fit_statistics false) only feed the history, on either path; the row counts straddle
// chunk boundaries (a short last chunk, an exact multiple, fewer rows than a chunk).
TEST(PipelinedFit, FitsTheSameFeaturizerAsRowAfterRow) {
    for (size_t n : {size_t(5000), size_t(3 * PipelinedFit::kChunkRows), size_t(700)}) {
        for (bool helper : {true, false}) {
            const Rows data = make_rows(n, 11 + n);
            const size_t warm_up = n / 10;
            FeaturizerFitter direct(spec_with_everything());
            for (size_t i = 0; i < n; ++i) direct.add(data.rows[i].data(), i >= warm_up);
            FeaturizerFitter piped(spec_with_everything());
            {
                PipelinedFit pipeline(piped, helper);
                for (size_t i = 0; i < n; ++i) {
                    if (pipeline.add(data.rows[i].data(), i >= warm_up)) {
                        EXPECT_TRUE(pipeline.wait_until_in_flight_at_most(4, 10000000));
                    }
                }
                pipeline.finish();
            }
            ASSERT_EQ(direct.rows(), piped.rows());
            expect_same_featurizer(direct.finish(), piped.finish());
        }
    }
}

// train's automatic featurizer keeps the rows it fits on (keep_rows): the helper keeps them in read order,
// only those that fit statistics (not the warm-up rows), and they give back what was read, on either path.
TEST(PipelinedFit, KeepsTheRowsItFitsInReadOrder) {
    for (size_t n : {size_t(5000), size_t(700)}) {
        for (bool helper : {true, false}) {
            const Rows data = make_rows(n, 5 + n);
            const size_t warm_up = n / 10;
            FeaturizerFitter fitter(spec_with_everything());
            PipelinedFit pipeline(fitter, helper);
            pipeline.keep_rows(100);  // fewer than read: RawRows grows past its reservation
            for (size_t i = 0; i < n; ++i) pipeline.add(data.rows[i].data(), i >= warm_up);
            pipeline.finish();
            const std::unique_ptr<RawRows> kept = pipeline.take_kept_rows();
            ASSERT_TRUE(kept);
            ASSERT_EQ(kept->size(), n - warm_up);
            std::vector<RawValue> back(kColumns.size());
            for (size_t i = warm_up; i < n; ++i) {
                kept->get(i - warm_up, back.data());
                for (size_t j = 0; j < kColumns.size(); ++j) {
                    const RawValue &a = data.rows[i][j], &b = back[j];
                    ASSERT_EQ(a.type, b.type) << "row " << i << " column " << j;
                    if (a.type == RawValue::Type::Number) {
                        EXPECT_EQ(a.number, b.number) << "row " << i;
                    } else if (a.type == RawValue::Type::Time) {
                        EXPECT_EQ(a.time_us, b.time_us) << "row " << i;
                    } else if (a.type == RawValue::Type::Text) {
                        EXPECT_EQ(std::string(a.text, a.length), std::string(b.text, b.length)) << "row " << i;
                    }
                }
            }
        }
    }
}

// A NaN under nonfinite 'error' raises in the fitter: the pipeline hands the same error back, from add
// (a few chunks later) or from finish, and fits no row after it.
TEST(PipelinedFit, HandsBackTheErrorARowRaised) {
    for (size_t bad : {size_t(10), size_t(4000)}) {
        Rows data = make_rows(6000, 5);
        data.rows[bad][0] = RawValue::of_number(NAN);
        FeaturizerFitter fitter(spec_with_everything());
        PipelinedFit pipeline(fitter, true);
        bool raised = false;
        try {
            for (const auto& row : data.rows) pipeline.add(row.data(), true);
            pipeline.finish();
        } catch (const Error& e) {
            raised = true;
            EXPECT_EQ(e.kind(), ErrorKind::Data);
            EXPECT_NE(std::string(e.what()).find("column \"amount\" is NaN"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(raised);
        // The fit stopped where row after row stops: at the bad row, none after it.
        FeaturizerFitter direct(spec_with_everything());
        EXPECT_THROW(for (const auto& row : data.rows) direct.add(row.data(), true), Error);
        EXPECT_EQ(fitter.rows(), direct.rows());
        EXPECT_LE(fitter.rows(), bad + 1);
    }
}

// A read that stops half way (a cancel, an error in the query) destroys the pipeline with chunks in flight:
// the helper stops before the chunks and the fitter go.
TEST(PipelinedFit, AbandonedMidReadIsSafe) {
    const Rows data = make_rows(20000, 9);
    FeaturizerFitter fitter(spec_with_everything());
    {
        PipelinedFit pipeline(fitter, true);
        for (size_t i = 0; i < 12000; ++i) pipeline.add(data.rows[i].data(), true);
    }
    EXPECT_LE(fitter.rows(), size_t(12000));
}

// A wide query's chunks hold fewer rows (at most kChunkValues values): 600 columns, 109 rows a chunk, the
// same featurizer.
TEST(PipelinedFit, WideRowsTravelInSmallerChunks) {
    std::vector<InputColumn> columns;
    for (int c = 0; c < 600; ++c) columns.push_back({"c" + std::to_string(c), SqlTypeClass::Number});
    const FeaturizerSpec spec = resolve_spec(columns, "", "", "", "error");
    Rng rng(3);
    std::vector<std::vector<RawValue>> rows(1000);
    for (auto& row : rows)
        for (int c = 0; c < 600; ++c) row.push_back(RawValue::of_number(rng.normal(c, 1 + c % 7)));
    FeaturizerFitter direct(spec), piped(spec);
    for (const auto& row : rows) direct.add(row.data());
    PipelinedFit pipeline(piped, true);
    int handed_over = 0;
    for (const auto& row : rows) handed_over += pipeline.add(row.data(), true);
    pipeline.finish();
    EXPECT_EQ(handed_over, 1000 / int(PipelinedFit::kChunkValues / 600));  // 9 full chunks of 109 rows
    expect_same_featurizer(direct.finish(), piped.finish());
}

namespace {

// Featurizes rows through a PipelinedTransform, taking finished chunks as a pass does (after each hand-over
// and at the end); rows before warm_up only feed the history.
std::vector<float> featurize_piped(const Featurizer& featurizer, const Rows& data, size_t warm_up, bool helper,
                                   HistoryState* history) {
    std::vector<float> out;
    PipelinedTransform pipeline(featurizer, history, helper);
    auto take = [&] {
        int rows = 0;
        while (const float* features = pipeline.finished_features(&rows)) {
            out.insert(out.end(), features, features + size_t(rows) * size_t(featurizer.output_count()));
            pipeline.release_finished();
        }
    };
    for (size_t i = 0; i < data.rows.size(); ++i)
        if (pipeline.add(data.rows[i].data(), i >= warm_up)) {
            EXPECT_TRUE(pipeline.wait_until_in_flight_at_most(4, 10000000));
            take();
        }
    pipeline.finish();
    take();
    return out;
}

}  // namespace

// The offline pass's featurizing on a helper: the features (and the history state left) of transform and
// observe row after row, bit for bit, on either path, across chunk boundaries, warm-up rows observed only.
TEST(PipelinedTransform, FeaturizesAsRowAfterRow) {
    const Rows fit_rows = make_rows(3000, 21);
    FeaturizerFitter fitter(spec_with_everything());
    for (const auto& row : fit_rows.rows) fitter.add(row.data());
    const Featurizer featurizer = fitter.finish();
    const size_t outputs = size_t(featurizer.output_count());
    for (size_t n : {size_t(5000), size_t(3 * PipelinedTransform::kChunkRows), size_t(700)}) {
        for (bool helper : {true, false}) {
            const Rows data = make_rows(n, 31 + n);
            const size_t warm_up = n / 10;
            std::unique_ptr<HistoryState> direct_history = featurizer.new_history();
            std::vector<float> direct;
            std::vector<float> features(outputs);
            for (size_t i = 0; i < n; ++i) {
                if (i >= warm_up) {
                    featurizer.transform(data.rows[i].data(), direct_history.get(), features.data());
                    direct.insert(direct.end(), features.begin(), features.end());
                }
                featurizer.observe(data.rows[i].data(), direct_history.get());
            }
            std::unique_ptr<HistoryState> piped_history = featurizer.new_history();
            const std::vector<float> piped = featurize_piped(featurizer, data, warm_up, helper, piped_history.get());
            ASSERT_EQ(direct.size(), (n - warm_up) * outputs);
            ASSERT_EQ(piped.size(), direct.size());
            EXPECT_EQ(std::memcmp(piped.data(), direct.data(), direct.size() * sizeof(float)), 0);
            // The states agree too: the next row's features from either are the same.
            const Rows next = make_rows(1, 99);
            std::vector<float> a(outputs), b(outputs);
            featurizer.transform(next.rows[0].data(), direct_history.get(), a.data());
            featurizer.transform(next.rows[0].data(), piped_history.get(), b.data());
            EXPECT_EQ(std::memcmp(a.data(), b.data(), outputs * sizeof(float)), 0);
        }
    }
}

// A NaN under nonfinite 'error' raises in transform: the pipeline hands the same error back, and the
// features of the rows before it come out; abandoning a pipeline with chunks in flight is safe.
TEST(PipelinedTransform, HandsBackTheErrorARowRaisedAndCanBeAbandoned) {
    const Rows fit_rows = make_rows(3000, 21);
    FeaturizerFitter fitter(spec_with_everything());
    for (const auto& row : fit_rows.rows) fitter.add(row.data());
    const Featurizer featurizer = fitter.finish();
    for (size_t bad : {size_t(10), size_t(4000)}) {
        Rows data = make_rows(6000, 5);
        data.rows[bad][0] = RawValue::of_number(NAN);
        std::unique_ptr<HistoryState> history = featurizer.new_history();
        bool raised = false;
        try {
            featurize_piped(featurizer, data, 0, true, history.get());
        } catch (const Error& e) {
            raised = true;
            EXPECT_EQ(e.kind(), ErrorKind::Data);
            EXPECT_NE(std::string(e.what()).find("column \"amount\" is NaN"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(raised);
    }
    const Rows data = make_rows(20000, 9);
    std::unique_ptr<HistoryState> history = featurizer.new_history();
    {
        PipelinedTransform pipeline(featurizer, history.get(), true);
        for (size_t i = 0; i < 12000; ++i) pipeline.add(data.rows[i].data(), true);
    }
}
