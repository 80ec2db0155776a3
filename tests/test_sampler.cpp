#include <cmath>
#include <map>
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
