// The featurizer: raw column values (and entity history) -> one float vector, with every fitted number
// (centers, scales, vocabularies, encodings) held in plain fields that the glue stores as catalog rows.
#pragma once
#include "engine/engine_only.hpp"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/featurizer_spec.hpp"
#include "engine/history.hpp"
#include "engine/raw_value.hpp"

namespace dendrite::engine {

struct ModelView;

struct FittedColumn {
    ColumnSpec spec;
    bool missing_indicator = false;
    double center = 0, scale = 1;         // numeric: (transform(x) - center) / scale
    double impute = 0;                    // numeric: the output for a missing value
    std::vector<std::string> categories;  // one-hot: the top-K in output order; frequency/target: all kept
    std::vector<double> category_values;  // frequency / target: the encoded value per category
    double unseen_value = 0;              // frequency / target: the value of a category not seen in fitting
    int outputs() const;
};

// Standardization of one history output.
struct FittedHistoryOutput {
    double center = 0, scale = 1;
};

class Featurizer {
public:
    // Assembles a fitted featurizer (from FeaturizerFitter, or from catalog rows).
    Featurizer(FeaturizerSpec spec, std::vector<FittedColumn> columns, std::vector<FittedHistoryOutput> history);

    const FeaturizerSpec& spec() const { return spec_; }
    const std::vector<FittedColumn>& columns() const { return columns_; }
    const std::vector<FittedHistoryOutput>& history_outputs() const { return history_; }

    // The input columns, in the order transform() expects their values.
    const std::vector<std::string>& inputs() const { return inputs_; }
    // An input only read as a label (target encoding, label history): a scored row may lack it (NULL).
    bool optional_input(size_t i) const { return optional_inputs_[i]; }
    // An input a feature column reads that was never NULL in the fitting rows (its missing indicator left to the
    // fitting, and none fitted): a NULL there is imputed as a value the model never saw.
    bool input_never_missing(size_t i) const { return never_missing_inputs_[i]; }
    // Rows transform() was given with a category that a column never saw when fitted, in a column whose fitting
    // rows all had a category it kept (one-hot with fewer categories than top_k: "__other__" had no row; index
    // with fewer than max_categories: row 0 only for NULLs): such a row is scored through an input no training
    // row had, and the caller says so. Counted from any thread (relaxed atomics), with the last such column
    // (nullptr before the first).
    uint64_t unseen_category_rows() const { return unseen_categories_.rows.load(std::memory_order_relaxed); }
    const FittedColumn* last_unseen_category_column() const;
    int output_count() const { return int(output_names_.size()); }
    const std::vector<std::string>& output_names() const { return output_names_; }
    // The outputs of 'index' columns: position and the index's range (categories + 1; 0 = unseen/missing).
    struct IndexOutput {
        int output;
        int rows;
    };
    const std::vector<IndexOutput>& index_outputs() const { return index_outputs_; }
    // For each output, the input column (or history declaration) it comes from.
    const std::vector<std::string>& output_sources() const { return output_sources_; }

    // The autoencoder of anomaly declaration a (spec().anomaly[a]): its featurizer and model, which the caller
    // keeps alive as long as this featurizer (the pg cache pins the version; a test owns them). transform
    // raises until every declaration has one. Throws ErrorKind::Data when they are not what the declaration
    // names (the featurizer's inputs differ, or the model is not an autoencoder over its outputs).
    void attach_anomaly_model(size_t a, const Featurizer* featurizer, const ModelView* model);
    // The anomaly score (0..1) an anomaly output holds: the inverse of its scaling. Anomaly declaration a's
    // output is first_anomaly_output() + a.
    static double anomaly_score_of_output(float output);
    int first_anomaly_output() const { return first_anomaly_output_; }

    // The state of every declaration the featurizer keeps history for: its own, then its anomaly models'.
    std::unique_ptr<HistoryState> new_history() const { return std::make_unique<HistoryState>(all_history_); }
    // Whether transform and observe need a history state (own declarations or an anomaly model's).
    bool keeps_history() const { return !all_history_.empty(); }

    // Writes output_count() floats. history may be null when the spec declares no history. Throws
    // ErrorKind::Data for NaN/Infinity unless the spec treats them as missing.
    void transform(const RawValue* inputs, const HistoryState* history, float* out) const;
    // The same with this featurizer's declaration h at (*history_slots)[h] in the state (an anomaly model's,
    // kept in the state of the featurizer that reads its score; nullptr: at h).
    void transform(const RawValue* inputs, const HistoryState* history, const std::vector<size_t>* history_slots,
                   float* out) const;
    // Adds the row to the entity histories (after transform, for the offline pass and for inserts).
    void observe(const RawValue* inputs, HistoryState* history) const;
    // The row's events, one per declaration of the state (history_declarations()), as observe() adds them: an
    // UPDATE compares the old row's with the new one's (event_change).
    size_t history_declarations() const { return all_history_.size(); }
    void history_events(const RawValue* inputs, HistoryEvent* out) const;
    // Whether some declaration counts labels (fraud_count, fraud_rate): labels that arrive after a row was
    // observed must then reach the state (HistoryState::relabel).
    bool history_counts_labels() const;
    // Per input: whether it is read only as a label (the featurizer's, or a history declaration's), never as a
    // column, entity, time, value or distinct column. A row's label never enters its own features (label
    // aggregates need a positive delay), so a change of it alone leaves them as they were.
    const std::vector<bool>& label_only_inputs() const { return label_only_inputs_; }

    // Whether every column is a number or a boolean (no clip), with no history and no anomaly score: then a
    // row whose inputs are all finite numbers can be featurized from those numbers alone (a table of numeric
    // columns read for training: issue #26).
    bool numbers_only() const { return numbers_only_; }
    // For numbers_only(): the outputs of a row whose inputs (in inputs() order) are the finite numbers x,
    // the same to the bit as transform's. false when a feature overflows (out partly written): transform
    // the row instead, which applies the spec's policy.
    bool transform_numbers(const double* x, float* out) const;

private:
    friend class FeaturizerFitter;
    HistoryEvent history_event(size_t h, const RawValue* inputs) const;
    // A number input (missing unless a finite number; non-finite: missing or an error, per the spec).
    // Inline: it runs for every numeric value of every row.
    double numeric_input(const FittedColumn& column, const RawValue& value, bool* missing) const {
        *missing = value.type != RawValue::Type::Number;
        if (*missing) return 0;
        if (!std::isfinite(value.number)) return nonfinite_input(column, value.number, missing);
        return value.number;
    }
    double nonfinite_input(const FittedColumn& column, double x, bool* missing) const;
    // An infinite time (RawValue::is_infinite_time) in the named column: returns when the spec treats
    // non-finite values as missing (the caller then does), raises otherwise.
    void infinite_time(const std::string& column) const;
    // A feature that is not finite although its input was (an overflow): raises unless the spec treats
    // non-finite values as missing (then the caller imputes).
    void overflowed_feature(const std::string& feature, double x) const;

    FeaturizerSpec spec_;
    std::vector<FittedColumn> columns_;
    std::vector<FittedHistoryOutput> history_;
    std::vector<std::string> inputs_;
    std::vector<bool> optional_inputs_;
    std::vector<bool> never_missing_inputs_;
    std::vector<bool> label_only_inputs_;
    std::vector<bool> closed_vocabulary_;  // per column: see unseen_category_rows()
    struct UnseenCategories {
        std::atomic<uint64_t> rows{0};
        std::atomic<int> column{-1};
        UnseenCategories() = default;
        UnseenCategories(const UnseenCategories& other)
            : rows(other.rows.load(std::memory_order_relaxed)), column(other.column.load(std::memory_order_relaxed)) {}
        UnseenCategories& operator=(const UnseenCategories& other) {
            rows.store(other.rows.load(std::memory_order_relaxed), std::memory_order_relaxed);
            column.store(other.column.load(std::memory_order_relaxed), std::memory_order_relaxed);
            return *this;
        }
    };
    mutable UnseenCategories unseen_categories_;
    std::vector<int> column_input_;  // per column: index into inputs
    struct HistoryInputs {
        int entity, time, value, label, distinct;  // -1 when absent
    };
    std::vector<HistoryInputs> history_inputs_;
    std::vector<std::unordered_map<uint64_t, int>> category_index_;  // per column
    std::vector<std::string> output_names_, output_sources_;
    std::vector<IndexOutput> index_outputs_;
    struct AnomalyModel {
        std::vector<int> inputs;  // per input of the autoencoder's featurizer: index into inputs_
        const Featurizer* featurizer = nullptr;
        const ModelView* model = nullptr;
        int scratch_floats = 0;
        std::vector<size_t> history_slots;  // of its declarations in this featurizer's history state
    };
    std::vector<AnomalyModel> anomaly_;
    void anomaly_outputs(const RawValue* inputs, const HistoryState* history, float* out) const;
    std::vector<HistorySpec> all_history_;  // the state's declarations: spec_.history, then anomaly models' unshared
    int history_raw_count_ = 0;
    int first_history_output_ = 0;  // the index of the first history output in output_names_
    // transform's numbers for numbers_only(), one per column, compact: what transform_numbers reads.
    struct NumberColumn {
        int input;
        bool boolean, missing_indicator;
        NumericTransform transform;
        double center, scale;
    };
    std::vector<NumberColumn> numbers_;
    bool numbers_only_ = false;
    int first_anomaly_output_ = 0;
};

// Fits a featurizer in one pass over rows in time order (history features need the order).
class FeaturizerFitter {
public:
    explicit FeaturizerFitter(FeaturizerSpec spec);
    const std::vector<std::string>& inputs() const { return inputs_; }
    // fit_statistics false: the row only feeds the history (a warm-up row before the fitting rows).
    void add(const RawValue* inputs, bool fit_statistics = true);
    size_t rows() const { return rows_; }
    Featurizer finish() const;

private:
    struct Moments {
        size_t count = 0;
        double mean = 0, m2 = 0, min = 0, max = 0;
        void add(double x) {  // Welford's update; inline: it runs for every numeric value the fit reads
            if (count == 0) min = max = x;
            min = std::min(min, x);
            max = std::max(max, x);
            const double delta = x - mean;
            mean += delta / double(++count);
            m2 += delta * (x - mean);
        }
        double sd() const { return count > 1 ? std::sqrt(m2 / double(count)) : 0.0; }
    };
    struct CategoryStats {
        std::string text;
        size_t count = 0;
        double label_sum = 0;
    };

    FeaturizerSpec spec_;
    std::vector<std::string> inputs_;
    std::unique_ptr<Featurizer> shell_;  // unfitted: resolves inputs and computes raw history
    std::unique_ptr<HistoryState> history_;
    std::vector<Moments> column_moments_;
    std::vector<bool> column_saw_missing_;
    std::vector<std::unordered_map<uint64_t, CategoryStats>> categories_;
    std::vector<Moments> history_moments_;
    int label_input_ = -1;
    double label_sum_ = 0;
    size_t labelled_rows_ = 0;
    size_t rows_ = 0;
};

// log1p: sign(x) log(1 + |x|); every other transform is affine, applied with the fitted center and scale.
// Inline: it runs for every numeric value of every row the fit and the featurizer see.
inline double numeric_transform(NumericTransform transform, double x) {
    if (transform == NumericTransform::Log1p) return std::copysign(std::log1p(std::fabs(x)), x);
    return x;
}

}  // namespace dendrite::engine
