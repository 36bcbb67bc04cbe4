// A small, portable random generator (xoshiro256**, seeded by splitmix64). std::*_distribution is
// implementation-defined, so the engine draws its own numbers: the same seed gives the same model on any
// standard library.
#pragma once
#include "engine/engine_only.hpp"

#include <cmath>
#include <cstdint>
#include <utility>

namespace dendrite::engine {

class Rng {
public:
    explicit Rng(uint64_t seed) {
        uint64_t x = seed;
        for (auto& word : state_) word = splitmix64(x);
    }

    uint64_t next_u64() {
        const uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

    // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here).
    uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64); }

    // Standard normal by Box-Muller.
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2.0 * M_PI * u2);
        has_spare_ = true;
        return r * std::cos(2.0 * M_PI * u2);
    }
    double normal(double mean, double sd) { return mean + sd * normal(); }

    // Poisson by inversion (small means) or a rounded normal approximation (large means).
    int poisson(double mean) {
        if (mean <= 0) return 0;
        if (mean > 30) {
            const double v = std::round(normal(mean, std::sqrt(mean)));
            return v < 0 ? 0 : static_cast<int>(v);
        }
        const double limit = std::exp(-mean);
        double p = uniform();
        int k = 0;
        while (p > limit) {
            p *= uniform();
            ++k;
        }
        return k;
    }

    template <typename T>
    void shuffle(T* items, size_t n) {
        for (size_t i = n; i > 1; --i) std::swap(items[i - 1], items[below(i)]);
    }

    // Advances x and returns the next splitmix64 output (also a good 64-bit mixing function).
    static uint64_t splitmix64(uint64_t& x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

    uint64_t state_[4];
    bool has_spare_ = false;
    double spare_ = 0;
};

}  // namespace dendrite::engine
