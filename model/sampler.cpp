#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <xsimd/xsimd.hpp>

namespace wb {

// The largest value in batches, then its first position: run.c's first index of the maximum, without a
// compare-and-branch per element (NaNs, which never win in run.c, fall back to its scalar loop).
int argmax(const float* x, int n) {
    if (std::isnan(x[0])) return 0;  // nothing compares greater than run.c's first pick
    using batch = xsimd::batch<float>;
    constexpr int kLanes = static_cast<int>(batch::size);
    int i = 0;
    float largest = x[0];
    if (n >= kLanes) {
        // NaNs never compare greater (run.c's loop skips them); a vector max would let one through or lose a lane.
        const batch first = batch::load_unaligned(x);
        batch m = xsimd::select(first == first, first, batch(-std::numeric_limits<float>::infinity()));
        for (i = kLanes; i + kLanes <= n; i += kLanes) {
            const batch v = batch::load_unaligned(x + i);
            m = xsimd::select(v > m, v, m);
        }
        alignas(64) float lanes[kLanes];
        m.store_aligned(lanes);
        largest = *std::max_element(lanes, lanes + kLanes);
    }
    for (; i < n; i++) largest = x[i] > largest ? x[i] : largest;
    const batch target(largest);
    for (i = 0; i + kLanes <= n; i += kLanes) {
        if (xsimd::any(batch::load_unaligned(x + i) == target)) break;
    }
    for (; i < n; i++) {
        if (x[i] == largest) return i;
    }
    int best = 0;
    for (i = 1; i < n; i++) {
        if (x[i] > x[best]) best = i;
    }
    return best;
}

void softmax(float* x, int n) {
    float max_val = x[0];
    for (int i = 1; i < n; i++) max_val = std::max(max_val, x[i]);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

Sampler::Sampler(int vocab_size, float temperature, float topp, std::uint64_t seed)
    : vocab_size_(vocab_size), temperature_(temperature), topp_(topp), state_(seed),
      candidates_(static_cast<std::size_t>(vocab_size)) {}

float Sampler::random_f32() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const auto u32 = static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
    return static_cast<float>(u32 >> 8) / 16777216.0f;
}

int Sampler::sample(float* logits) {
    if (temperature_ == 0.0f) return argmax(logits, vocab_size_);
    for (int i = 0; i < vocab_size_; i++) logits[i] /= temperature_;
    softmax(logits, vocab_size_);
    const float coin = random_f32();
    if (topp_ > 0.0f && topp_ < 1.0f) return sample_topp(logits, coin);
    float cdf = 0.0f;
    for (int i = 0; i < vocab_size_; i++) {
        cdf += logits[i];
        if (coin < cdf) return i;
    }
    return vocab_size_ - 1;
}

int Sampler::sample_topp(const float* probs, float coin) {
    // Tokens below this cannot be in the nucleus; dropping them first keeps the sort short.
    const float cutoff = (1.0f - topp_) / static_cast<float>(vocab_size_ - 1);
    int n0 = 0;
    for (int i = 0; i < vocab_size_; i++) {
        if (probs[i] >= cutoff) candidates_[static_cast<std::size_t>(n0++)] = {probs[i], i};
    }
    std::sort(candidates_.begin(), candidates_.begin() + n0, [](const ProbIndex& a, const ProbIndex& b) {
        return a.prob != b.prob ? a.prob > b.prob : a.index < b.index;
    });
    float cumulative = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cumulative += candidates_[static_cast<std::size_t>(i)].prob;
        if (cumulative > topp_) {
            last = i;
            break;
        }
    }
    const float r = coin * cumulative;
    float cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += candidates_[static_cast<std::size_t>(i)].prob;
        if (r < cdf) return candidates_[static_cast<std::size_t>(i)].index;
    }
    return candidates_[static_cast<std::size_t>(last)].index;
}

}  // namespace wb
