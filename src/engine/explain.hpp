// Why a model scored a row: contributions of its features to the margin (the logit the score is the sigmoid
// of), which add up to it exactly. Trees: path-dependent TreeSHAP over the covers xgboost reports.
#pragma once
#include "engine/engine_only.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/gbdt.hpp"
#include "engine/model.hpp"
#include "engine/network.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

// What tree_shap computes once per ensemble and reuses for every row (and its working memory). One scratch
// serves one ensemble for as long as that ensemble lives (it is recognised by its arrays' addresses).
//
// Linear TreeSHAP (Yu, Xu, Bifet and Read 2022). For a leaf l, a feature i on its path, z_i the product of
// the covers' shares along the path's splits on i and o_i = 1 when x follows the path at all of them, the
// path-dependent Shapley sum is value * prod_j z_j * (q_i - 1) * integral over t in [0, 1] of
// prod_{j != i} (1 - t + t q_j), with q_j = o_j / z_j (the Shapley weights |S|! (d - |S| - 1)! / d! are Beta
// integrals of t^|S| (1 - t)^(d - |S| - 1)). The integrand is a polynomial of degree d - 1 < depth: Gauss-
// Legendre with `points` nodes (2 up to depth 4, 4 up to 8, 8 up to 16) integrates it exactly. The products are kept at
// those nodes, multiplied down each tree and summed up it (a subtree's leaves share the factors above it), so
// a row costs a few vector operations per node: no per-leaf tables, nothing exponential in the depth. A
// feature split on again lower down has its factor replaced there, and what the upper split added for the
// leaves below is taken back (the linear functional cancels exactly). A tree with a zero share somewhere,
// or deeper than 16, takes Algorithm 2.
struct TreeShapScratch {
    struct PathElement {
        int feature;
        double zero_fraction, one_fraction, weight;
    };
    // A tree's split (a node that is not a leaf), as the row pass reads it: the split and its two children at
    // a time; those with a child that splits (a split before its children: first the clean ones, which
    // neither replace a factor nor lie below a split that does, then the rest, each group level by level),
    // then those above two leaves (first those with an earlier split on their feature, then the plain ones).
    // Positions are in the working memory of the split's unit: each tree's nodes in its preorder, the unit's
    // trees side by side.
    // 48 bytes: the row pass streams every split of every tree, and is slower with a larger one (56 bytes:
    // ~5 % in explain_bench), so positions are 16 bits (a tree of more nodes takes Algorithm 2).
    struct Split {
        uint16_t position;  // the split's; its left child's is position + 1
        uint16_t right;     // its right child's
        uint16_t previous;  // 1 + the position of the child reached by the nearest ancestor split on the same
                            // feature (0: none); both children's edges replace that one's factor
        uint8_t default_left;
        uint8_t child_splits;  // bit 0 set when the left child is a split, bit 1 the right (0: both leaves)
        int32_t feature;
        float threshold;
        union {
            struct {
                double q_minus_one[2];  // per child (left, right): 1 / z - 1, z the product of the shares along
                                        // the path's splits on this feature, this one's included
                double leaf_weight[2];  // per child: a leaf's value times the product of every share along its
                                        // path (0 for a child that splits)
            } general;
            // A split above two leaves with no earlier split on its feature (a "plain" one, most of them)
            // replaces no factor: its leaves' sum is leaves + t * slope, and it credits its feature with the
            // integral of the products down to it times slope, where slope is the leaf x reaches times its
            // q - 1, minus the other leaf (both weights as above). Per side x takes (left, right).
            struct {
                double slope[2];
                double leaves;  // the two leaves' weights summed
            } plain;
        };
    };
    std::vector<PathElement> path;        // Algorithm 2's
    const float* prepared_for = nullptr;  // the ensemble's value array the rest was computed for
    const int32_t* prepared_offsets = nullptr;
    double bias = 0;  // base margin + every tree's expected value
    int points = 0;   // quadrature nodes: 2, 4 or 8
    // The row pass takes the trees in units of consecutive ones (a unit closes once it has kUnitNodes nodes:
    // two trees of depth 6, six of depth 4), their nodes side by side in the working memory and their splits
    // ordered together, so that a level holds several trees' splits, independent of each other, and the
    // loops run once per unit (explain_bench: 300 trees of depth 6 50.6 -> 48.9 us, of depth 4 14.9 -> 12.7;
    // larger units no faster at depth 4 and slower at depth 6, their working memory past the L1 cache).
    static constexpr int kUnitNodes = 160;
    std::vector<Split> splits;
    std::vector<int32_t> unit_first_split;   // per unit, + 1: into splits
    std::vector<int32_t> unit_inner_splits;  // per unit: its splits with a child that splits (they come first)
    std::vector<int32_t> unit_clean_splits;  // per unit: of those, the first ones, which neither replace a
                                             // factor nor lie below a split that does
    std::vector<int32_t> unit_plain_splits;  // per unit: where its plain splits above two leaves begin (they
                                             // come last)
    std::vector<int32_t> roots;              // the units' trees' root positions
    std::vector<int32_t> unit_first_root;    // per unit, + 1: into roots
    std::vector<uint8_t> tree_needs_algorithm_2;
    // The row's working memory, `points` doubles per node of the largest unit (by position): the products of
    // the factors down to a node, at a split the inverse of the factor its children replace, and the leaves'
    // sums below a node relative to the products down to it; per node (at position + 1): the edge's q - 1
    // for x (-1 when x left the path at a split on the edge's feature); per feature, `points` partial sums.
    std::vector<double> down, inverse, up, chosen, accumulated;
};
// Exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent individualized feature
// attribution for tree ensembles") of the ensemble at x, computed as above. Writes view.features + 1 doubles:
// phi[i] is feature i's contribution, phi[features] the bias (the base margin plus every tree's expected
// value under its covers), and their sum is the margin (base margin + the leaves x reaches), in double.
// A feature whose value is NaN follows the split's default direction, as in score_trees. Needs the covers
// (view.cover); throws InvalidParameter without them.
void tree_shap(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& scratch);

// The same by Algorithm 2 of the paper alone (the reference the tables are tested against).
void tree_shap_reference(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& scratch);

// The margin score_trees takes the sigmoid of, summed in double (what tree_shap's phi add up to).
double tree_margin(const TreeEnsembleView& view, const float* x) noexcept;

// Networks. The logit (the output layer's pre-activation) at a point of the first dense layer's input space
// (dense_inputs(view) values: embedded features as their table rows), and its gradient there, in double by
// backpropagation through every layer (layer normalization and each activation included).
double network_logit(const NetworkView& view, const double* dense_x, double* gradient);

// Integrated gradients (Sundararajan, Taly and Yan 2017) of the logit from baseline to x along the straight
// line in that space (an embedded feature moves from its baseline row to its row), by Simpson's rule over
// `steps` intervals (rounded up to even). Writes view.inputs + 2 doubles: phi[i] feature i's attribution (an
// embedded one: the sum over its dimensions), phi[inputs] the logit at the baseline, phi[inputs + 1] the
// logit at x. The attributions add up to logit(x) - logit(baseline) up to the rule's error, which falls as
// 1 / steps^4 where the network is smooth along the line (where ReLU bends: as 1 / steps^2).
void integrated_gradients(const NetworkView& view, const float* x, const float* baseline, int steps, double* phi);

// The same, exactly, for a piecewise-linear network (hidden activations ReLU, leaky ReLU or identity, no layer
// normalization): along the line the logit is affine between the points where a unit switches, so the
// integral is a sum over those pieces, each found from the pre-activations' values and slopes (no
// quadrature; the attributions add up to the logit difference to rounding). Returns the number of pieces, or
// 0 when the network is not piecewise linear (or crosses more than max_pieces) and nothing was written.
int integrated_gradients_exact(const NetworkView& view, const float* x, const float* baseline, int max_pieces,
                               double* phi);
bool piecewise_linear(const NetworkView& view) noexcept;

// The same sum by a forward and a backward pass per piece (the reference integrated_gradients_exact, which
// follows the switches incrementally, is tested against).
int integrated_gradients_by_pieces(const NetworkView& view, const float* x, const float* baseline, int max_pieces,
                                   double* phi);

// The same with steps doubled from 16 until the attributions add up to the logit difference within
// tolerance (relative to max(1, |difference|)), at most max_steps; a piecewise-linear network takes the exact
// sum above instead. Returns the steps (or pieces) taken; *gap gets the final |sum - difference|.
int integrated_gradients_to(const NetworkView& view, const float* x, const float* baseline, double tolerance,
                            int max_steps, double* phi, double* gap);

// A blend's contributions (ModelView::Kind::Blend): its network's integrated gradients from baseline (as
// integrated_gradients_to, with tolerance and max_steps) and its trees' TreeSHAP, each weighted by its share of
// the logit, which stays additive. Writes inputs + 2 doubles, as a network's: phi[inputs] the blend's logit at
// the baseline (the network's there mixed with the trees' bias), phi[inputs + 1] its logit at x (the trees'
// part is their margin in double). trees_phi is working memory.
void blend_contributions(const ModelView& model, const float* x, const float* baseline, double tolerance, int max_steps,
                         TreeShapScratch& scratch, std::vector<double>& trees_phi, double* phi);

// What one thread needs to explain rows of a model: the trees' layout (prepared on first use) and working
// memory.
struct ContributionScratch {
    TreeShapScratch trees;
    std::vector<double> trees_phi;
    std::vector<float> network;
};

// One row's contributions to the model's logit, n_features + 2 doubles (the trees write n_features + 1, a
// network and a blend n_features + 2): tree_shap, blend_contributions, or a network's integrated gradients from
// baseline (integrated_gradients_to, to tolerance within max_steps). An autoencoder's are its reconstruction
// error's terms (reconstruction_error_terms), phi[n_features] 0 and phi[n_features + 1] their sum.
void model_contributions(const ModelView& model, const float* x, const float* baseline, int n_features,
                         double tolerance, int max_steps, ContributionScratch& scratch, double* phi);

// Each of rows rows of x (n_features floats a row) scored (score_one, into scores; NULL: not scored) and explained
// (model_contributions, n_features + 2 doubles a row into phi), shared out over pool's threads, with one
// scratch per thread (resized to pool.size()). Rows are dealt round-robin: their costs vary (integrated
// gradients' steps). should_stop, between rows, makes it throw Canceled. The same numbers as row by row.
void score_and_explain_rows(const ModelView& model, const float* baseline, const float* x, int n_features, size_t rows,
                            double tolerance, int max_steps, WorkerPool& pool,
                            std::vector<ContributionScratch>& scratch, float* scores, double* phi,
                            bool (*should_stop)());

// The global view of a model at training: each group's mean absolute contribution over rows of x (indices,
// n_features floats a row), at most max_rows of them at an even stride. A group is what group_of maps
// features to (an input column, its one-hot outputs folded): a row's contributions are summed per group
// before the absolute value. Trees: tree_shap. A network: integrated gradients from baseline, exactly when
// piecewise linear, else to 0.1 %. A blend: blend_contributions. mean_abs gets groups values; returns the rows
// used. should_stop, between rows (on any of the threads), makes it throw Canceled. The rows are shared out over threads (as WorkerPool
// takes it) and summed in row order: the same numbers as one thread.
size_t mean_abs_contributions(const ModelView& model, const float* baseline, const float* x, int n_features,
                              const std::vector<uint32_t>& rows, size_t max_rows, const int* group_of, int groups,
                              double* mean_abs, bool (*should_stop)(), int threads = 1);

}  // namespace dendrite::engine
