#include "engine/explain.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "engine/elementwise.hpp"
#include "engine/error.hpp"
#include "engine/parallel.hpp"

namespace dendrite::engine {

namespace {

using PathElement = TreeShapScratch::PathElement;

// The names and steps follow the paper's Algorithm 2 (and xgboost's TreeShap, which implements it):
// a path of unique features from the root, each with the fraction of the "zero" (feature unknown: follow
// the covers) and "one" (feature known: follow x) flows, and the permutation weights of the subsets.

void extend_path(PathElement* path, int depth, double zero_fraction, double one_fraction, int feature) {
    path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
    for (int i = depth - 1; i >= 0; --i) {
        path[i + 1].weight += one_fraction * path[i].weight * (i + 1) / double(depth + 1);
        path[i].weight = zero_fraction * path[i].weight * (depth - i) / double(depth + 1);
    }
}

void unwind_path(PathElement* path, int depth, int index) {
    const double one_fraction = path[index].one_fraction, zero_fraction = path[index].zero_fraction;
    double next_one_portion = path[depth].weight;
    for (int i = depth - 1; i >= 0; --i) {
        if (one_fraction != 0) {
            const double kept = path[i].weight;
            path[i].weight = next_one_portion * (depth + 1) / ((i + 1) * one_fraction);
            next_one_portion = kept - path[i].weight * zero_fraction * (depth - i) / double(depth + 1);
        } else {
            path[i].weight = path[i].weight * (depth + 1) / (zero_fraction * (depth - i));
        }
    }
    for (int i = index; i < depth; ++i) {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

// The total permutation weight of the path with element index unwound (without changing the path).
double unwound_path_sum(const PathElement* path, int depth, int index) {
    const double one_fraction = path[index].one_fraction, zero_fraction = path[index].zero_fraction;
    double next_one_portion = path[depth].weight, total = 0;
    for (int i = depth - 1; i >= 0; --i) {
        if (one_fraction != 0) {
            const double part = next_one_portion * (depth + 1) / ((i + 1) * one_fraction);
            total += part;
            next_one_portion = path[i].weight - part * zero_fraction * ((depth - i) / double(depth + 1));
        } else {
            total += (path[i].weight / zero_fraction) / ((depth - i) / double(depth + 1));
        }
    }
    return total;
}

struct Tree {
    const TreeEnsembleView& view;
    int32_t first;
    size_t at(int32_t node) const { return size_t(first + node); }
    bool leaf(int32_t node) const { return view.left[at(node)] < 0; }
    int32_t next(int32_t node, const float* x) const {
        const size_t n = at(node);
        const float v = x[view.feature[n]];
        return std::isnan(v) ? (view.default_left[n] ? view.left[n] : view.right[n])
                             : (v < view.threshold[n] ? view.left[n] : view.right[n]);
    }
};

void recurse(const Tree& tree, const float* x, double* phi, int32_t node, int depth, PathElement* parent_path,
             double parent_zero_fraction, double parent_one_fraction, int parent_feature) {
    PathElement* path = parent_path + depth + 1;
    std::copy(parent_path, parent_path + depth + 1, path);
    extend_path(path, depth, parent_zero_fraction, parent_one_fraction, parent_feature);
    const TreeEnsembleView& v = tree.view;
    const size_t n = tree.at(node);
    if (tree.leaf(node)) {
        for (int i = 1; i <= depth; ++i) {
            const double weight = unwound_path_sum(path, depth, i);
            phi[path[i].feature] += weight * (path[i].one_fraction - path[i].zero_fraction) * double(v.value[n]);
        }
        return;
    }
    const int32_t hot = tree.next(node, x);
    const int32_t cold = hot == v.left[n] ? v.right[n] : v.left[n];
    const double cover = double(v.cover[n]);
    const double hot_zero_fraction = cover > 0 ? double(v.cover[tree.at(hot)]) / cover : 0;
    const double cold_zero_fraction = cover > 0 ? double(v.cover[tree.at(cold)]) / cover : 0;
    double incoming_zero_fraction = 1, incoming_one_fraction = 1;
    // A feature split on before: undo that split, to redo it here.
    const int feature = v.feature[n];
    int index = 0;
    for (; index <= depth; ++index)
        if (path[index].feature == feature) break;
    if (index != depth + 1) {
        incoming_zero_fraction = path[index].zero_fraction;
        incoming_one_fraction = path[index].one_fraction;
        unwind_path(path, depth, index);
        depth -= 1;
    }
    recurse(tree, x, phi, hot, depth + 1, path, hot_zero_fraction * incoming_zero_fraction, incoming_one_fraction,
            feature);
    recurse(tree, x, phi, cold, depth + 1, path, cold_zero_fraction * incoming_zero_fraction, 0, feature);
}

int tree_depth(const TreeEnsembleView& v, int32_t first, int32_t node) {
    if (v.left[size_t(first + node)] < 0) return 0;
    return 1 + std::max(tree_depth(v, first, v.left[size_t(first + node)]),
                        tree_depth(v, first, v.right[size_t(first + node)]));
}

// A tree's expected value: its leaves weighted by their share of the root's cover.
double expected_value(const TreeEnsembleView& v, int32_t first, int32_t node) {
    const size_t n = size_t(first + node);
    if (v.left[n] < 0) return double(v.value[n]);
    const double cover = double(v.cover[n]);
    if (!(cover > 0)) return 0;
    return (double(v.cover[size_t(first + v.left[n])]) * expected_value(v, first, v.left[n]) +
            double(v.cover[size_t(first + v.right[n])]) * expected_value(v, first, v.right[n])) /
           cover;
}

}  // namespace

namespace {

void require_covers(const TreeEnsembleView& view) {
    if (!view.cover)
        fail(ErrorKind::InvalidParameter, "the trees have no covers to explain them with",
             "Versions trained before dendrite 0.6.0 did not store them: retrain the model.");
}

// Gauss-Legendre nodes and weights on [0, 1] (the textbook ones on [-1, 1], halved and shifted).
template <int Points>
struct Quadrature;
template <>
struct Quadrature<2> {
    static constexpr double x[1] = {0.5773502691896257645};  // 1 / sqrt(3)
    static constexpr double w[1] = {1.0};
};
template <>
struct Quadrature<4> {
    static constexpr double x[2] = {0.3399810435848562648, 0.8611363115940525752};
    static constexpr double w[2] = {0.6521451548625461427, 0.3478548451374538573};
};
template <>
struct Quadrature<8> {
    static constexpr double x[4] = {0.1834346424956498049, 0.5255324099163289858, 0.7966664774136267396,
                                    0.9602898564975362317};
    static constexpr double w[4] = {0.3626837833783619830, 0.3137066458778872873, 0.2223810344533744706,
                                    0.1012285362903762591};
};

// One tree's splits (see TreeShapScratch) appended to s.splits, its nodes at positions offset, offset + 1, ...
// of its unit's working memory (in the tree's preorder), its node count in *nodes; per position (resized),
// each node's level in its tree and whether it or a split above it replaces a factor. False (and nothing
// appended) when a share of the covers is not positive or a position would not fit 16 bits.
bool add_tree_splits(const TreeEnsembleView& v, int32_t first, int32_t offset, TreeShapScratch& s,
                     std::vector<int32_t>& level, std::vector<uint8_t>& below_replacing, size_t* nodes) {
    struct Node {  // in preorder
        int32_t parent, previous, edge_feature, split_feature, right;
        double z, q_minus_one, leaf_weight;
        size_t split;  // its index in s.splits (a split)
    };
    struct Pending {
        int32_t node;    // the view's node, relative to first
        int32_t parent;  // position in this tree's preorder
        bool left;
        double path_share;  // the product of every share along the path, this edge's included
        double share;       // this edge's
    };
    std::vector<Node> preorder;
    std::vector<Pending> stack{{0, -1, false, 1.0, 1.0}};
    const size_t begin = s.splits.size();
    while (!stack.empty()) {
        const Pending p = stack.back();
        stack.pop_back();
        const size_t n = size_t(first + p.node);
        const int32_t position = int32_t(preorder.size());
        if (offset + position > int32_t(UINT16_MAX) - 1) {  // positions (+ 1) are 16 bits in a Split
            s.splits.resize(begin);
            return false;
        }
        Node node{p.parent, -1, -1, -1, -1, p.share, 0, 0, 0};
        if (p.parent >= 0) {
            Node& parent = preorder[size_t(p.parent)];
            if (!p.left) parent.right = position;
            node.edge_feature = parent.split_feature;
            for (int32_t a = p.parent; a > 0 && node.previous < 0; a = preorder[size_t(a)].parent)
                if (preorder[size_t(a)].edge_feature == node.edge_feature) node.previous = a;
            if (node.previous >= 0) node.z *= preorder[size_t(node.previous)].z;
            node.q_minus_one = 1.0 / node.z - 1.0;
        }
        if (v.left[n] < 0) {
            node.leaf_weight = double(v.value[n]) * p.path_share;
        } else {
            node.split_feature = v.feature[n];
            const double cover = double(v.cover[n]);
            const double left_share = cover > 0 ? double(v.cover[size_t(first + v.left[n])]) / cover : 0;
            const double right_share = cover > 0 ? double(v.cover[size_t(first + v.right[n])]) / cover : 0;
            if (!(left_share > 0) || !(right_share > 0)) {
                s.splits.resize(begin);
                return false;
            }
            TreeShapScratch::Split split{};
            split.position = uint16_t(offset + position);
            split.feature = v.feature[n];
            split.threshold = v.threshold[n];
            split.default_left = v.default_left[n];
            node.split = s.splits.size();
            s.splits.push_back(split);
            // Right pushed first: the left subtree comes first in the preorder, right after its parent.
            stack.push_back({v.right[n], position, false, p.path_share * right_share, right_share});
            stack.push_back({v.left[n], position, true, p.path_share * left_share, left_share});
        }
        preorder.push_back(node);
    }
    level.resize(size_t(offset) + preorder.size());
    below_replacing.resize(size_t(offset) + preorder.size());
    for (size_t i = 0; i < preorder.size(); ++i) {
        const Node& node = preorder[i];
        const size_t at = size_t(offset) + i;
        level[at] = i == 0 ? 0 : level[size_t(offset + node.parent)] + 1;
        below_replacing[at] = i == 0 ? 0 : below_replacing[size_t(offset + node.parent)];
        if (node.split_feature < 0) continue;
        TreeShapScratch::Split& split = s.splits[node.split];
        const Node& left = preorder[i + 1];
        const Node& right = preorder[size_t(node.right)];
        split.right = uint16_t(offset + node.right);
        // Both children's edges: the same feature, the same ancestors.
        split.previous = left.previous < 0 ? 0 : uint16_t(offset + left.previous + 1);
        split.general.q_minus_one[0] = left.q_minus_one;
        split.general.q_minus_one[1] = right.q_minus_one;
        split.general.leaf_weight[0] = left.split_feature < 0 ? left.leaf_weight : 0;
        split.general.leaf_weight[1] = right.split_feature < 0 ? right.leaf_weight : 0;
        split.child_splits = uint8_t(unsigned(left.split_feature >= 0) | unsigned(right.split_feature >= 0) << 1);
        if (left.previous >= 0) below_replacing[at] = 1;
    }
    *nodes = preorder.size();
    return true;
}

// A unit's splits (s.splits from begin on, its trees' positions side by side) put in the order the row pass
// takes them: first those with a child that splits (*inner of them; the first *clean of them replace no
// factor, nor does a split above them), then those whose children are both leaves, the plain ones (no earlier
// split on their feature) last, from *plain on.
void order_unit(TreeShapScratch& s, size_t begin, const std::vector<int32_t>& level,
                const std::vector<uint8_t>& below_replacing, int32_t* clean, int32_t* inner, int32_t* plain) {
    const auto first = s.splits.begin() + long(begin);
    const auto bottom = std::stable_partition(
        first, s.splits.end(), [](const TreeShapScratch::Split& split) { return split.child_splits != 0; });
    // The splits with a child that splits: first the clean ones (neither they nor an ancestor replace a
    // factor: no division, no inverse kept, fewer vector operations; 54 -> 51 us), then the rest; each group
    // level by level rather than in preorder. In preorder a split's left child comes right after it, so the
    // down pass loads the products its previous step has just stored (and the up pass likewise), a chain of
    // store-to-load forwards; a level's splits depend only on the levels above (explain_bench: 58 -> 54 us),
    // and with several trees to a unit a level has more of them. A clean split's parent is clean, and a split
    // below one that is not is not: both passes keep their order.
    std::stable_sort(first, bottom, [&](const TreeShapScratch::Split& a, const TreeShapScratch::Split& b) {
        const auto key = [&](const TreeShapScratch::Split& split) {
            return std::make_pair(below_replacing[split.position], level[split.position]);
        };
        return key(a) < key(b);
    });
    *clean = int32_t(
        std::find_if(first, bottom,
                     [&](const TreeShapScratch::Split& split) { return below_replacing[split.position] != 0; }) -
        first);
    *inner = int32_t(bottom - first);
    const auto plain_begin = std::stable_partition(
        bottom, s.splits.end(), [](const TreeShapScratch::Split& split) { return split.previous != 0; });
    *plain = int32_t(plain_begin - first);
    for (auto split = plain_begin; split != s.splits.end(); ++split) {
        // Its replaced q is 0 and its inverse 1: what the general step below computes per row reduces to
        // constants of the side x takes (the q of the side x leaves is -1).
        const double left_q = split->general.q_minus_one[0], right_q = split->general.q_minus_one[1];
        const double left_leaf = split->general.leaf_weight[0], right_leaf = split->general.leaf_weight[1];
        split->plain.slope[0] = left_leaf * left_q - right_leaf;
        split->plain.slope[1] = right_leaf * right_q - left_leaf;
        split->plain.leaves = left_leaf + right_leaf;
    }
}

void prepare(const TreeEnsembleView& view, TreeShapScratch& s) {
    if (s.prepared_for == view.value && s.prepared_offsets == view.offsets &&
        int(s.tree_needs_algorithm_2.size()) == view.trees)
        return;
    s.prepared_for = nullptr;  // until complete
    s.splits.clear();
    s.roots.clear();
    s.unit_first_split.assign(1, 0);
    s.unit_first_root.assign(1, 0);
    s.unit_clean_splits.clear();
    s.unit_inner_splits.clear();
    s.unit_plain_splits.clear();
    s.tree_needs_algorithm_2.assign(size_t(view.trees), 0);
    s.bias = double(view.base_margin);
    int deepest = 0, deepest_linear = 0;
    size_t largest = 1;
    std::vector<int32_t> level;
    std::vector<uint8_t> below_replacing;
    int32_t offset = 0;  // the unit's nodes so far (0: the unit has no tree yet)
    auto close_unit = [&] {
        if (offset == 0) return;
        int32_t clean = 0, inner = 0, plain = 0;
        order_unit(s, size_t(s.unit_first_split.back()), level, below_replacing, &clean, &inner, &plain);
        s.unit_clean_splits.push_back(clean);
        s.unit_inner_splits.push_back(inner);
        s.unit_plain_splits.push_back(plain);
        s.unit_first_split.push_back(int32_t(s.splits.size()));
        s.unit_first_root.push_back(int32_t(s.roots.size()));
        largest = std::max(largest, size_t(offset));
        offset = 0;
        level.clear();
        below_replacing.clear();
    };
    for (int t = 0; t < view.trees; ++t) {
        const int32_t first = view.offsets[t];
        const int depth = tree_depth(view, first, 0);
        deepest = std::max(deepest, depth);
        s.bias += expected_value(view, first, 0);
        if (depth > 16) {
            s.tree_needs_algorithm_2[size_t(t)] = 1;
            continue;
        }
        if (offset >= TreeShapScratch::kUnitNodes) close_unit();
        size_t nodes = 0;
        bool taken = add_tree_splits(view, first, offset, s, level, below_replacing, &nodes);
        if (!taken && offset > 0) {  // perhaps alone in a unit of its own
            close_unit();
            taken = add_tree_splits(view, first, 0, s, level, below_replacing, &nodes);
        }
        if (!taken) {
            s.tree_needs_algorithm_2[size_t(t)] = 1;
            continue;
        }
        s.roots.push_back(offset);
        offset += int32_t(nodes);
        deepest_linear = std::max(deepest_linear, depth);
    }
    close_unit();
    // A path has at most `depth` distinct features, so the integrand's degree is below the depth, and n
    // Gauss-Legendre nodes integrate a degree up to 2n - 1 exactly. Two nodes (depth <= 4, gbdt's default)
    // are one 128-bit vector: 16.4 -> 15.2 us a row for 300 trees of depth 4 (explain_bench).
    s.points = deepest_linear <= 4 ? 2 : deepest_linear <= 8 ? 4 : 8;
    const size_t needed = size_t(deepest + 2) * size_t(deepest + 3) / 2;
    if (s.path.size() < needed) s.path.resize(needed);
    const size_t working = largest * size_t(s.points);
    for (std::vector<double>* a : {&s.down, &s.inverse, &s.up}) a->assign(working, 0.0);
    s.chosen.assign(largest + 1, 0.0);
    s.accumulated.assign(size_t(view.features) * size_t(s.points), 0.0);
    s.prepared_for = view.value;
    s.prepared_offsets = view.offsets;
}

// 1 when x takes the split's left child (a NaN: its default side), else 0, without a branch.
inline unsigned row_goes_left(const TreeShapScratch::Split& split, const float* x) {
    const float value = x[split.feature];
    return unsigned(value < split.threshold) | (unsigned(std::isnan(value)) & split.default_left);
}

// One unit's contributions (its `trees` trees' roots at `roots`), added to s.accumulated (Points partial sums
// per feature): its splits with a child that splits (`inner` of them, the clean ones first, each group level by
// level), then those whose children are both leaves (`count` in all; the plain ones from `plain` on).
template <int Points>
void linear_tree_shap(const TreeShapScratch::Split* splits, const int32_t* roots, int32_t trees, int32_t clean,
                      int32_t inner, int32_t plain, int32_t count, const float* x, TreeShapScratch& s) {
    using V = Eigen::Array<double, Points, 1>;
    using Q = Quadrature<Points>;
    V t, weight;
    for (int k = 0; k < Points / 2; ++k) {
        t[2 * k] = (1 - Q::x[k]) / 2;
        t[2 * k + 1] = (1 + Q::x[k]) / 2;
        weight[2 * k] = weight[2 * k + 1] = Q::w[k] / 2;
    }
    // Per node (its position in the unit), `Points` values each: the products of the factors down to
    // it, at a split the inverse of the factor (of an ancestor's edge) its children replace, and its leaves'
    // sums relative to the products down to it. Only what the way up cannot recompute cheaply is stored:
    // a child's ratio to its parent is recomputed on the way up from the two q's (four fewer vector stores
    // per split: ~4 % faster in explain_bench).
    double* const down_values = s.down.data();
    double* const inverse_values = s.inverse.data();
    double* const up_values = s.up.data();
    auto down = [&](int32_t i) { return Eigen::Map<V>(down_values + size_t(i) * Points); };
    auto inverse = [&](int32_t i) { return Eigen::Map<V>(inverse_values + size_t(i) * Points); };
    auto up = [&](int32_t i) { return Eigen::Map<V>(up_values + size_t(i) * Points); };
    // Per node at its position + 1 (0 stands for "no earlier split on this feature": its q - 1 is 0): the
    // edge's q - 1 for x, -1 when x left the path at a split on the edge's feature (a real q - 1 is >= 0 or
    // at least > -1). Agreements select by index, not by branches: a row's are random, and mispredicted
    // branches were half the time.
    double* const chosen = s.chosen.data();
    // The choices' tables: [0] (x left the path) stays -1, [1] is each split's q - 1 in turn; the -1s stored
    // once, not twice per split (explain_bench: ~51 -> ~50 us).
    double left_pick[2] = {-1.0, 0.0}, right_pick[2] = {-1.0, 0.0};
    chosen[0] = 0;
    for (int32_t tree = 0; tree < trees; ++tree) down(roots[tree]).setOnes();
    // Down the tree, a split and its two children at a time: first the clean splits (chosen[previous] is
    // chosen[0] = 0: the replaced factor is 1), ...
    for (int32_t j = 0; j < clean; ++j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position, left = at + 1, right = split.right;
        const unsigned goes_left = row_goes_left(split, x);
        left_pick[1] = split.general.q_minus_one[0];
        right_pick[1] = split.general.q_minus_one[1];
        const double left_q = left_pick[goes_left], right_q = right_pick[goes_left ^ 1u];
        chosen[left + 1] = left_q;
        chosen[right + 1] = right_q;
        const V above = down(at);
        down(left) = above * (1.0 + t * left_q);
        down(right) = above * (1.0 + t * right_q);
    }
    // ... then the rest.
    for (int32_t j = clean; j < inner; ++j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position, left = at + 1, right = split.right;
        const unsigned goes_left = row_goes_left(split, x);
        const double replaced_q = chosen[split.previous];
        const unsigned earlier = unsigned(replaced_q != -1.0);
        left_pick[1] = split.general.q_minus_one[0];
        right_pick[1] = split.general.q_minus_one[1];
        const double left_q = left_pick[goes_left & earlier], right_q = right_pick[(goes_left ^ 1u) & earlier];
        chosen[left + 1] = left_q;
        chosen[right + 1] = right_q;
        // The ancestor's factor of this feature, replaced by the children's (1 when there is none).
        const V inverse_replaced = 1.0 / (1.0 + t * replaced_q);
        const V above = down(at);
        inverse(at) = inverse_replaced;
        down(left) = above * ((1.0 + t * left_q) * inverse_replaced);
        down(right) = above * ((1.0 + t * right_q) * inverse_replaced);
    }
    double* accumulated = s.accumulated.data();
    // The splits above two leaves (half of a full tree's), all at once: nothing of their children is kept.
    // First those with an earlier split on their feature, ...
    for (int32_t j = inner; j < plain; ++j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position;
        const unsigned goes_left = row_goes_left(split, x);
        const double replaced_q = chosen[split.previous];
        const unsigned earlier = unsigned(replaced_q != -1.0);
        left_pick[1] = split.general.q_minus_one[0];
        right_pick[1] = split.general.q_minus_one[1];
        const double left_q = left_pick[goes_left & earlier], right_q = right_pick[(goes_left ^ 1u) & earlier];
        const V inverse_replaced = 1.0 / (1.0 + t * replaced_q);
        const V left_ratio = (1.0 + t * left_q) * inverse_replaced;
        const V right_ratio = (1.0 + t * right_q) * inverse_replaced;
        const double left_leaf = split.general.leaf_weight[0], right_leaf = split.general.leaf_weight[1];
        Eigen::Map<V> credit(accumulated + size_t(split.feature) * Points);
        credit += down(at) * inverse_replaced * weight *
                  (left_leaf * (left_q - replaced_q * left_ratio) + right_leaf * (right_q - replaced_q * right_ratio));
        up(at) = left_ratio * left_leaf + right_ratio * right_leaf;
    }
    // ... then the plain ones (most of them), from their constants: a third of the vector operations
    // (explain_bench: 64 -> 58 us a row).
    for (int32_t j = plain; j < count; ++j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position;
        const unsigned goes_left = row_goes_left(split, x);
        const double slope = split.plain.slope[goes_left ^ 1u];
        Eigen::Map<V> credit(accumulated + size_t(split.feature) * Points);
        credit += down(at) * (weight * slope);
        up(at) = split.plain.leaves + t * slope;
    }
    // Up the tree: each split's leaves summed (relative to the products down to it), and its feature
    // credited with the integral over them. A leaf child's sum is its weight: its slot in `up` holds what
    // an earlier unit left there, multiplied by 0 (always finite: leaf values are finite and covers
    // positive, validated with the trees, so every product here is bounded by the covers' ratios).
    for (int32_t j = inner - 1; j >= clean; --j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position, left = at + 1, right = split.right;
        const double replaced_q = chosen[split.previous];
        const double left_q = chosen[left + 1], right_q = chosen[right + 1];
        const V inverse_replaced = inverse(at);
        const V left_ratio = (1.0 + t * left_q) * inverse_replaced;
        const V right_ratio = (1.0 + t * right_q) * inverse_replaced;
        const V left_up = up(left) * double(split.child_splits & 1u) + split.general.leaf_weight[0];
        const V right_up = up(right) * double(split.child_splits >> 1) + split.general.leaf_weight[1];
        Eigen::Map<V> credit(accumulated + size_t(split.feature) * Points);
        credit += down(at) * inverse_replaced * weight *
                  (left_up * (left_q - replaced_q * left_ratio) + right_up * (right_q - replaced_q * right_ratio));
        up(at) = left_ratio * left_up + right_ratio * right_up;
    }
    // The clean splits last (the others are below them): what the step above computes with the replaced
    // factor 1 (replaced_q 0, its inverse 1).
    for (int32_t j = clean - 1; j >= 0; --j) {
        const TreeShapScratch::Split& split = splits[j];
        const int32_t at = split.position, left = at + 1, right = split.right;
        const double left_q = chosen[left + 1], right_q = chosen[right + 1];
        const V left_up = up(left) * double(split.child_splits & 1u) + split.general.leaf_weight[0];
        const V right_up = up(right) * double(split.child_splits >> 1) + split.general.leaf_weight[1];
        Eigen::Map<V> credit(accumulated + size_t(split.feature) * Points);
        credit += down(at) * weight * (left_up * left_q + right_up * right_q);
        up(at) = (1.0 + t * left_q) * left_up + (1.0 + t * right_q) * right_up;
    }
}

}  // namespace

void tree_shap(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& s) {
    require_covers(view);
    prepare(view, s);
    std::fill(phi, phi + view.features + 1, 0.0);
    phi[view.features] = s.bias;
    std::fill(s.accumulated.begin(), s.accumulated.end(), 0.0);
    for (size_t u = 0; u + 1 < s.unit_first_split.size(); ++u) {
        const TreeShapScratch::Split* splits = s.splits.data() + s.unit_first_split[u];
        const int32_t count = s.unit_first_split[u + 1] - s.unit_first_split[u];
        const int32_t* roots = s.roots.data() + s.unit_first_root[u];
        const int32_t trees = s.unit_first_root[u + 1] - s.unit_first_root[u];
        const int32_t clean = s.unit_clean_splits[u], inner = s.unit_inner_splits[u], plain = s.unit_plain_splits[u];
        if (s.points == 2)
            linear_tree_shap<2>(splits, roots, trees, clean, inner, plain, count, x, s);
        else if (s.points == 4)
            linear_tree_shap<4>(splits, roots, trees, clean, inner, plain, count, x, s);
        else
            linear_tree_shap<8>(splits, roots, trees, clean, inner, plain, count, x, s);
    }
    for (int t = 0; t < view.trees; ++t)
        if (s.tree_needs_algorithm_2[size_t(t)])
            recurse(Tree{view, view.offsets[t]}, x, phi, 0, 0, s.path.data(), 1, 1, -1);
    for (int f = 0; f < view.features; ++f)
        for (int k = 0; k < s.points; ++k) phi[f] += s.accumulated[size_t(f) * size_t(s.points) + size_t(k)];
}

void tree_shap_reference(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& s) {
    require_covers(view);
    prepare(view, s);
    std::fill(phi, phi + view.features + 1, 0.0);
    phi[view.features] = s.bias;
    for (int t = 0; t < view.trees; ++t) recurse(Tree{view, view.offsets[t]}, x, phi, 0, 0, s.path.data(), 1, 1, -1);
}

double tree_margin(const TreeEnsembleView& view, const float* x) noexcept {
    double margin = double(view.base_margin);
    for (int t = 0; t < view.trees; ++t) {
        const Tree tree{view, view.offsets[t]};
        int32_t node = 0;
        while (!tree.leaf(node)) node = tree.next(node, x);
        margin += double(view.value[tree.at(node)]);
    }
    return margin;
}

namespace {

double activate(Activation activation, double a) {
    switch (activation) {
        case Activation::Relu:
            return a > 0 ? a : 0;
        case Activation::LeakyRelu:
            return a > 0 ? a : double(kLeakyReluSlope) * a;
        case Activation::Gelu:
            return 0.5 * a * (1 + std::erf(a * 0.70710678118654752));
        case Activation::Tanh:
            return std::tanh(a);
        case Activation::Sigmoid:
            return 1 / (1 + std::exp(-a));
        case Activation::Identity:
            return a;
    }
    return a;
}

double derivative(Activation activation, double a, double out) {
    switch (activation) {
        case Activation::Relu:
            return a > 0 ? 1 : 0;
        case Activation::LeakyRelu:
            return a > 0 ? 1 : double(kLeakyReluSlope);
        case Activation::Gelu:
            return 0.5 * (1 + std::erf(a * 0.70710678118654752)) + a * 0.39894228040143268 * std::exp(-0.5 * a * a);
        case Activation::Tanh:
            return 1 - out * out;
        case Activation::Sigmoid:
            return out * (1 - out);
        case Activation::Identity:
            return 1;
    }
    return 1;
}

}  // namespace

double network_logit(const NetworkView& view, const double* dense_x, double* gradient) {
    // Forward, keeping each layer's input, pre-activation (after normalization) and normalized values.
    struct Layer {
        std::vector<double> in, a, normalized;
        double inverse_std = 1;
    };
    std::vector<Layer> layers(size_t(view.layers));
    const int n0 = dense_inputs(view);
    std::vector<double> h(dense_x, dense_x + n0);
    const float* parameters = view.parameters;
    for (int e = 0; e < view.embeddings; ++e)
        parameters += size_t(view.embedding_rows[e]) * size_t(view.embedding_dims[e]);
    const float* layer_parameters = parameters;
    int n_in = n0;
    double logit = 0;
    for (int l = 0; l < view.layers; ++l) {
        const int n_out = view.units[l];
        const float* kernel = parameters;  // n_out x n_in, column-major
        const float* bias = kernel + size_t(n_out) * size_t(n_in);
        const bool normalized = view.layer_norm && view.layer_norm[l];
        Layer& layer = layers[size_t(l)];
        layer.in = h;
        layer.a.assign(size_t(n_out), 0);
        for (int u = 0; u < n_out; ++u) layer.a[size_t(u)] = bias[u];
        for (int i = 0; i < n_in; ++i)
            for (int u = 0; u < n_out; ++u)
                layer.a[size_t(u)] += double(kernel[size_t(i) * size_t(n_out) + size_t(u)]) * h[size_t(i)];
        if (normalized) {
            const float* scale = bias + n_out;
            const float* shift = scale + n_out;
            double mean = 0, variance = 0;
            for (double z : layer.a) mean += z;
            mean /= n_out;
            for (double z : layer.a) variance += (z - mean) * (z - mean);
            variance /= n_out;
            layer.inverse_std = 1 / std::sqrt(variance + double(kLayerNormEpsilon));
            layer.normalized.resize(size_t(n_out));
            for (int u = 0; u < n_out; ++u) {
                layer.normalized[size_t(u)] = (layer.a[size_t(u)] - mean) * layer.inverse_std;
                layer.a[size_t(u)] = double(scale[u]) * layer.normalized[size_t(u)] + double(shift[u]);
            }
        }
        parameters += size_t(n_out) * size_t(n_in + 1) + (normalized ? 2 * size_t(n_out) : 0);
        if (l + 1 == view.layers) {
            logit = layer.a[0];  // the output unit's pre-activation
            break;
        }
        h.resize(size_t(n_out));
        for (int u = 0; u < n_out; ++u) h[size_t(u)] = activate(view.activations[l], layer.a[size_t(u)]);
        n_in = n_out;
    }
    if (!gradient) return logit;
    // Backward: d logit / d (each layer's input), from the output unit down.
    std::vector<double> g_a{1.0}, g_in;
    std::vector<const float*> starts(size_t(view.layers));
    {
        const float* p = layer_parameters;
        int width = n0;
        for (int l = 0; l < view.layers; ++l) {
            starts[size_t(l)] = p;
            const bool normalized = view.layer_norm && view.layer_norm[l];
            p += size_t(view.units[l]) * size_t(width + 1) + (normalized ? 2 * size_t(view.units[l]) : 0);
            width = view.units[l];
        }
    }
    for (int l = view.layers - 1; l >= 0; --l) {
        const Layer& layer = layers[size_t(l)];
        const int n_out = view.units[l];
        const int width = int(layer.in.size());
        const float* kernel = starts[size_t(l)];
        const bool normalized = view.layer_norm && view.layer_norm[l];
        std::vector<double> g_z = g_a;  // d logit / d z (before normalization)
        if (normalized) {
            const float* scale = kernel + size_t(n_out) * size_t(width) + size_t(n_out);
            double mean_g = 0, mean_gx = 0;
            std::vector<double> g_hat(static_cast<size_t>(n_out));
            for (int u = 0; u < n_out; ++u) {
                g_hat[size_t(u)] = g_a[size_t(u)] * double(scale[u]);
                mean_g += g_hat[size_t(u)];
                mean_gx += g_hat[size_t(u)] * layer.normalized[size_t(u)];
            }
            mean_g /= n_out;
            mean_gx /= n_out;
            for (int u = 0; u < n_out; ++u)
                g_z[size_t(u)] =
                    layer.inverse_std * (g_hat[size_t(u)] - mean_g - layer.normalized[size_t(u)] * mean_gx);
        }
        g_in.assign(size_t(width), 0);
        for (int i = 0; i < width; ++i)
            for (int u = 0; u < n_out; ++u)
                g_in[size_t(i)] += double(kernel[size_t(i) * size_t(n_out) + size_t(u)]) * g_z[size_t(u)];
        if (l == 0) break;
        // Into the layer below's activation.
        const Layer& below = layers[size_t(l - 1)];
        g_a.assign(size_t(width), 0);
        for (int u = 0; u < width; ++u) {
            const double a = below.a[size_t(u)];
            g_a[size_t(u)] =
                g_in[size_t(u)] * derivative(view.activations[l - 1], a, activate(view.activations[l - 1], a));
        }
    }
    std::copy(g_in.begin(), g_in.end(), gradient);
    return logit;
}

void integrated_gradients(const NetworkView& view, const float* x, const float* baseline, int steps, double* phi) {
    if (steps < 1) fail(ErrorKind::InvalidParameter, "integrated gradients need at least one step");
    const int n = dense_inputs(view);
    std::vector<float> dense_x(static_cast<size_t>(n)), dense_base(static_cast<size_t>(n));
    expand_inputs(view, x, dense_x.data());
    expand_inputs(view, baseline, dense_base.data());
    std::vector<double> point(static_cast<size_t>(n)), gradient(static_cast<size_t>(n)),
        average(static_cast<size_t>(n), 0.0);
    steps += steps % 2;  // Simpson's rule: an even number of intervals
    for (int k = 0; k <= steps; ++k) {
        const double alpha = double(k) / steps;
        for (int i = 0; i < n; ++i)
            point[size_t(i)] =
                double(dense_base[size_t(i)]) + alpha * (double(dense_x[size_t(i)]) - dense_base[size_t(i)]);
        const double logit = network_logit(view, point.data(), gradient.data());
        if (k == 0) phi[view.inputs] = logit;
        if (k == steps) phi[view.inputs + 1] = logit;
        // Simpson's weights 1, 4, 2, 4, ..., 4, 1 (times 1 / 3 steps): exact for cubics, so the error falls as
        // 1 / steps^4 where the network is smooth along the line.
        const double weight = ((k == 0 || k == steps) ? 1.0 : (k % 2 ? 4.0 : 2.0)) / (3.0 * steps);
        for (int i = 0; i < n; ++i) average[size_t(i)] += weight * gradient[size_t(i)];
    }
    // Dense attributions, folded back per input feature (an embedded one: its dims).
    int dense = 0, e = 0, k = 0;
    for (int j = 0; j < view.inputs; ++j) {
        const int width = dense_width(view, j, e, k);
        double total = 0;
        for (int d = 0; d < width; ++d, ++dense)
            total += (double(dense_x[size_t(dense)]) - dense_base[size_t(dense)]) * average[size_t(dense)];
        phi[j] = total;
    }
}

bool piecewise_linear(const NetworkView& view) noexcept {
    for (int l = 0; l + 1 < view.layers; ++l) {
        if (view.layer_norm && view.layer_norm[l]) return false;
        const Activation a = view.activations[l];
        if (a != Activation::Relu && a != Activation::LeakyRelu && a != Activation::Identity) return false;
    }
    return !(view.layer_norm && view.layer_norm[view.layers - 1]);
}

int integrated_gradients_by_pieces(const NetworkView& view, const float* x, const float* baseline, int max_pieces,
                                   double* phi) {
    if (!piecewise_linear(view)) return 0;
    const int n = dense_inputs(view);
    std::vector<float> dense_x(static_cast<size_t>(n)), dense_base(static_cast<size_t>(n));
    expand_inputs(view, x, dense_x.data());
    expand_inputs(view, baseline, dense_base.data());
    std::vector<double> direction(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) direction[size_t(i)] = double(dense_x[size_t(i)]) - double(dense_base[size_t(i)]);
    const float* first_layer = view.parameters;
    for (int e = 0; e < view.embeddings; ++e)
        first_layer += size_t(view.embedding_rows[e]) * size_t(view.embedding_dims[e]);

    // Per layer, for the current piece: which units are on (their slope: 1, or leaky / identity's).
    std::vector<std::vector<double>> slope(size_t(view.layers));
    std::vector<double> h, dh, z, dz, integral(static_cast<size_t>(n), 0.0), g, g_in;
    double alpha = 0, base_logit = 0, logit = 0;
    int pieces = 0;
    while (alpha < 1) {
        if (++pieces > max_pieces) return 0;
        // Forward at alpha, with each value's derivative along the line (d / d alpha).
        h.assign(static_cast<size_t>(n), 0);
        dh = direction;
        for (int i = 0; i < n; ++i) h[size_t(i)] = double(dense_base[size_t(i)]) + alpha * direction[size_t(i)];
        const float* kernel = first_layer;
        int n_in = n;
        double next = 1;  // where the first unit switches (the piece's end)
        for (int l = 0; l < view.layers; ++l) {
            const int n_out = view.units[l];
            const float* bias = kernel + size_t(n_out) * size_t(n_in);
            z.assign(size_t(n_out), 0);
            dz.assign(size_t(n_out), 0);
            for (int u = 0; u < n_out; ++u) z[size_t(u)] = bias[u];
            for (int i = 0; i < n_in; ++i)
                for (int u = 0; u < n_out; ++u) {
                    const double w = kernel[size_t(i) * size_t(n_out) + size_t(u)];
                    z[size_t(u)] += w * h[size_t(i)];
                    dz[size_t(u)] += w * dh[size_t(i)];
                }
            kernel = bias + n_out;
            if (l + 1 == view.layers) {
                if (pieces == 1) base_logit = z[0];
                break;
            }
            slope[size_t(l)].assign(size_t(n_out), 1.0);
            h.resize(size_t(n_out));
            dh.resize(size_t(n_out));
            for (int u = 0; u < n_out; ++u) {
                const double value = z[size_t(u)], rate = dz[size_t(u)];
                // On for the piece that starts here: positive now, or zero and rising.
                const bool on = value > 0 || (value == 0 && rate > 0);
                const double s = view.activations[l] == Activation::Identity    ? 1.0
                                 : on                                           ? 1.0
                                 : view.activations[l] == Activation::LeakyRelu ? double(kLeakyReluSlope)
                                                                                : 0.0;
                slope[size_t(l)][size_t(u)] = s;
                h[size_t(u)] = s * value;
                dh[size_t(u)] = s * rate;
                // Where this unit's pre-activation reaches zero, if it is heading there.
                if (view.activations[l] != Activation::Identity && value * rate < 0)
                    next = std::min(next, alpha - value / rate);
            }
            n_in = n_out;
        }
        if (!(next > alpha)) next = std::nextafter(alpha, 2.0);  // a switch at alpha itself: move past it
        next = std::min(next, 1.0);
        // The gradient of the logit on this piece (constant there), by the layers' slopes.
        {
            std::vector<const float*> kernels(size_t(view.layers));
            const float* k = first_layer;
            int width = n;
            for (int l = 0; l < view.layers; ++l) {
                kernels[size_t(l)] = k;
                k += size_t(view.units[l]) * size_t(width + 1);
                width = view.units[l];
            }
            g.assign(1, 1.0);
            for (int l = view.layers - 1; l >= 0; --l) {
                const int n_out = view.units[l];
                const int width_in = l == 0 ? n : view.units[l - 1];
                g_in.assign(size_t(width_in), 0);
                for (int i = 0; i < width_in; ++i)
                    for (int u = 0; u < n_out; ++u)
                        g_in[size_t(i)] +=
                            double(kernels[size_t(l)][size_t(i) * size_t(n_out) + size_t(u)]) * g[size_t(u)];
                if (l > 0)
                    for (int i = 0; i < width_in; ++i) g_in[size_t(i)] *= slope[size_t(l - 1)][size_t(i)];
                g.swap(g_in);
            }
        }
        for (int i = 0; i < n; ++i) integral[size_t(i)] += g[size_t(i)] * (next - alpha);
        alpha = next;
    }
    std::vector<double> at_x(dense_x.begin(), dense_x.end());
    logit = network_logit(view, at_x.data(), nullptr);
    // Folded back per input feature, as integrated_gradients does.
    int dense = 0, e = 0, k = 0;
    for (int j = 0; j < view.inputs; ++j) {
        const int width = dense_width(view, j, e, k);
        double total = 0;
        for (int d = 0; d < width; ++d, ++dense) total += direction[size_t(dense)] * integral[size_t(dense)];
        phi[j] = total;
    }
    phi[view.inputs] = base_logit;
    phi[view.inputs + 1] = logit;
    return pieces;
}

namespace {

// One dense layer of a piecewise-linear network: kernel n_out x n_in (column-major), then the bias.
struct DenseLayer {
    const float* kernel;
    const float* bias;
    int n_in, n_out;
};

// The slope of a hidden unit's activation when it is on / off.
double off_slope(Activation activation) {
    return activation == Activation::Identity    ? 1.0
           : activation == Activation::LeakyRelu ? double(kLeakyReluSlope)
                                                 : 0.0;
}

// sum_i double(w[i]) * v[i], in eight interleaved partial sums added pairwise at the end: the compiler keeps
// them in one vector register, where a single running sum is a chain of dependent additions (strict floating
// point may not be reassociated), which took a fifth of a row's integrated gradients. (Eigen's
// Map<VectorXf>.cast<double>().dot(...) measured 10.2 us a row against 8.0: its float-to-double cast is not
// vectorized there.)
double dot(const float* w, const double* v, int n) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) lane[j] += double(w[i + j]) * v[i + j];
    for (int j = 0; i < n; ++i, ++j) lane[j] += double(w[i]) * v[i];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// Where a ReLU-like unit's pre-activation intercept + t slope reaches zero if it is heading there (on and
// falling, or off and rising), else 2 (beyond the line). Without branches, so that a layer's run of it
// vectorizes, division included (a division by a zero slope is computed and not chosen).
inline double crossing_of(double intercept, double slope, bool on) {
    const bool heading = (on & !(slope >= 0)) | (!on & (slope > 0));  // on: falling (or NaN, as before)
    const double time = -intercept / slope;
    return heading ? time : 2.0;
}

// The first of n crossing times that is earliest and below limit (the unit a scan for the first strictly
// smaller one finds), or -1. Minima lane by lane first, then where the earliest is: a scan that keeps the
// index carries a dependency from one unit to the next, and it took a fifth of a row's integrated gradients.
// (Keeping each lane's index beside its minimum measured slower: the mixed selects do not vectorize.)
int earliest_crossing(const double* crossing, int n, double limit) {
    double lane[8];
    for (double& m : lane) m = limit;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) lane[j] = crossing[i + j] < lane[j] ? crossing[i + j] : lane[j];
    double earliest = limit;
    for (; i < n; ++i) earliest = crossing[i] < earliest ? crossing[i] : earliest;
    for (double m : lane) earliest = m < earliest ? m : earliest;
    if (!(earliest < limit)) return -1;
    for (int k = 0; k < n; ++k)
        if (crossing[k] == earliest) return k;
    return -1;
}

}  // namespace

// Along the line base + t (x - base), t in [0, 1], every pre-activation of a piecewise-linear network is
// affine in t between the points where a unit switches, so each hidden unit's is kept as intercept + t slope
// and changes only when a unit below it switches: a switch of unit u in layer l adds column u of the layer
// above (times the change of u's activation slope) to that layer's intercepts and slopes, and densely from
// there up; and changes r = d logit / d (layer-0 pre-activations) through row u of l's kernel and densely from
// there down. The integral of r over t, taken piece by piece, times the first kernel and the direction, is
// the attributions. Each switch costs O(width) for a network of two hidden layers, instead of a forward
// and a backward pass (integrated_gradients_by_pieces, the reference it is tested against).
int integrated_gradients_exact(const NetworkView& view, const float* x, const float* baseline, int max_pieces,
                               double* phi) {
    if (!piecewise_linear(view)) return 0;
    const int n = dense_inputs(view);
    const int hidden = view.layers - 1;
    std::vector<DenseLayer> layers(size_t(view.layers));
    {
        const float* p = view.parameters;
        for (int e = 0; e < view.embeddings; ++e) p += size_t(view.embedding_rows[e]) * size_t(view.embedding_dims[e]);
        int width = n;
        for (int l = 0; l < view.layers; ++l) {
            layers[size_t(l)] = {p, p + size_t(view.units[l]) * size_t(width), width, view.units[l]};
            p += size_t(view.units[l]) * size_t(width + 1);
            width = view.units[l];
        }
    }
    // One buffer: the input line, and per hidden layer intercept, slope, activation slope, crossing time,
    // d logit / d its activation (q), and two change vectors of the widest layer.
    int widest = 1, hidden_units = 0;
    for (int l = 0; l < view.layers; ++l) widest = std::max(widest, view.units[l]);
    for (int l = 0; l < hidden; ++l) hidden_units += view.units[l];
    std::vector<float> dense(2 * size_t(n));
    float* dense_x = dense.data();
    float* dense_base = dense_x + n;
    expand_inputs(view, x, dense_x);
    expand_inputs(view, baseline, dense_base);
    std::vector<double> buffer(3 * size_t(n) + 5 * size_t(hidden_units) + 4 * size_t(widest) + size_t(view.units[0]));
    double* direction = buffer.data();
    double* start = direction + n;
    double* gradient = start + n;
    double* intercept = gradient + n;  // per hidden unit, layer after layer
    double* slope = intercept + hidden_units;
    double* on_slope = slope + hidden_units;  // the activation's slope on the current piece
    double* crossing = on_slope + hidden_units;
    double* q = crossing + hidden_units;
    double* change_a = q + hidden_units;
    double* change_b = change_a + widest;
    double* change_c = change_b + widest;
    double* change_d = change_c + widest;
    double* integral = change_d + widest;  // of r over t, per layer-0 unit
    std::vector<int> first(size_t(hidden) + 1, 0);
    for (int l = 0; l < hidden; ++l) first[size_t(l) + 1] = first[size_t(l)] + view.units[l];
    for (int i = 0; i < n; ++i) {
        start[i] = dense_base[i];
        direction[i] = double(dense_x[i]) - double(dense_base[i]);
    }
    // out = bias (or 0) + kernel * in, in double.
    auto multiply = [](const DenseLayer& layer, const double* in, bool with_bias, double* out) {
        for (int u = 0; u < layer.n_out; ++u) out[u] = with_bias ? double(layer.bias[u]) : 0.0;
        for (int i = 0; i < layer.n_in; ++i) {
            const double v = in[i];
            if (v == 0) continue;
            const float* column = layer.kernel + size_t(i) * size_t(layer.n_out);
            for (int u = 0; u < layer.n_out; ++u) out[u] += double(column[u]) * v;
        }
    };
    auto crossing_time = [&](int l, int u) {
        const int k = first[size_t(l)] + u;
        if (view.activations[l] == Activation::Identity) return 2.0;
        return crossing_of(intercept[k], slope[k], on_slope[k] == 1.0);
    };
    // Every crossing of layer l, none before t (a unit below switched at t).
    auto layer_crossings_after = [&](int l, double t) {
        const int k0 = first[size_t(l)];
        if (view.activations[l] == Activation::Identity) {
            std::fill(crossing + k0, crossing + k0 + view.units[l], 2.0);
            return;
        }
        for (int u = 0; u < view.units[l]; ++u) {
            const double time = crossing_of(intercept[k0 + u], slope[k0 + u], on_slope[k0 + u] == 1.0);
            crossing[k0 + u] = t < time ? time : t;  // std::max(t, time), NaN included
        }
    };
    // The first piece: forward at t = 0 with the slopes along the line.
    double base_logit = 0;
    {
        const double* in_intercept = start;
        const double* in_slope = direction;
        for (int l = 0; l < view.layers; ++l) {
            if (l == hidden) {  // the output unit
                base_logit = double(layers[size_t(l)].bias[0]);
                for (int i = 0; i < layers[size_t(l)].n_in; ++i)
                    base_logit +=
                        double(layers[size_t(l)].kernel[size_t(i) * size_t(layers[size_t(l)].n_out)]) * in_intercept[i];
                break;
            }
            const int k0 = first[size_t(l)];
            multiply(layers[size_t(l)], in_intercept, true, intercept + k0);
            multiply(layers[size_t(l)], in_slope, false, slope + k0);
            for (int u = 0; u < view.units[l]; ++u) {
                const double c = intercept[k0 + u], m = slope[k0 + u];
                const bool on = c > 0 || (c == 0 && m > 0);
                on_slope[k0 + u] = on ? 1.0 : off_slope(view.activations[l]);
                change_a[u] = on_slope[k0 + u] * c;
                change_b[u] = on_slope[k0 + u] * m;
                crossing[k0 + u] = crossing_time(l, u);
            }
            std::copy(change_a, change_a + view.units[l], change_c);
            std::copy(change_b, change_b + view.units[l], change_d);
            in_intercept = change_c;
            in_slope = change_d;
        }
    }
    // The logit at x: a plain forward pass (from x's own values, not the tracked line).
    double logit = 0;
    {
        std::vector<double> h(dense_x, dense_x + n), z;
        for (int l = 0; l < view.layers; ++l) {
            z.resize(size_t(view.units[l]));
            multiply(layers[size_t(l)], h.data(), true, z.data());
            if (l == hidden) {
                logit = z[0];
                break;
            }
            for (double& v : z) v = v > 0 ? v : off_slope(view.activations[l]) * v;
            h.swap(z);
        }
    }
    // Backward on the first piece: q of the top hidden layer is the output row; below, q = W^T (slope . q).
    for (int l = hidden - 1; l >= 0; --l) {
        const DenseLayer& above = layers[size_t(l) + 1];
        for (int u = 0; u < above.n_out; ++u)
            change_a[u] = l + 1 == hidden ? 1.0 : on_slope[first[size_t(l) + 1] + u] * q[first[size_t(l) + 1] + u];
        for (int i = 0; i < view.units[l]; ++i)
            q[first[size_t(l)] + i] = dot(above.kernel + size_t(i) * size_t(above.n_out), change_a, above.n_out);
    }
    const int width0 = view.units[0];
    std::fill(integral, integral + width0, 0.0);
    double t = 0;
    int pieces = 1;
    for (;;) {
        // The next switch: the earliest crossing ahead.
        const int switching = earliest_crossing(crossing, hidden_units, 1.0);
        int switch_layer = -1, switch_unit = -1;
        double next = 1;
        if (switching >= 0) {
            switch_layer = 0;
            while (switching >= first[size_t(switch_layer) + 1]) ++switch_layer;
            switch_unit = switching - first[size_t(switch_layer)];
            next = crossing[switching];
        }
        next = std::max(next, t);
        if (hidden == 0)
            integral[0] += next - t;
        else
            for (int u = 0; u < width0; ++u) integral[u] += (next - t) * on_slope[u] * q[u];
        t = next;
        if (switch_layer < 0) break;
        if (++pieces > max_pieces) return 0;
        const int l = switch_layer, k = first[size_t(l)] + switch_unit;
        const double was = on_slope[k];
        on_slope[k] = was == 1.0 ? off_slope(view.activations[l]) : 1.0;
        const double delta = on_slope[k] - was;
        crossing[k] = crossing_time(l, switch_unit);
        // Up: the layers above see the unit's activation change by delta (intercept + t slope).
        if (l + 1 < hidden) {
            const DenseLayer& above = layers[size_t(l) + 1];
            const float* column = above.kernel + size_t(switch_unit) * size_t(above.n_out);
            const double dc = delta * intercept[k], dm = delta * slope[k];
            int layer = l + 1;
            for (int u = 0; u < above.n_out; ++u) {
                change_a[u] = double(column[u]) * dc;
                change_b[u] = double(column[u]) * dm;
            }
            for (;;) {
                const int k0 = first[size_t(layer)];
                for (int u = 0; u < view.units[layer]; ++u) {
                    intercept[k0 + u] += change_a[u];
                    slope[k0 + u] += change_b[u];
                }
                layer_crossings_after(layer, t);
                if (layer + 1 >= hidden) break;
                for (int u = 0; u < view.units[layer]; ++u) {
                    change_c[u] = on_slope[k0 + u] * change_a[u];
                    change_d[u] = on_slope[k0 + u] * change_b[u];
                }
                multiply(layers[size_t(layer) + 1], change_c, false, change_a);
                multiply(layers[size_t(layer) + 1], change_d, false, change_b);
                ++layer;
            }
        }
        // Down: q of the layers below through row switch_unit of this layer's kernel, then densely.
        if (l > 0) {
            const DenseLayer& here = layers[size_t(l)];
            const double dr = delta * q[k];
            for (int i = 0; i < here.n_in; ++i)
                change_a[i] = double(here.kernel[size_t(i) * size_t(here.n_out) + size_t(switch_unit)]) * dr;
            for (int layer = l - 1;; --layer) {
                const int k0 = first[size_t(layer)];
                for (int u = 0; u < view.units[layer]; ++u) q[k0 + u] += change_a[u];
                if (layer == 0) break;
                const DenseLayer& below_kernel = layers[size_t(layer)];
                for (int u = 0; u < below_kernel.n_out; ++u) change_c[u] = on_slope[k0 + u] * change_a[u];
                for (int i = 0; i < below_kernel.n_in; ++i)
                    change_b[i] =
                        dot(below_kernel.kernel + size_t(i) * size_t(below_kernel.n_out), change_c, below_kernel.n_out);
                std::copy(change_b, change_b + below_kernel.n_in, change_a);
            }
        }
    }
    // d logit / d input, integrated: the first kernel's transpose times the integral of r.
    const DenseLayer& layer0 = layers[0];
    for (int i = 0; i < n; ++i)
        gradient[i] = dot(layer0.kernel + size_t(i) * size_t(layer0.n_out), integral, layer0.n_out);
    int d = 0, e = 0, k = 0;
    for (int j = 0; j < view.inputs; ++j) {
        const int width = dense_width(view, j, e, k);
        double total = 0;
        for (int w = 0; w < width; ++w, ++d) total += direction[d] * gradient[d];
        phi[j] = total;
    }
    phi[view.inputs] = base_logit;
    phi[view.inputs + 1] = logit;
    return pieces;
}

int integrated_gradients_to(const NetworkView& view, const float* x, const float* baseline, double tolerance,
                            int max_steps, double* phi, double* gap) {
    if (const int pieces = integrated_gradients_exact(view, x, baseline, 100000, phi); pieces > 0) {
        double sum = 0;
        for (int i = 0; i < view.inputs; ++i) sum += phi[i];
        *gap = std::abs(sum - (phi[view.inputs + 1] - phi[view.inputs]));
        return pieces;
    }
    int steps = 16;
    for (;; steps *= 2) {
        integrated_gradients(view, x, baseline, steps, phi);
        double sum = 0;
        for (int i = 0; i < view.inputs; ++i) sum += phi[i];
        const double difference = phi[view.inputs + 1] - phi[view.inputs];
        *gap = std::abs(sum - difference);
        if (*gap <= tolerance * std::max(1.0, std::abs(difference)) || steps * 2 > max_steps) return steps;
    }
}

void blend_contributions(const ModelView& model, const float* x, const float* baseline, double tolerance, int max_steps,
                         TreeShapScratch& scratch, std::vector<double>& trees_phi, double* phi) {
    const int n = model.network.inputs;
    double gap = 0;
    integrated_gradients_to(model.network, x, baseline, tolerance, max_steps, phi, &gap);
    trees_phi.resize(size_t(n) + 1);
    tree_shap(model.trees, x, trees_phi.data(), scratch);
    const double w = double(model.network_weight);
    double margin = 0;
    for (int i = 0; i <= n; ++i) margin += trees_phi[size_t(i)];
    for (int i = 0; i < n; ++i) phi[i] = w * phi[i] + (1 - w) * trees_phi[size_t(i)];
    phi[n] = w * phi[n] + (1 - w) * trees_phi[size_t(n)];
    phi[n + 1] = w * phi[n + 1] + (1 - w) * margin;
}

void model_contributions(const ModelView& model, const float* x, const float* baseline, int n_features,
                         double tolerance, int max_steps, ContributionScratch& scratch, double* phi) {
    if (model.kind == ModelView::Kind::Trees) {
        tree_shap(model.trees, x, phi, scratch.trees);
    } else if (model.kind == ModelView::Kind::Autoencoder) {
        scratch.network.resize(size_t(std::max(1, model_scratch_floats(model))));
        reconstruction_error_terms(model.network, x, scratch.network.data(), phi);
        phi[n_features] = 0;
        phi[n_features + 1] = 0;
        for (int i = 0; i < n_features; ++i) phi[n_features + 1] += phi[i];
    } else if (model.kind == ModelView::Kind::Blend) {
        blend_contributions(model, x, baseline, tolerance, max_steps, scratch.trees, scratch.trees_phi, phi);
    } else {
        double gap = 0;
        integrated_gradients_to(model.network, x, baseline, tolerance, max_steps, phi, &gap);
    }
}

void score_and_explain_rows(const ModelView& model, const float* baseline, const float* x, int n_features, size_t rows,
                            double tolerance, int max_steps, WorkerPool& pool,
                            std::vector<ContributionScratch>& scratch, float* scores, double* phi,
                            bool (*should_stop)()) {
    const size_t shares = size_t(pool.size());
    scratch.resize(shares);
    const size_t phi_size = size_t(n_features) + 2;
    pool.run(int(shares), [&](int share) {
        ContributionScratch& s = scratch[size_t(share)];
        std::vector<float> score_scratch(scores ? size_t(std::max(1, model_scratch_floats(model))) : 0);
        for (size_t k = size_t(share); k < rows; k += shares) {
            if (should_stop && should_stop()) fail(ErrorKind::Canceled, "canceled");
            const float* row = x + k * size_t(n_features);
            if (scores) scores[k] = score_one(model, row, score_scratch.data());
            model_contributions(model, row, baseline, n_features, tolerance, max_steps, s, phi + k * phi_size);
        }
    });
}

size_t mean_abs_contributions(const ModelView& model, const float* baseline, const float* x, int n_features,
                              const std::vector<uint32_t>& rows, size_t max_rows, const int* group_of, int groups,
                              double* mean_abs, bool (*should_stop)(), int threads) {
    std::fill(mean_abs, mean_abs + groups, 0.0);
    if (rows.empty() || max_rows == 0) return 0;
    const size_t used = std::min(rows.size(), max_rows);
    // Each row's |contribution| per group, then the sums in row order (whichever thread computed a row).
    std::vector<double> per_row(used * size_t(groups));
    const int wanted = threads > 0 ? threads : WorkerPool::hardware_threads();  // as WorkerPool reads 0
    WorkerPool pool(int(std::min<size_t>(size_t(std::max(wanted, 1)), used)));
    const size_t shares = size_t(pool.size());
    pool.run(int(shares), [&](int share) {
        std::vector<double> phi(size_t(n_features) + 2);
        std::vector<double> folded(static_cast<size_t>(groups));
        ContributionScratch scratch;
        for (size_t k = size_t(share); k < used; k += shares) {
            if (should_stop && should_stop()) fail(ErrorKind::Canceled, "canceled");
            const float* row = x + size_t(rows[k * rows.size() / used]) * size_t(n_features);
            model_contributions(model, row, baseline, n_features, 1e-3, 4096, scratch, phi.data());
            std::fill(folded.begin(), folded.end(), 0.0);
            for (int f = 0; f < n_features; ++f) folded[size_t(group_of[f])] += phi[size_t(f)];
            for (int g = 0; g < groups; ++g) per_row[k * size_t(groups) + size_t(g)] = std::abs(folded[size_t(g)]);
        }
    });
    for (size_t k = 0; k < used; ++k)
        for (int g = 0; g < groups; ++g) mean_abs[g] += per_row[k * size_t(groups) + size_t(g)];
    for (int g = 0; g < groups; ++g) mean_abs[g] /= double(used);
    return used;
}

}  // namespace dendrite::engine
