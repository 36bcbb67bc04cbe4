// Gradient-boosted trees through libxgboost's C API (algorithm 'gbdt'), and the trees as plain arrays that
// dendrite stores as rows (dendrite.trees) and scores itself, without xgboost, in triggers and queries.
#pragma once
#include <algorithm>
#include "engine/engine_only.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dendrite::engine {

struct Dataset;
struct TrainOptions;
struct TrainCallbacks;
struct TrainResult;

struct GbdtOptions {
    int rounds = 300;  // boosting rounds (the 'epochs' of dendrite.epochs: one row per round)
    // Depth 4 at eta 0.05, not xgboost's 6 and 0.3 (nor dendrite's 6 and 0.1 before 0.6.0): on the handbook's
    // fraud data deeper trees or larger steps overfit, ~0.01 AP worse in every week (docs/benchmarks.md).
    int max_depth = 4;
    double eta = 0.05;     // shrinkage (xgboost's learning rate)
    double subsample = 1;  // rows sampled per tree
    double colsample_bytree = 1;
    double min_child_weight = 1;
    double lambda = 1;  // L2 on leaf weights
    double alpha = 0;   // L1 on leaf weights
    // Histogram bins (tree_method 'hist'). 1024, not xgboost's 256: quantile bins are sparse in the tail of a
    // skewed amount, where fraud rules (limits) sit; see docs/benchmarks.md (handbook data, +0.005..0.018 AP).
    int max_bin = 1024;
    // Validation metrics every this many rounds (and at the last): 0, the default, is every round up to 99
    // rounds and every rounds / 50-th beyond (at most ~50 evaluations: on 90k rows they were a fifth of the
    // fit). Early stopping's patience still counts rounds.
    int evaluate_every = 0;
    int evaluation_interval() const { return evaluate_every > 0 ? evaluate_every : std::max(1, rounds / 50); }

    void validate() const;  // throws InvalidParameter
};

// Every tree's nodes, concatenated; tree t owns nodes [offsets[t], offsets[t + 1]). A split node sends a row
// left when x[feature] < threshold (right otherwise; a NaN goes left when default_left); a leaf (left < 0)
// adds its value to the margin. score = sigmoid(base_margin + sum of the leaves reached).
struct TreeEnsemble {
    int features = 0;
    float base_margin = 0;
    std::vector<int32_t> offsets{0};
    std::vector<int32_t> left, right, feature;  // child indices are relative to the tree's first node
    std::vector<float> threshold, value;
    std::vector<uint8_t> default_left;
    std::vector<float> cover;  // per node: the sum of the training rows' hessians reaching it (for explain)

    int trees() const { return int(offsets.size()) - 1; }
    // Reads xgboost's JSON model (XGBoosterSaveModelToBuffer, format json). Throws Internal on a format
    // this code does not know.
    static TreeEnsemble from_xgboost_json(const std::string& json);
    void validate() const;  // every index in range and every tree acyclic; throws InvalidParameter
};

// Plain-data view for the scoring paths (memory that PostgreSQL owns; never throws).
struct TreeEnsembleView {
    int features = 0;
    int trees = 0;
    float base_margin = 0;
    const int32_t* offsets = nullptr;
    const int32_t* left = nullptr;
    const int32_t* right = nullptr;
    const int32_t* feature = nullptr;
    const float* threshold = nullptr;
    const float* value = nullptr;
    const uint8_t* default_left = nullptr;
    const float* cover = nullptr;  // NULL: not stored (versions trained before 0.6.0)
};

TreeEnsembleView view_of(const TreeEnsemble& ensemble);
// Every index in range, children after their parents (so no cycle), every node but the root the child of
// exactly one node (a tree: shared children would make TreeSHAP's walk, which visits a node once per path to
// it, exponential in the depth), finite leaves: what scoring and explaining need to be safe on trees read back
// from rows that someone may have edited; and at most kMaxTreeDepth deep (training allows 16; a deeper tree,
// imported or edited, would overflow the stack of explanations' recursive walks). May throw std::bad_alloc.
constexpr int kMaxTreeDepth = 64;
bool well_formed(const TreeEnsembleView& view);
float score_trees(const TreeEnsembleView& view, const float* x) noexcept;
// The margin score_trees takes the sigmoid of (base_margin + the leaves reached), in the same float arithmetic.
float trees_margin(const TreeEnsembleView& view, const float* x) noexcept;

// Trains with xgboost (objective binary:logistic, tree_method hist), evaluating every round on the same
// validation rows the networks use; with patience, stops early and keeps the best round's trees.
TrainResult train_gbdt(const Dataset& data, const TrainOptions& options, const TrainCallbacks& callbacks);

}  // namespace dendrite::engine
