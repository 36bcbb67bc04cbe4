// Reason codes: which inputs pushed a row's score up (dendrite.explain, and the guards' rejections).
#pragma once

#include "pg/model_cache.hpp"
#include "pg/row_binding.hpp"

#include "engine/drift.hpp"
#include "engine/trainer.hpp"

namespace dendrite::pg {

// One input's share of an explanation: the outputs of a column, or of a history declaration, folded.
struct Reason {
    const char* feature;  // the column, or "history:<declaration name>" (feature_names' prefix of its outputs)
    const char* input;    // the row's column it reads (a history declaration: its entity)
    char* value;          // that column's value in the row, as text (NULL: NULL, or no row at hand)
    double contribution;  // to the score's logit
};

// NULL when the version can be explained (gbdt with covers, a network with its training means); otherwise
// why not, for a message.
const char* unexplainable(const CachedVersion* version);

// A version's outputs grouped per input (a column, or a history declaration), in output order: group_of[j]
// per output, and per group its feature and input names (palloc'd in the current memory context).
struct InputGroups {
    int n;
    int* group_of;
    const char** feature;
    const char** input;
};
InputGroups input_groups(const engine::Featurizer* featurizer, int n_features);
inline InputGroups input_groups(const CachedVersion* version) {
    return input_groups(version->featurizer->featurizer, version->n_features);
}

// The reasons of one row: its features x (and the row loaded in binding for the values; NULL: none), one per
// group, largest contribution first (equal ones by name). reasons has room for groups.n. Returns how many.
// Only the first `top` reasons get their value (the others' is NULL): a row's values as text cost more than
// its contributions. The version must be explainable. score_checked: the caller has scored x and checked the
// score (checked_score); otherwise it is scored and checked first.
int explain_features(const CachedVersion* version, const InputGroups& groups, const RowBinding* binding, const float* x,
                     int top, Reason* reasons, bool score_checked);
// "merchant = jewellery (+1.204), the history of card = card7 (+0.851)": the first top reasons that raised
// the score.
char* reasons_text(const Reason* reasons, int n, int top);
// The same as a jsonb array of dendrite.explain's columns, [{"feature": ..., "input": ..., "value": ...,
// "contribution": ...}, ...], what a guard's 'log,reasons' keeps in dendrite.predictions. Built as jsonb,
// not parsed from text (the parse cost a flagged row ~7 us, a third of its reasons' cost after the arithmetic).
Datum reasons_jsonb(const Reason* reasons, int n, int top);
// The first top reasons of the row loaded in binding, whose features are x and whose score the caller has
// checked, as reasons_jsonb builds them.
// The version must be explainable.
Datum row_reasons_jsonb(const CachedVersion* version, const RowBinding* binding, const float* x, int top);
// The same as reasons_text writes them (a rejection's DETAIL).
char* row_reasons_text(const CachedVersion* version, const RowBinding* binding, const float* x, int top);

// At training: each input's mean absolute contribution over (up to 2,000 of) the evaluation rows of a model
// just trained, into dendrite.validation_importance (the report's importance chart). features: the training
// data, n_features a row. Needs SPI.
void write_validation_importance(int64 version_id, const engine::TrainResult& result,
                                 const std::vector<engine::FeatureBaseline>& baselines,
                                 const engine::Featurizer* featurizer, const float* features, int n_features);

}  // namespace dendrite::pg
