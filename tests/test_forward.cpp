#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/observer.h"
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

// The greedy tokens of the trained stories260K model with its KV cache stored as kv_type.
std::vector<int> greedy_tokens(const std::string& variant, DType kv_type, int steps) {
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(2);
    ctx.min_parallel_bytes = 0;
    Transformer model(ck, resolve_variant(variant), ctx, CacheShape{1, 0, kv_type});
    Sampler greedy(ck.config().vocab_size, 0.0f, 0.9f, 1);
    return generate(model, *tok, greedy, "", steps, [](std::string_view) {}).tokens;
}

TEST(Forward, NaiveGreedyStoryMatchesTheReference) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    EXPECT_EQ(greedy_story("naive", 200, 1), test::reference_story() + "\n");
}


// Of the f32 cache's greedy tokens (BOS first), how many the model with a kv_type cache also puts first when fed
// the same tokens before each: agreement position by position, no divergence carried forward.
double teacher_forced_agreement(const std::vector<int>& f32_tokens, DType kv_type) {
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant("tbb"), ctx, CacheShape{1, 0, kv_type});
    const int V = ck.config().vocab_size;
    int token = 1, same = 0;  // BOS
    for (std::size_t i = 0; i < f32_tokens.size(); i++) {
        const float* logits = model.forward(&token, 1, static_cast<int>(i));
        same += static_cast<int>(std::max_element(logits, logits + V) - logits) == f32_tokens[i];
        token = f32_tokens[i];
    }
    return static_cast<double>(same) / static_cast<double>(f32_tokens.size());
}

// A cache of f16, bf16 or q8_0 rows changes few of a trained model's greedy choices, and the flash kernel reading
// it gives naive's tokens on the same cache. Free-running, the first changed token changes every later one, so
// the f16 and bf16 stories are held to 90% of positions; q8_0 (blocks of 32 spanning four of stories260K's
// 8-wide heads) is held to 90% teacher-forced and its free-running share is recorded.
TEST(Forward, KvCacheTypesKeepTheGreedyStory) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    constexpr int kSteps = 256;
    const std::vector<int> f32 = greedy_tokens("tbb", DType::f32, kSteps);
    ASSERT_GE(f32.size(), 100u);
    for (const DType kv_type : {DType::f16, DType::bf16, DType::q8_0}) {
        SCOPED_TRACE(traits(kv_type).name);
        const std::vector<int> stored = greedy_tokens("tbb", kv_type, kSteps);
        std::size_t same = 0, prefix = 0;
        for (std::size_t i = 0; i < f32.size() && i < stored.size(); i++) same += f32[i] == stored[i];
        while (prefix < f32.size() && prefix < stored.size() && f32[prefix] == stored[prefix]) prefix++;
        const double forced = teacher_forced_agreement(f32, kv_type);
        RecordProperty(std::string("free_running_agreement_") + traits(kv_type).name, std::to_string(same));
        RecordProperty(std::string("first_change_") + traits(kv_type).name, std::to_string(prefix));
        RecordProperty(std::string("teacher_forced_agreement_") + traits(kv_type).name, std::to_string(forced));
        if (kv_type != DType::q8_0) {
            EXPECT_GE(static_cast<double>(same), 0.9 * static_cast<double>(f32.size())) << same << " of " << f32.size();
        }
        EXPECT_GE(forced, 0.9) << "first change at token " << prefix;
        EXPECT_EQ(stored, greedy_tokens("naive", kv_type, kSteps));
    }
}

TEST(Forward, RefusesACacheTypeItCannotHoldOrRead) {
    Config c = *find_shape("stories260K");
    c.n_layers = 1;
    const Checkpoint ck = synthetic_checkpoint(c, 3, "synthetic");
    ExecContext ctx(1);
    try {
        Transformer model(ck, resolve_variant("simd"), ctx, CacheShape{1, 0, DType::f16});
        ADD_FAILURE() << "attention.simd took an f16 cache";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("attention.simd reads only an f32 KV cache, not f16"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("attention.flash"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Transformer(ck, resolve_variant("naive"), ctx, CacheShape{1, 0, DType::q4_0}), std::invalid_argument);
    c.n_kv_heads = 2;  // rows of 16 keys: not a q8_0 block
    const Checkpoint narrow = synthetic_checkpoint(c, 3, "synthetic");
    EXPECT_THROW(Transformer(narrow, resolve_variant("naive"), ctx, CacheShape{1, 0, DType::q8_0}), std::invalid_argument);
    EXPECT_NO_THROW(Transformer(narrow, resolve_variant("naive"), ctx, CacheShape{1, 0, DType::f16}));
}

TEST(KvType, NamesParseBothWaysAndUnknownOnesAreRefused) {
    for (const DType t : kKvTypes) EXPECT_EQ(parse_kv_type(kv_type_name(t)), t);
    EXPECT_EQ(parse_kv_type("Q8_0"), DType::q8_0);
    try {
        parse_kv_type("q4_0");
        ADD_FAILURE() << "q4_0 parsed";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "unknown KV cache type 'q4_0' (known: f32, f16, bf16, q8_0)");
    }
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

// Layer 0's queries and keys before and after RoPE, copied as the forward pass announces them.
class RopeCapture : public Observer {
public:
    void after(Stage s, int layer, int, Tensor out) override {
        if (layer != 0) return;
        std::vector<float>* dst = s == Stage::q ? &q : s == Stage::q_rope ? &q_rope : s == Stage::k ? &k : s == Stage::k_rope ? &k_rope : nullptr;
        if (dst != nullptr) dst->assign(out.data, out.data + static_cast<std::ptrdiff_t>(out.rows) * out.cols);
    }
    std::vector<float> q, q_rope, k, k_rope;
};

// Llama 3.1's frequency scaling in double precision, from its definition (factor 32, low 1, high 4, 8192 original
// positions as Llama 3.2 ships): pair i's frequency theta^(-2i/hs), kept above 4/8192 turns a position, divided by
// 32 below 1/8192, blended between.
double llama31_frequency(int i, int head_size, double theta) {
    const double freq = std::pow(theta, -2.0 * i / head_size);
    const double wavelength = 2 * M_PI / freq;
    if (wavelength < 8192 / 4.0) return freq;
    if (wavelength > 8192 / 1.0) return freq / 32;
    const double smooth = (8192 / wavelength - 1) / (4 - 1);
    return (1 - smooth) * freq / 32 + smooth * freq;
}

// Positions past Llama 3's 8192 original ones, to the end of a 32k context: each pair of every head turns by
// position x its scaled frequency. The bound is what fp32 angles allow (the angle rounded to a float, about
// |angle| x 2^-22 with the frequency's own rounding); a missing factor, a wrong position or a wrong pair would
// be off by orders more.
TEST(Forward, RopePastTheOriginalContextFollowsLlama31Scaling) {
    Config c = *find_shape("stories260K");
    c.n_layers = 1;
    c.dim = 128;
    c.hidden_dim = 256;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.seq_len = 32768;
    c.shared_classifier = false;
    c.rope_theta = 500000.0f;
    c.rope_freq_factors = llama3_rope_factors(c.head_size(), c.rope_theta, {32.0f, 1.0f, 4.0f, 8192});
    const Checkpoint ck = synthetic_checkpoint(c, 9, "llama3-rope");
    ExecContext ctx(1);
    RopeCapture seen;
    ctx.observer = &seen;
    Transformer model(ck, resolve_variant("naive"), ctx);
    const int hs = c.head_size();
    for (const int pos : {8191, 8192, 12289, 20000, 32767}) {
        const int token = 7;
        model.forward(&token, 1, pos);
        const std::pair<const std::vector<float>*, const std::vector<float>*> rows[] = {{&seen.q, &seen.q_rope}, {&seen.k, &seen.k_rope}};
        for (const auto& [before, after] : rows) {
            ASSERT_EQ(before->size(), after->size());
            ASSERT_FALSE(before->empty());
            for (std::size_t j = 0; j < before->size(); j += 2) {
                const int pair = static_cast<int>(j % static_cast<std::size_t>(hs)) / 2;
                const double angle = pos * llama31_frequency(pair, hs, c.rope_theta);
                const double x0 = (*before)[j], x1 = (*before)[j + 1];
                const double bound = (std::fabs(x0) + std::fabs(x1)) * (angle * 5e-7 + 1e-6);
                EXPECT_NEAR((*after)[j], x0 * std::cos(angle) - x1 * std::sin(angle), bound) << "pos " << pos << " pair " << pair;
                EXPECT_NEAR((*after)[j + 1], x0 * std::sin(angle) + x1 * std::cos(angle), bound) << "pos " << pos << " pair " << pair;
            }
        }
    }
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
