// Why a model scored a row: contributions of its features to the margin (the logit the score is the sigmoid
// of), which add up to it exactly. Trees: path-dependent TreeSHAP over the covers xgboost reports.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/gbdt.hpp"

namespace dendrite::engine {

// Reusable working memory for tree_shap: the path (sized for the deepest tree), and what does not depend on
// the row, computed once per ensemble (the trees' depths and expected values, the bias). One scratch serves
// one ensemble for as long as that ensemble lives (it is recognised by its arrays' addresses).
struct TreeShapScratch {
    struct PathElement {
        int feature;
        double zero_fraction, one_fraction, weight;
    };
    std::vector<PathElement> path;
    const float* prepared_for = nullptr;  // the ensemble's value array the rest was computed for
    const int32_t* prepared_offsets = nullptr;
    std::vector<int> depth;  // per tree
    double bias = 0;         // base margin + every tree's expected value
};

// Exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent individualized feature
// attribution for tree ensembles", Algorithm 2) of the ensemble at x. Writes view.features + 1 doubles:
// phi[i] is feature i's contribution, phi[features] the bias (the base margin plus every tree's expected
// value under its covers), and their sum is the margin (base margin + the leaves x reaches), in double.
// A feature whose value is NaN follows the split's default direction, as in score_trees. Needs the covers
// (view.cover); throws InvalidParameter without them.
void tree_shap(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& scratch);

// The margin score_trees takes the sigmoid of, summed in double (what tree_shap's phi add up to).
double tree_margin(const TreeEnsembleView& view, const float* x) noexcept;

}  // namespace dendrite::engine
