// Explanations (engine/explain.hpp): TreeSHAP against the definition of Shapley values (brute force over
// every subset, with the path-dependent expectation the algorithm defines) and against libxgboost's own
// pred_contribs on a model it trained; the contributions add up to the margin.
#include <gtest/gtest.h>

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/explain.hpp"
#include "engine/gbdt.hpp"
#include "test_support.hpp"

using namespace dendrite::engine;
using namespace dendrite::engine::testing;

namespace {

// The path-dependent conditional expectation of one tree given the features in `known` (a bit set): at a
// split on a known feature follow x, otherwise average the children by their covers.
double expectation(const TreeEnsembleView& v, int32_t first, int32_t node, const float* x, unsigned known) {
    const size_t n = size_t(first + node);
    if (v.left[n] < 0) return v.value[n];
    const int f = v.feature[n];
    if (known & (1u << f)) {
        const float value = x[f];
        const int32_t next = std::isnan(value) ? (v.default_left[n] ? v.left[n] : v.right[n])
                                               : (value < v.threshold[n] ? v.left[n] : v.right[n]);
        return expectation(v, first, next, x, known);
    }
    const double l = v.cover[size_t(first + v.left[n])], r = v.cover[size_t(first + v.right[n])];
    return (l * expectation(v, first, v.left[n], x, known) + r * expectation(v, first, v.right[n], x, known)) / (l + r);
}

double ensemble_expectation(const TreeEnsembleView& v, const float* x, unsigned known) {
    double total = v.base_margin;
    for (int t = 0; t < v.trees; ++t) total += expectation(v, v.offsets[t], 0, x, known);
    return total;
}

// Shapley values by their definition: sum over subsets S without i of |S|! (M - |S| - 1)! / M! times
// the expectation with i known minus without.
std::vector<double> brute_force_shapley(const TreeEnsembleView& v, const float* x) {
    const int m = v.features;
    std::vector<double> factorial(size_t(m) + 1, 1);
    for (int k = 1; k <= m; ++k) factorial[size_t(k)] = factorial[size_t(k - 1)] * k;
    std::vector<double> phi(size_t(m) + 1, 0);
    for (int i = 0; i < m; ++i)
        for (unsigned s = 0; s < (1u << m); ++s) {
            if (s & (1u << i)) continue;
            const int size = __builtin_popcount(s);
            const double weight = factorial[size_t(size)] * factorial[size_t(m - size - 1)] / factorial[size_t(m)];
            phi[size_t(i)] += weight * (ensemble_expectation(v, x, s | (1u << i)) - ensemble_expectation(v, x, s));
        }
    phi[size_t(m)] = ensemble_expectation(v, x, 0);
    return phi;
}

// A random tree of at most the given depth over e.features features, numbered breadth first as xgboost
// numbers them (children after their parents), with covers that add up from the leaves. Below the root a
// node splits with the given probability (1: a full tree).
void add_random_tree(TreeEnsemble& e, Rng& rng, int depth, double split_probability = 0.8) {
    const int32_t first = int32_t(e.left.size());
    struct Pending {
        int32_t node;
        int depth;
    };
    auto add_leaf = [&] {
        e.left.push_back(-1);
        e.right.push_back(-1);
        e.feature.push_back(0);
        e.threshold.push_back(0);
        e.value.push_back(0);
        e.default_left.push_back(0);
        e.cover.push_back(0);
    };
    std::vector<Pending> queue{{0, 0}};
    int32_t count = 1;
    add_leaf();
    for (size_t q = 0; q < queue.size(); ++q) {
        const Pending p = queue[q];
        const size_t n = size_t(first + p.node);
        if (p.depth < depth && (p.depth == 0 || rng.uniform() < split_probability)) {
            e.left[n] = count;
            e.right[n] = count + 1;
            e.feature[n] = int32_t(rng.below(uint64_t(e.features)));
            e.threshold[n] = float(rng.normal());
            e.default_left[n] = rng.uniform() < 0.5;
            for (int c = 0; c < 2; ++c) {
                add_leaf();
                queue.push_back({count + c, p.depth + 1});
            }
            count += 2;
        } else {
            e.value[n] = float(rng.normal());
            e.cover[n] = float(1 + rng.below(50));
        }
    }
    // Covers of the splits: the sum of their children's (children come after parents).
    for (int32_t node = count - 1; node >= 0; --node) {
        const size_t n = size_t(first + node);
        if (e.left[n] >= 0) e.cover[n] = e.cover[size_t(first + e.left[n])] + e.cover[size_t(first + e.right[n])];
    }
    e.offsets.push_back(int32_t(e.left.size()));
}

// tree_shap against Algorithm 2 (tree_shap_reference) on random rows (a tenth of the values NaN).
void expect_algorithm_2_numbers(const TreeEnsembleView& view, Rng& rng, int rows, TreeShapScratch& fast,
                                TreeShapScratch& reference, const std::string& what) {
    const size_t n = size_t(view.features);
    for (int row = 0; row < rows; ++row) {
        std::vector<float> x(n);
        for (float& value : x) value = rng.uniform() < 0.1 ? NAN : float(rng.normal());
        std::vector<double> a(n + 1), b(n + 1);
        tree_shap(view, x.data(), a.data(), fast);
        tree_shap_reference(view, x.data(), b.data(), reference);
        for (size_t i = 0; i < a.size(); ++i)
            EXPECT_NEAR(a[i], b[i], 1e-9 * std::max(1.0, std::abs(b[i]))) << what << " feature " << i;
    }
}

}  // namespace

TEST(Explain, TreeShapIsTheShapleyValueOfThePathDependentExpectation) {
    Rng rng(17);
    for (int trial = 0; trial < 40; ++trial) {
        TreeEnsemble e;
        e.features = 5;
        e.base_margin = float(rng.normal());
        const int trees = 1 + int(rng.below(4));
        for (int t = 0; t < trees; ++t) add_random_tree(e, rng, 1 + int(rng.below(5)));
        e.validate();
        const TreeEnsembleView view = view_of(e);
        TreeShapScratch scratch;
        for (int row = 0; row < 5; ++row) {
            std::vector<float> x(5);
            for (float& value : x) value = rng.uniform() < 0.1 ? NAN : float(rng.normal());
            std::vector<double> phi(6);
            tree_shap(view, x.data(), phi.data(), scratch);
            const std::vector<double> expected = brute_force_shapley(view, x.data());
            double sum = 0;
            for (size_t i = 0; i < phi.size(); ++i) {
                EXPECT_NEAR(phi[i], expected[i], 1e-9) << "trial " << trial << " feature " << i;
                sum += phi[i];
            }
            EXPECT_NEAR(sum, tree_margin(view, x.data()), 1e-9);  // contributions + bias = the margin
            EXPECT_NEAR(1 / (1 + std::exp(-tree_margin(view, x.data()))), score_trees(view, x.data()), 1e-6);
        }
        if (::testing::Test::HasFailure()) break;
    }
}

// Linear TreeSHAP gives Algorithm 2's numbers: 4 quadrature points up to depth 8, 8 up to 16 (trials with
// trees of depth 12), and a tree deeper than that takes Algorithm 2 itself (depth 18). With 8 features, most
// paths split on a feature again (its factor replaced lower down). Covers must be positive (a zero one would
// divide by zero): well_formed says so.
TEST(Explain, TreeShapEqualsAlgorithm2AtEveryDepth) {
    Rng rng(29);
    int trees_by_algorithm_2 = 0, two_points = 0, eight_points = 0;
    for (int trial = 0; trial < 30; ++trial) {
        TreeEnsemble e;
        e.features = 8;
        e.base_margin = float(rng.normal());
        for (int t = 0; t < 6; ++t)
            add_random_tree(e, rng, trial % 10 == 5 ? 18 : trial % 3 == 0 ? 12 : 1 + int(rng.below(8)));
        {
            TreeEnsemble zero = e;
            zero.cover.back() = 0;
            EXPECT_FALSE(well_formed(view_of(zero)));
        }
        e.validate();
        const TreeEnsembleView view = view_of(e);
        TreeShapScratch fast, reference;
        expect_algorithm_2_numbers(view, rng, 10, fast, reference, "trial " + std::to_string(trial));
        int by_algorithm_2 = 0;
        for (uint8_t fallback : fast.tree_needs_algorithm_2) by_algorithm_2 += fallback;
        trees_by_algorithm_2 += by_algorithm_2;
        if (by_algorithm_2 < 6) eight_points += fast.points == 8;
        two_points += fast.points == 2;
        if (::testing::Test::HasFailure()) break;
    }
    EXPECT_GT(trees_by_algorithm_2, 0);  // the deep trials did take Algorithm 2 for some trees
    EXPECT_GT(eight_points, 0);          // and the depth-12 ones 8 quadrature points
    EXPECT_GT(two_points, 0);            // and those of trees no deeper than 4, 2
}

// The row pass keeps a tree's node positions in 16 bits: a full tree of depth 15 (65,535 nodes, the most it
// takes) goes through it, one of depth 16 (131,071) through Algorithm 2, both with Algorithm 2's numbers.
TEST(Explain, TreeShapTakesTreesOfUpTo65535Nodes) {
    Rng rng(31);
    TreeEnsemble e;
    e.features = 20;
    add_random_tree(e, rng, 15, 1.0);
    add_random_tree(e, rng, 16, 1.0);
    add_random_tree(e, rng, 4);
    e.validate();
    ASSERT_EQ(e.offsets[1] - e.offsets[0], 65535);
    ASSERT_EQ(e.offsets[2] - e.offsets[1], 131071);
    const TreeEnsembleView view = view_of(e);
    TreeShapScratch fast, reference;
    expect_algorithm_2_numbers(view, rng, 3, fast, reference, "full trees");
    EXPECT_EQ(fast.tree_needs_algorithm_2, (std::vector<uint8_t>{0, 1, 0}));
}

TEST(Explain, TreeShapNeedsCovers) {
    TreeEnsemble e;
    e.features = 1;
    Rng rng(3);
    add_random_tree(e, rng, 2);
    e.cover.clear();
    std::vector<double> phi(2);
    TreeShapScratch scratch;
    const float x[1] = {0.5f};
    EXPECT_EQ(kind_of([&] { tree_shap(view_of(e), x, phi.data(), scratch); }), ErrorKind::InvalidParameter);
}

namespace {

void check(int status, const char* what) {
    if (status != 0) FAIL() << what << ": " << XGBGetLastError();
}

}  // namespace

// The same numbers as libxgboost's own TreeSHAP (pred_contribs) on a model it trained, with missing values.
TEST(Explain, TreeShapEqualsXgboostPredContribs) {
    Data d = make_data(2000, 23);
    for (size_t i = 0; i < d.features.size(); i += 17) d.features[i] = NAN;
    const size_t rows = d.labels.size();
    DMatrixHandle matrix = nullptr;
    BoosterHandle booster = nullptr;
    check(XGDMatrixCreateFromMat(d.features.data(), rows, 3, NAN, &matrix), "XGDMatrixCreateFromMat");
    check(XGDMatrixSetFloatInfo(matrix, "label", d.labels.data(), rows), "XGDMatrixSetFloatInfo");
    check(XGBoosterCreate(&matrix, 1, &booster), "XGBoosterCreate");
    for (const auto& [name, value] : std::vector<std::pair<const char*, const char*>>{
             {"objective", "binary:logistic"}, {"max_depth", "4"}, {"eta", "0.3"}, {"nthread", "1"}, {"seed", "1"}})
        check(XGBoosterSetParam(booster, name, value), "XGBoosterSetParam");
    for (int round = 0; round < 15; ++round) check(XGBoosterUpdateOneIter(booster, round, matrix), "update");
    bst_ulong length = 0;
    const char* buffer = nullptr;
    check(XGBoosterSaveModelToBuffer(booster, R"({"format": "json"})", &length, &buffer), "save");
    const TreeEnsemble e = TreeEnsemble::from_xgboost_json(std::string(buffer, length));
    const bst_ulong* shape = nullptr;
    bst_ulong dimensions = 0;
    const float* contributions = nullptr;
    check(XGBoosterPredictFromDMatrix(booster, matrix,
                                      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0,
                                          "strict_shape": false})",
                                      &shape, &dimensions, &contributions),
          "predict contributions");
    ASSERT_EQ(dimensions, 2u);
    ASSERT_EQ(shape[1], 4u);  // 3 features and the bias
    const TreeEnsembleView view = view_of(e);
    TreeShapScratch scratch;
    std::vector<double> phi(4);
    double largest_difference = 0;
    for (size_t r = 0; r < rows; ++r) {
        tree_shap(view, d.features.data() + r * 3, phi.data(), scratch);
        for (size_t i = 0; i < 4; ++i)
            largest_difference = std::max(largest_difference, std::abs(phi[i] - double(contributions[r * 4 + i])));
        double sum = 0;
        for (double p : phi) sum += p;
        EXPECT_NEAR(sum, tree_margin(view, d.features.data() + r * 3), 1e-9);
    }
    // xgboost accumulates in float: equal within float rounding of margins of a few units.
    EXPECT_LT(largest_difference, 1e-5);
    // The mean |contribution| per feature over many rows (train's validation importance) on 1 or 3 threads:
    // the same numbers, to the bit.
    ModelView model;
    model.kind = ModelView::Kind::Trees;
    model.trees = view;
    std::vector<uint32_t> all(rows);
    for (size_t r = 0; r < rows; ++r) all[r] = uint32_t(r);
    const int group_of[3] = {0, 1, 2};
    double one[3], three[3];
    EXPECT_EQ(mean_abs_contributions(model, nullptr, d.features.data(), 3, all, 500, group_of, 3, one, nullptr, 1),
              500u);
    EXPECT_EQ(mean_abs_contributions(model, nullptr, d.features.data(), 3, all, 500, group_of, 3, three, nullptr, 3),
              500u);
    for (int g = 0; g < 3; ++g) {
        EXPECT_GT(one[g], 0.0);
        EXPECT_EQ(one[g], three[g]) << g;
    }
    XGBoosterFree(booster);
    XGDMatrixFree(matrix);
}

namespace {

// A small random network: 5 inputs (feature 2 an index with an embedding when embedded), hidden 6-4.
// encoded: features 0 and 3 encoded piecewise-linearly (3 and 4 bins).
Network random_network(Activation activation, bool layer_norm, bool embedded, uint64_t seed, bool encoded = false) {
    NetworkSpec spec = NetworkSpec::binary_classifier(5, {6, 4}, activation, layer_norm);
    if (embedded) spec.embeddings.push_back({2, 7, 3});
    if (encoded) {
        spec.encodings = {{0, 3}, {3, 4}};
        spec.encoding_edges = {-1.5f, -0.2f, 0.4f, 2.0f, -2.0f, -0.5f, 0.0f, 0.7f, 1.5f};
    }
    Network network(spec);
    Rng rng(seed);
    network.initialize(rng);
    // Biases, norm scales and shifts away from their initial 0 / 1, so that every term is exercised.
    for (size_t l = 0; l < spec.layers.size(); ++l) {
        for (int u = 0; u < spec.layers[l].units; ++u) {
            network.parameters()[spec.bias_offset(l) + size_t(u)] = float(0.3 * rng.normal());
            if (spec.layers[l].layer_norm) {
                network.parameters()[spec.norm_scale_offset(l) + size_t(u)] = float(1 + 0.3 * rng.normal());
                network.parameters()[spec.norm_shift_offset(l) + size_t(u)] = float(0.3 * rng.normal());
            }
        }
    }
    return network;
}

}  // namespace

// d logit / d input by backpropagation against central finite differences, for every activation, with and
// without layer normalization and an embedding; and the logit is the one forward_one takes the sigmoid of.
TEST(Explain, NetworkGradientMatchesFiniteDifferences) {
    Rng rng(41);
    for (Activation activation : {Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid,
                                  Activation::Gelu, Activation::Identity})
        for (bool layer_norm : {false, true})
            for (bool embedded : {false, true}) {
                const Network network = random_network(activation, layer_norm, embedded, rng.below(1000));
                const SpecView spec_view(network.spec(), network.parameters().data());
                const NetworkView& view = spec_view.view();
                const int n = dense_inputs(view);
                for (int row = 0; row < 5; ++row) {
                    float x[5];
                    for (float& value : x) value = float(rng.normal());
                    x[2] = float(rng.below(7));
                    std::vector<float> dense(static_cast<size_t>(n));
                    expand_inputs(view, x, dense.data());
                    std::vector<double> point(dense.begin(), dense.end()), gradient(static_cast<size_t>(n));
                    const double logit = network_logit(view, point.data(), gradient.data());
                    std::vector<float> scratch(static_cast<size_t>(scratch_floats(view)));
                    EXPECT_NEAR(1 / (1 + std::exp(-logit)), forward_one(view, x, scratch.data()), 2e-6);
                    for (int i = 0; i < n; ++i) {
                        const double h = 1e-6;
                        std::vector<double> up = point, down = point;
                        up[size_t(i)] += h;
                        down[size_t(i)] -= h;
                        const double numeric =
                            (network_logit(view, up.data(), nullptr) - network_logit(view, down.data(), nullptr)) /
                            (2 * h);
                        EXPECT_NEAR(gradient[size_t(i)], numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
                            << activation_name(activation) << " layer_norm " << layer_norm << " embedded " << embedded
                            << " input " << i;
                    }
                }
                if (::testing::Test::HasFailure()) return;
            }
}

// Integrated gradients add up to logit(x) - logit(baseline), to the quadrature's error: Simpson's rule over
// 64 steps is within 1e-4 on a smooth network; where layer normalization curves sharply, doubling the steps
// gets within 1e-4 (at most 16,384 steps). Under ReLU the integrand (the gradient) jumps where a unit
// switches, so the error only falls as 1 / steps: within 1e-3 there. An embedded feature's attribution
// covers its whole move from the baseline row to its row; a feature at its baseline gets 0.
TEST(Explain, IntegratedGradientsAddUpToTheLogitDifference) {
    Rng rng(43);
    for (Activation activation : {Activation::Tanh, Activation::Gelu, Activation::Relu})
        for (bool embedded : {false, true}) {
            const Network network = random_network(activation, activation == Activation::Gelu, embedded, 7);
            const SpecView spec_view(network.spec(), network.parameters().data());
            const NetworkView& view = spec_view.view();
            for (int row = 0; row < 10; ++row) {
                float x[5], baseline[5] = {0, 0, 0, 0, 0};
                for (float& value : x) value = float(2 * rng.normal());
                x[2] = float(1 + rng.below(6));
                double phi[7], gap = 0;
                if (activation == Activation::Tanh) {
                    integrated_gradients(view, x, baseline, 64, phi);
                    double sum = 0;
                    for (int i = 0; i < 5; ++i) sum += phi[i];
                    EXPECT_NEAR(sum, phi[6] - phi[5], 1e-4 * std::max(1.0, std::abs(phi[6] - phi[5])))
                        << "embedded " << embedded;
                }
                const double tolerance = activation == Activation::Relu ? 1e-3 : 1e-4;
                const int steps = integrated_gradients_to(view, x, baseline, tolerance, 16384, phi, &gap);
                EXPECT_LE(gap, tolerance * std::max(1.0, std::abs(phi[6] - phi[5])))
                    << activation_name(activation) << " embedded " << embedded << " steps " << steps;
                std::vector<float> scratch(static_cast<size_t>(scratch_floats(view)));
                EXPECT_NEAR(1 / (1 + std::exp(-phi[6])), forward_one(view, x, scratch.data()), 2e-6);
                // A feature equal to its baseline gets nothing.
                x[4] = baseline[4];
                integrated_gradients(view, x, baseline, 64, phi);
                EXPECT_EQ(phi[4], 0.0);
            }
        }
}

// A piecewise-linear network's integrated gradients, summed exactly over the pieces the line crosses: they add
// up to the logit difference to rounding, equal Simpson's rule with many steps, and a network with layer
// normalization or a smooth activation is not taken that way.
TEST(Explain, ExactIntegratedGradientsOfPiecewiseLinearNetworks) {
    Rng rng(47);
    for (Activation activation : {Activation::Relu, Activation::LeakyRelu, Activation::Identity})
        for (int variant = 0; variant < 3; ++variant) {
            // 0: plain; 1: an embedded feature; 2: and two encoded ones, whose bins are more pieces of the path
            // in the input's space but none in the first layer's (the integral runs there).
            const bool embedded = variant > 0;
            const Network network = random_network(activation, false, embedded, 11, variant == 2);
            const SpecView spec_view(network.spec(), network.parameters().data());
            const NetworkView& view = spec_view.view();
            ASSERT_TRUE(piecewise_linear(view));
            for (int row = 0; row < 10; ++row) {
                float x[5], baseline[5];
                for (int i = 0; i < 5; ++i) {
                    x[i] = float(2 * rng.normal());
                    baseline[i] = float(0.5 * rng.normal());
                }
                x[2] = float(1 + rng.below(6));
                baseline[2] = 0;
                double exact[7], simpson[7];
                const int pieces = integrated_gradients_exact(view, x, baseline, 100000, exact);
                ASSERT_GT(pieces, 0);
                double sum = 0;
                for (int i = 0; i < 5; ++i) sum += exact[i];
                EXPECT_NEAR(sum, exact[6] - exact[5], 1e-9 * std::max(1.0, std::abs(exact[6] - exact[5])))
                    << activation_name(activation) << " pieces " << pieces;
                // The same as a forward and a backward pass per piece (which counts more pieces: it steps
                // past each switch by a sliver where rounding leaves the unit's sign unsettled).
                double by_pieces[7];
                EXPECT_GE(integrated_gradients_by_pieces(view, x, baseline, 100000, by_pieces), pieces);
                for (int i = 0; i < 7; ++i)
                    EXPECT_NEAR(exact[i], by_pieces[i], 1e-9 * std::max(1.0, std::abs(by_pieces[i])));
                integrated_gradients(view, x, baseline, 16384, simpson);
                for (int i = 0; i < 7; ++i)
                    EXPECT_NEAR(exact[i], simpson[i], 2e-3 * std::max(1.0, std::abs(simpson[i])))
                        << activation_name(activation) << " embedded " << embedded << " feature " << i;
            }
        }
    const Network normalized = random_network(Activation::Relu, true, false, 1);
    EXPECT_FALSE(piecewise_linear(SpecView(normalized.spec(), normalized.parameters().data()).view()));
    const Network smooth = random_network(Activation::Tanh, false, false, 1);
    EXPECT_FALSE(piecewise_linear(SpecView(smooth.spec(), smooth.parameters().data()).view()));
}

// The incremental sum on networks of other depths (no hidden layer; three, where a switch spreads densely
// up and down) and widths: the same as a forward and a backward pass per piece, and adding up.
TEST(Explain, ExactIntegratedGradientsAtOtherDepths) {
    Rng rng(53);
    for (const std::vector<int>& hidden :
         {std::vector<int>{}, std::vector<int>{7, 5, 4}, std::vector<int>{16, 3, 9, 5}}) {
        for (Activation activation : {Activation::Relu, Activation::LeakyRelu}) {
            NetworkSpec spec = NetworkSpec::binary_classifier(6, hidden, activation);
            Network network(spec);
            Rng init(rng.below(1000));
            network.initialize(init);
            for (size_t l = 0; l < spec.layers.size(); ++l)
                for (int u = 0; u < spec.layers[l].units; ++u)
                    network.parameters()[spec.bias_offset(l) + size_t(u)] = float(0.4 * init.normal());
            const SpecView spec_view(network.spec(), network.parameters().data());
            for (int row = 0; row < 20; ++row) {
                float x[6], baseline[6];
                for (int i = 0; i < 6; ++i) {
                    x[i] = float(3 * rng.normal());
                    baseline[i] = float(0.5 * rng.normal());
                }
                double exact[8], by_pieces[8];
                const int pieces = integrated_gradients_exact(spec_view.view(), x, baseline, 100000, exact);
                ASSERT_GT(pieces, 0);
                EXPECT_GE(integrated_gradients_by_pieces(spec_view.view(), x, baseline, 100000, by_pieces), pieces);
                double sum = 0;
                for (int i = 0; i < 6; ++i) sum += exact[i];
                EXPECT_NEAR(sum, exact[7] - exact[6], 1e-9 * std::max(1.0, std::abs(exact[7] - exact[6])));
                for (int i = 0; i < 8; ++i)
                    EXPECT_NEAR(exact[i], by_pieces[i], 1e-9 * std::max(1.0, std::abs(by_pieces[i])))
                        << hidden.size() << " hidden layers, " << activation_name(activation) << ", output " << i;
                if (hidden.empty()) {
                    EXPECT_EQ(pieces, 1);
                }
            }
        }
    }
}

// feature_importance's and explain_query's batches: rows scored and explained over a pool's threads give each
// row's score and contributions to the bit, as model_contributions and score_one row by row, for trees, a
// network (by quadrature and exactly) and a blend, scored or not; should_stop cancels.
TEST(Explain, ScoreAndExplainRowsIsRowByRow) {
    Rng rng(43);
    TreeEnsemble e;
    e.features = 5;
    e.base_margin = 0.2f;
    for (int t = 0; t < 8; ++t) add_random_tree(e, rng, 1 + int(rng.below(5)));
    e.validate();
    const Network tanh_network = random_network(Activation::Tanh, false, false, 7);
    const Network relu_network = random_network(Activation::Relu, false, false, 8);
    const SpecView tanh_view(tanh_network.spec(), tanh_network.parameters().data());
    const SpecView relu_view(relu_network.spec(), relu_network.parameters().data());
    std::vector<ModelView> models(4);
    models[0].kind = ModelView::Kind::Trees;
    models[0].trees = view_of(e);
    models[1].network = tanh_view.view();
    models[2].network = relu_view.view();
    models[3].kind = ModelView::Kind::Blend;
    models[3].network = relu_view.view();
    models[3].trees = view_of(e);
    models[3].network_weight = 0.3f;
    const size_t rows = 203;
    std::vector<float> x(rows * 5);
    for (float& value : x) value = float(rng.normal());
    const float baseline[5] = {0.1f, -0.2f, 0.0f, 0.3f, 0.05f};
    WorkerPool pool(3);
    for (size_t m = 0; m < models.size(); ++m) {
        std::vector<ContributionScratch> scratch;
        std::vector<float> scores(rows);
        std::vector<double> phi(rows * 7);
        score_and_explain_rows(models[m], baseline, x.data(), 5, rows, 1e-3, 4096, pool, scratch, scores.data(),
                               phi.data(), nullptr);
        EXPECT_EQ(scratch.size(), 3u);
        ContributionScratch alone;
        std::vector<float> score_scratch(size_t(std::max(1, model_scratch_floats(models[m]))));
        std::vector<double> expected(7);
        for (size_t r = 0; r < rows; ++r) {
            const float* row = x.data() + r * 5;
            EXPECT_EQ(scores[r], score_one(models[m], row, score_scratch.data())) << "model " << m << " row " << r;
            model_contributions(models[m], row, baseline, 5, 1e-3, 4096, alone, expected.data());
            const size_t written = m == 0 ? 6 : 7;
            for (size_t i = 0; i < written; ++i)
                EXPECT_EQ(phi[r * 7 + i], expected[i]) << "model " << m << " row " << r << " value " << i;
        }
        // Without scores (explain_query's rows are scored already): the same contributions.
        std::vector<double> unscored_phi(rows * 7);
        score_and_explain_rows(models[m], baseline, x.data(), 5, rows, 1e-3, 4096, pool, scratch, nullptr,
                               unscored_phi.data(), nullptr);
        for (size_t r = 0; r < rows; ++r)
            for (size_t i = 0; i < (m == 0 ? 6u : 7u); ++i) EXPECT_EQ(unscored_phi[r * 7 + i], phi[r * 7 + i]);
    }
    std::vector<ContributionScratch> scratch;
    std::vector<float> scores(rows);
    std::vector<double> phi(rows * 7);
    EXPECT_EQ(kind_of([&] {
                  score_and_explain_rows(models[1], baseline, x.data(), 5, rows, 1e-3, 4096, pool, scratch,
                                         scores.data(), phi.data(), [] { return true; });
              }),
              ErrorKind::Canceled);
}
