#include "engine/explain.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

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

void tree_shap(const TreeEnsembleView& view, const float* x, double* phi, TreeShapScratch& scratch) {
    if (!view.cover)
        fail(ErrorKind::InvalidParameter, "the trees have no covers to explain them with",
             "Versions trained before dendrite 0.6.0 did not store them: retrain the model.");
    if (scratch.prepared_for != view.value || scratch.prepared_offsets != view.offsets ||
        int(scratch.depth.size()) != view.trees) {
        scratch.depth.assign(size_t(view.trees), 0);
        scratch.bias = double(view.base_margin);
        int deepest = 0;
        for (int t = 0; t < view.trees; ++t) {
            scratch.depth[size_t(t)] = tree_depth(view, view.offsets[t], 0);
            deepest = std::max(deepest, scratch.depth[size_t(t)]);
            scratch.bias += expected_value(view, view.offsets[t], 0);
        }
        const size_t needed = size_t(deepest + 2) * size_t(deepest + 3) / 2;
        if (scratch.path.size() < needed) scratch.path.resize(needed);
        scratch.prepared_for = view.value;
        scratch.prepared_offsets = view.offsets;
    }
    std::fill(phi, phi + view.features + 1, 0.0);
    phi[view.features] = scratch.bias;
    for (int t = 0; t < view.trees; ++t)
        recurse(Tree{view, view.offsets[t]}, x, phi, 0, 0, scratch.path.data(), 1, 1, -1);
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

}  // namespace dendrite::engine
