#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "model/generate.h"
#include "model/sampler.h"
#include "test_util.h"

namespace wb {
namespace {

TEST(Sampler, GreedyTakesTheFirstMaximum) {
    std::vector<float> logits{0.1f, 3.0f, -2.0f, 3.0f};
    Sampler s(4, 0.0f, 0.9f, 7);
    EXPECT_EQ(s.sample(logits.data()), 1);
}

// run.c's argmax, the loop the batched one must agree with.
int first_maximum(const std::vector<float>& v) {
    int best = 0;
    for (int i = 1; i < static_cast<int>(v.size()); i++) {
        if (v[static_cast<std::size_t>(i)] > v[static_cast<std::size_t>(best)]) best = i;
    }
    return best;
}

TEST(Sampler, ArgmaxAgreesWithRunCsLoopOnTiesTailsAndNaNs) {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> level(0, 6);  // few distinct values: ties everywhere
    for (int n : {1, 2, 15, 16, 17, 33, 512, 32000, 32001}) {
        for (int trial = 0; trial < 20; trial++) {
            std::vector<float> v(static_cast<std::size_t>(n));
            for (float& x : v) x = static_cast<float>(level(rng)) - 3.0f;
            if (trial % 4 == 1) v[static_cast<std::size_t>(rng() % n)] = NAN;
            if (trial % 4 == 2) v[0] = NAN;
            if (trial % 4 == 3) std::fill(v.begin(), v.end(), NAN);
            EXPECT_EQ(argmax(v.data(), n), first_maximum(v)) << n << " values, trial " << trial;
        }
    }
}

TEST(Sampler, SameSeedSameCoins) {
    Sampler a(4, 1.0f, 0.9f, 133742), b(4, 1.0f, 0.9f, 133742), c(4, 1.0f, 0.9f, 133743);
    bool differs = false;
    for (int i = 0; i < 100; i++) {
        const float x = a.random_f32();
        EXPECT_EQ(x, b.random_f32());
        EXPECT_GE(x, 0.0f);
        EXPECT_LT(x, 1.0f);
        differs = differs || x != c.random_f32();
    }
    EXPECT_TRUE(differs);
}

std::map<int, int> histogram(float topp, const std::vector<float>& probs, int draws) {
    Sampler s(static_cast<int>(probs.size()), 1.0f, topp, 99);
    std::map<int, int> counts;
    for (int i = 0; i < draws; i++) {
        std::vector<float> logits;
        for (const float p : probs) logits.push_back(std::log(p));
        counts[s.sample(logits.data())]++;
    }
    return counts;
}

TEST(Sampler, MultinomialFollowsTheDistribution) {
    const std::vector<float> probs{0.5f, 0.3f, 0.15f, 0.05f};
    const int draws = 20000;
    const auto counts = histogram(1.0f, probs, draws);
    for (int i = 0; i < 4; i++) EXPECT_NEAR(counts.at(i) / double(draws), probs[i], 0.015) << "token " << i;
}

TEST(Sampler, TopPNeverLeavesTheNucleus) {
    // Sorted: 0.5, 0.3 (cumulative 0.8 > 0.7 closes the nucleus), so tokens 2 and 3 never appear.
    const std::vector<float> probs{0.3f, 0.5f, 0.15f, 0.05f};
    const int draws = 20000;
    const auto counts = histogram(0.7f, probs, draws);
    EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
    EXPECT_NEAR(counts.at(1) / double(draws), 0.5 / 0.8, 0.015);
}

TEST(Chat, RendersTheLlama2Template) {
    EXPECT_EQ(render_chat_prompt("Be brief.", "Hi", true), "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
    EXPECT_EQ(render_chat_prompt("", "Hi", true), "[INST] Hi [/INST]");
    EXPECT_EQ(render_chat_prompt("Be brief.", "Again", false), "[INST] Again [/INST]");
}

}  // namespace
}  // namespace wb
