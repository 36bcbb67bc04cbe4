// How long one row's explanation takes (issue #25: <= 50 us for gbdt with 300 trees of depth 6), engine
// only: TreeSHAP (engine/explain.hpp, Linear TreeSHAP) per row against scoring the same row (score_trees)
// and against Algorithm 2 alone, the baselines measured in the same run. The trees are trained by libxgboost
// on 20,000 synthetic rows of 60 features (a few informative, the rest noise, some missing), so they are as
// deep and as bushy as real ones. It also prints how the row pass's splits divide (see TreeShapScratch).
// Run: build/explain_bench [rounds] [depth] [blocks]
// blocks > 0: then also `blocks` half-second blocks of tree_shap alone, each block's median printed, to show how
// this VM's speed for vector code drifts within one process (shared cores: 67-72 us in some blocks and 117-130 us
// in others of the same run, docs/benchmarks.md); compare builds only within a block pattern, or interleaved.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine/explain.hpp"
#include "engine/gbdt.hpp"
#include "engine/network.hpp"
#include "engine/rng.hpp"
#include "engine/trainer.hpp"

using namespace dendrite::engine;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
    const int depth = argc > 2 ? std::atoi(argv[2]) : 6;
    const int blocks = argc > 3 ? std::atoi(argv[3]) : 0;
    constexpr int kRows = 20000, kFeatures = 60;
    Rng rng(7);
    std::vector<float> x(size_t(kRows) * kFeatures), y(kRows);
    for (int r = 0; r < kRows; ++r) {
        float* row = x.data() + size_t(r) * kFeatures;
        for (int f = 0; f < kFeatures; ++f) row[f] = rng.uniform() < 0.02 ? NAN : float(rng.normal());
        const double signal = (std::isnan(row[0]) ? 0 : row[0]) + 0.7 * (std::isnan(row[1]) ? 0 : row[1]) -
                              0.5 * (std::isnan(row[2]) ? 0 : row[2]) * (std::isnan(row[3]) ? 0 : row[3]);
        y[size_t(r)] = signal + 0.5 * rng.normal() > 1.8 ? 1.0f : 0.0f;
    }
    TrainOptions options;
    options.algorithm = "gbdt";
    options.gbdt.rounds = rounds;
    options.gbdt.max_depth = depth;
    options.gbdt.eta = 0.05;
    options.threads = 2;
    const TrainResult result = train(Dataset{x.data(), y.data(), size_t(kRows), kFeatures}, options);
    const TreeEnsembleView view = view_of(result.trees);
    size_t nodes = result.trees.left.size();
    std::printf("%d trees of depth <= %d, %zu nodes, %d features\n", view.trees, depth, nodes, kFeatures);

    // The trees are laid out on the first call for an ensemble (once per backend and version in the server).
    {
        TreeShapScratch fresh;
        std::vector<double> first_phi(kFeatures + 1);
        const auto start = Clock::now();
        tree_shap(view, x.data(), first_phi.data(), fresh);
        int fallback = 0;
        for (uint8_t f : fresh.tree_needs_algorithm_2) fallback += f;
        // What the row pass streams: splits with a child that splits (down and up), those above two leaves
        // that replace an earlier split's factor on their feature, and the plain ones (constants only).
        long clean = 0, inner = 0, inner_replacing = 0, bottom_replacing = 0, plain = 0;
        for (size_t u = 0; u + 1 < fresh.unit_first_split.size(); ++u) {
            const int32_t first = fresh.unit_first_split[u], count = fresh.unit_first_split[u + 1] - first;
            const int32_t unit_inner = fresh.unit_inner_splits[u], unit_plain = fresh.unit_plain_splits[u];
            inner += unit_inner;
            clean += fresh.unit_clean_splits[u];
            for (int32_t j = 0; j < unit_inner; ++j) inner_replacing += fresh.splits[size_t(first + j)].previous != 0;
            bottom_replacing += unit_plain - unit_inner;
            plain += count - unit_plain;
        }
        std::printf(
            "splits: %ld with a child that splits (%ld replacing an earlier factor, %ld clean: "
            "neither they nor one above replace one), %ld above two leaves replacing one, %ld plain\n",
            inner, inner_replacing, clean, bottom_replacing, plain);
        std::printf(
            "first call (lays the trees out, %zu splits, %d quadrature points, %d trees by Algorithm 2): %.1f ms\n",
            fresh.splits.size(), fresh.points, fallback,
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    // Interleaved, one timed call per row, medians (the machine is shared and noisy).
    constexpr int kTimed = 4000;
    std::vector<double> explain_us, reference_us, score_us;
    std::vector<double> phi(kFeatures + 1), reference_phi(kFeatures + 1);
    TreeShapScratch scratch, reference_scratch;
    double worst_difference = 0;
    volatile float sink = 0;
    double worst_sum_error = 0;
    for (int i = 0; i < kTimed; ++i) {
        const float* row = x.data() + size_t(i % kRows) * kFeatures;
        auto start = Clock::now();
        sink = sink + score_trees(view, row);
        score_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        start = Clock::now();
        tree_shap(view, row, phi.data(), scratch);
        explain_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        start = Clock::now();
        tree_shap_reference(view, row, reference_phi.data(), reference_scratch);
        reference_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        double sum = 0;
        for (size_t f = 0; f < phi.size(); ++f) {
            sum += phi[f];
            worst_difference = std::max(worst_difference, std::abs(phi[f] - reference_phi[f]));
        }
        worst_sum_error = std::max(worst_sum_error, std::abs(sum - tree_margin(view, row)));
    }
    auto median = [](std::vector<double> v) {
        std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    const double e = median(explain_us), r = median(reference_us), s = median(score_us);
    std::printf(
        "per row, median of %d: score_trees %.2f us, tree_shap %.1f us (%.0fx the score), Algorithm 2 "
        "alone %.1f us (%.1fx tree_shap); |sum(phi) - margin| <= %.2g, |tree_shap - Algorithm 2| <= %.2g\n",
        kTimed, s, e, e / s, r, r / e, worst_sum_error, worst_difference);
    if (blocks > 0) {
        TreeShapScratch block_scratch;
        std::vector<double> block_phi(kFeatures + 1);
        int next_row = 0;
        for (int block = 1; block <= blocks; ++block) {
            std::vector<double> us;
            const auto block_start = Clock::now();
            while (std::chrono::duration<double>(Clock::now() - block_start).count() < 0.5) {
                const float* row = x.data() + size_t(next_row++ % kRows) * kFeatures;
                const auto start = Clock::now();
                tree_shap(view, row, block_phi.data(), block_scratch);
                us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            }
            std::printf("tree_shap, block %d of %d (0.5 s, %zu rows): median %.1f us\n", block, blocks, us.size(),
                        median(us));
        }
    }
    // What train pays for a version's validation importance (dendrite.validation_importance): the mean
    // |contribution| over 2,000 rows, on one thread and on the training's two, interleaved, 3 rounds.
    {
        ModelView model;
        model.kind = ModelView::Kind::Trees;
        model.trees = view;
        std::vector<uint32_t> rows(kRows);
        for (int r = 0; r < kRows; ++r) rows[size_t(r)] = uint32_t(r);
        std::vector<int> group_of(kFeatures);
        for (int f = 0; f < kFeatures; ++f) group_of[size_t(f)] = f;
        std::vector<double> one(kFeatures), two(kFeatures);
        for (int round = 1; round <= 3; ++round) {
            auto start = Clock::now();
            mean_abs_contributions(model, nullptr, x.data(), kFeatures, rows, 2000, group_of.data(), kFeatures,
                                   one.data(), nullptr, 1);
            const double one_s = std::chrono::duration<double>(Clock::now() - start).count();
            start = Clock::now();
            mean_abs_contributions(model, nullptr, x.data(), kFeatures, rows, 2000, group_of.data(), kFeatures,
                                   two.data(), nullptr, 2);
            const double two_s = std::chrono::duration<double>(Clock::now() - start).count();
            std::printf("validation importance, 2,000 rows, round %d: 1 thread %.3f s, 2 threads %.3f s (%.2fx), %s\n",
                        round, one_s, two_s, one_s / two_s, one == two ? "identical" : "DIFFERENT");
        }
    }
    // A network: the MLP 64-32 over the same 60 features (random weights and biases), integrated
    // gradients from the mean row as dendrite.explain runs them: exactly, over the pieces where the ReLUs are
    // fixed (the "steps" printed are pieces).
    {
        NetworkSpec spec = NetworkSpec::binary_classifier(kFeatures, {64, 32}, Activation::Relu);
        Network network(spec);
        Rng init(3);
        network.initialize(init);
        // Biases as training leaves them (not zero): units switch along the line from the mean row.
        for (size_t l = 0; l < spec.layers.size(); ++l)
            for (int u = 0; u < spec.layers[l].units; ++u)
                network.parameters()[spec.bias_offset(l) + size_t(u)] = float(0.5 * init.normal());
        const SpecView spec_view(network.spec(), network.parameters().data());
        std::vector<float> mean(kFeatures, 0.0f);
        std::vector<double> attributions(kFeatures + 2);
        std::vector<double> network_us, quadrature_us, by_pieces_us;
        std::vector<int> steps_taken;
        double worst_gap = 0;
        for (int i = 0; i < 1000; ++i) {
            const float* row = x.data() + size_t(i % kRows) * kFeatures;
            std::vector<float> clean(row, row + kFeatures);
            for (float& value : clean)
                if (std::isnan(value)) value = 0;  // a featurizer's outputs are never NaN
            double gap = 0;
            auto start = Clock::now();
            steps_taken.push_back(integrated_gradients_to(spec_view.view(), clean.data(), mean.data(), 1e-3, 4096,
                                                          attributions.data(), &gap));
            network_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            worst_gap = std::max(worst_gap, gap);
            // The baselines: a forward and a backward pass per piece (the same sum), and Simpson's rule over 512
            // steps on the same row (what the doubling needed before).
            start = Clock::now();
            integrated_gradients_by_pieces(spec_view.view(), clean.data(), mean.data(), 100000, attributions.data());
            by_pieces_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            start = Clock::now();
            integrated_gradients(spec_view.view(), clean.data(), mean.data(), 512, attributions.data());
            quadrature_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        }
        std::sort(steps_taken.begin(), steps_taken.end());
        std::printf(
            "MLP 60-64-32-1 (ReLU), integrated gradients, median of 1,000 rows: exact %.0f us per row (pieces "
            "median %d, max %d; largest |sum - difference| %.2g); the same sum by a forward and a backward pass "
            "per piece %.0f us; Simpson over 512 steps %.0f us\n",
            median(network_us), steps_taken[steps_taken.size() / 2], steps_taken.back(), worst_gap,
            median(by_pieces_us), median(quadrature_us));
    }
    // The MLP as train's defaults make it (64-32, 20 epochs, each input encoded over up to 4 bins), against the
    // same training without the encoding: scoring and exact integrated gradients per row, medians of 1,000 rows.
    {
        std::vector<float> clean(x);
        for (float& value : clean)
            if (std::isnan(value)) value = 0;
        std::vector<float> mean(kFeatures, 0.0f);
        for (int bins : {0, -1}) {
            TrainOptions mlp;
            mlp.threads = 2;
            mlp.piecewise_bins = bins;
            const TrainResult trained = train(Dataset{clean.data(), y.data(), size_t(kRows), kFeatures}, mlp);
            const SpecView view(trained.spec, trained.parameters.data());
            std::vector<float> scratch(size_t(scratch_floats(view.view())));
            std::vector<double> attributions(kFeatures + 2), explain_us, score_us;
            std::vector<int> pieces;
            volatile float sink = 0;
            for (int i = 0; i < 1000; ++i) {
                const float* row = clean.data() + size_t(i) * kFeatures;
                auto start = Clock::now();
                for (int k = 0; k < 100; ++k) sink = sink + forward_one(view.view(), row, scratch.data());
                score_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / 100);
                start = Clock::now();
                pieces.push_back(
                    integrated_gradients_exact(view.view(), row, mean.data(), 100000, attributions.data()));
                explain_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            }
            std::sort(pieces.begin(), pieces.end());
            std::printf(
                "MLP trained with piecewise_bins %d (%zu inputs encoded, first layer %d wide): scoring %.2f us, "
                "exact integrated gradients %.1f us per row (pieces median %d)\n",
                trained.spec.encodings.empty() ? 0 : mlp.network_piecewise_bins(), trained.spec.encodings.size(),
                trained.spec.dense_inputs(), median(score_us), median(explain_us), pieces[pieces.size() / 2]);
        }
    }
    return 0;
}