#include <cmath>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/synthetic.h"
#include "test_util.h"

namespace wb {
namespace {

std::string greedy_story(const std::string& variant, int steps, int threads) {
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(threads);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    Transformer model(ck, resolve_variant(variant), ctx);
    Sampler greedy(ck.config().vocab_size, 0.0f, 0.9f, 1);
    std::string text;
    generate(model, *tok, greedy, "", steps, [&](std::string_view s) { text += s; });
    return text;
}

TEST(Forward, NaiveGreedyStoryMatchesTheReference) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    EXPECT_EQ(greedy_story("naive", 200, 1), test::reference_story() + "\n");
}


void expect_batched_matches_sequential(const Checkpoint& ck, const std::vector<int>& tokens, int start) {
    const int V = ck.config().vocab_size, T = static_cast<int>(tokens.size());
    ExecContext ctx(1);
    Transformer batched(ck, resolve_variant("naive"), ctx), sequential(ck, resolve_variant("naive"), ctx);
    // A common history first, so the span starts mid-context.
    for (int p = 0; p < start; p++) {
        batched.forward(&tokens[0], 1, p);
        sequential.forward(&tokens[0], 1, p);
    }
    const float* logits = batched.forward(tokens.data(), T, start, true);
    const std::vector<float> all(logits, logits + static_cast<std::size_t>(V) * T);
    for (int t = 0; t < T; t++) {
        const float* one = sequential.forward(&tokens[static_cast<std::size_t>(t)], 1, start + t);
        ASSERT_LE(test::relative_error(all.data() + static_cast<std::size_t>(t) * V, one, V), 1e-5) << "position " << start + t;
    }
}

TEST(Forward, BatchedPrefillGivesTheSameLogitsAsTokenByToken) {
    REQUIRE_MODEL("stories260K.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    std::vector<int> tokens;
    for (int i = 0; i < 40; i++) tokens.push_back((i * 37 + 11) % 512);
    expect_batched_matches_sequential(ck, tokens, 0);
    expect_batched_matches_sequential(ck, tokens, 100);
}

TEST(Forward, PromptsLongerThanOneSpanAreSplitCorrectly) {
    Config c = *find_shape("stories260K");
    c.n_layers = 2;
    const Checkpoint ck = synthetic_checkpoint(c, 3, "synthetic");
    std::vector<int> tokens;
    for (int i = 0; i < Transformer::kMaxBatch + 37; i++) tokens.push_back((i * 53 + 2) % c.vocab_size);
    expect_batched_matches_sequential(ck, tokens, 0);
}

TEST(Forward, RefusesSpansPastTheContextAndBadTokenIds) {
    Config c = *find_shape("stories260K");
    c.n_layers = 1;
    const Checkpoint ck = synthetic_checkpoint(c, 3, "synthetic");
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant("naive"), ctx);
    const std::vector<int> tokens(8, 5);
    EXPECT_THROW(model.forward(tokens.data(), 8, c.seq_len - 4), std::out_of_range);
    const int bad = c.vocab_size;
    EXPECT_THROW(model.forward(&bad, 1, 0), std::out_of_range);
}

}  // namespace
}  // namespace wb
