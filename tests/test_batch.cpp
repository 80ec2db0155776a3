// Batches of several sequences: every sequence of a batch gets what it gets alone, for every variant.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "test_util.h"

namespace wb {
namespace {

bool exact_variant(const Kernels& k) { return !k.lossy(); }

// A sequence's greedy run: the logits of each output and the token picked from them.
struct Run {
    std::vector<std::vector<float>> logits;
    std::vector<int> tokens;
};

// The prompt alone in a one-sequence model, then greedy decode until `outputs` tokens are picked.
Run alone(const Checkpoint& ck, const Kernels& k, const std::vector<int>& prompt, int outputs) {
    const int V = ck.config().vocab_size;
    ExecContext ctx(2);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    Transformer model(ck, k, ctx);
    Run run;
    const float* logits = model.forward(prompt.data(), static_cast<int>(prompt.size()), 0);
    for (int i = 0; i < outputs; i++) {
        run.logits.emplace_back(logits, logits + V);
        run.tokens.push_back(argmax(logits, V));
        if (i + 1 < outputs) logits = model.forward(&run.tokens.back(), 1, static_cast<int>(prompt.size()) + i);
    }
    return run;
}

std::vector<int> prompt_of(int length, int seed, int vocab) {
    std::vector<int> p{1};  // BOS
    for (int i = 1; i < length; i++) p.push_back((i * 37 + seed * 101 + 11) % vocab);
    return p;
}

// Eight sequences with prompts of different lengths join a shared model at different steps: step 0 is a batch
// of several prefills larger than one chunk, later steps mix decode rows with prefills (one of them with its
// rows spread between the decode rows), and the last steps decode all eight at once.
struct Schedule {
    std::vector<int> lengths{3, 100, 1, 25, 17, 30, 9, 12};
    std::vector<int> joins{0, 0, 1, 0, 2, 1, 0, 3};
    int steps = 7;
    int spread = 5;  // the sequence whose prompt rows are spread between the decode rows
};

void expect_batch_matches_alone(const Checkpoint& ck, const std::string& variant) {
    const Kernels k = resolve_variant(variant);
    const int V = ck.config().vocab_size;
    const Schedule sch;
    const int B = static_cast<int>(sch.lengths.size());
    std::vector<std::vector<int>> prompts;
    std::vector<Run> expected;
    for (int s = 0; s < B; s++) {
        prompts.push_back(prompt_of(sch.lengths[s], s, V));
        expected.push_back(alone(ck, k, prompts[s], sch.steps - sch.joins[s]));
    }

    ExecContext ctx(2);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    Transformer model(ck, k, ctx, {B, 0});
    std::vector<int> next_pos(B, 0), outputs(B, 0);
    for (int step = 0; step < sch.steps; step++) {
        Batch batch;
        std::vector<int> decoding, joining;
        for (int s = 0; s < B; s++) {
            if (sch.joins[s] < step) decoding.push_back(s);
            if (sch.joins[s] == step) joining.push_back(s);
        }
        auto add_prompt_rows = [&](int s, int from, int to) {
            for (int i = from; i < std::min(to, sch.lengths[s]); i++) batch.add(prompts[s][i], s, i);
        };
        for (const int s : joining) {
            if (s != sch.spread) add_prompt_rows(s, 0, sch.lengths[s]);
        }
        const bool spread = sch.joins[sch.spread] == step;
        const int piece = (sch.lengths[sch.spread] + static_cast<int>(decoding.size())) / (static_cast<int>(decoding.size()) + 1);
        for (std::size_t i = 0; i < decoding.size(); i++) {
            const int s = decoding[i];
            if (spread) add_prompt_rows(sch.spread, static_cast<int>(i) * piece, static_cast<int>(i + 1) * piece);
            batch.add(expected[s].tokens[outputs[s] - 1], s, next_pos[s]);
        }
        if (spread) add_prompt_rows(sch.spread, static_cast<int>(decoding.size()) * piece, sch.lengths[sch.spread]);

        // Outputs come for each sequence's last row, in row order.
        std::map<int, int> last_row;
        for (int r = 0; r < batch.rows(); r++) last_row[batch.seq[r]] = r;
        std::vector<std::pair<int, int>> order;  // (row, sequence)
        for (const auto& [s, r] : last_row) order.emplace_back(r, s);
        std::sort(order.begin(), order.end());

        const float* logits = model.forward(batch);
        for (std::size_t o = 0; o < order.size(); o++) {
            const int s = order[o].second;
            const float* got = logits + o * V;
            const int i = outputs[s]++;
            SCOPED_TRACE(variant + ": sequence " + std::to_string(s) + ", output " + std::to_string(i) + " at step " +
                         std::to_string(step) + " (" + std::to_string(batch.rows()) + " rows)");
            ASSERT_LT(i, static_cast<int>(expected[s].tokens.size()));
            ASSERT_EQ(argmax(got, V), expected[s].tokens[i]);
            if (exact_variant(k)) {
                EXPECT_LE(test::relative_error(got, expected[s].logits[i].data(), V), 1e-5);
            }
            next_pos[s] = batch.pos[order[o].first] + 1;
        }
    }
    for (int s = 0; s < B; s++) EXPECT_EQ(outputs[s], sch.steps - sch.joins[s]) << "sequence " << s;
}

class EveryVariant : public testing::TestWithParam<const char*> {};

TEST_P(EveryVariant, EachSequenceOfAMixedBatchGetsWhatItGetsAlone) {
    REQUIRE_MODEL("stories260K.bin");
    if (!resolve_variant(GetParam()).available()) GTEST_SKIP() << GetParam() << " is not available on this machine";
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    expect_batch_matches_alone(ck, GetParam());
}

std::vector<const char*> variant_names_list() {
    std::vector<const char*> names;
    for (const Variant& v : variants()) names.push_back(v.name);
    return names;
}

INSTANTIATE_TEST_SUITE_P(Batch, EveryVariant, testing::ValuesIn(variant_names_list()),
                         [](const testing::TestParamInfo<const char*>& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

Checkpoint small_synthetic() {
    Config c = *find_shape("stories260K");
    c.n_layers = 2;
    return synthetic_checkpoint(c, 3, "synthetic");
}

// The error a batch is refused with, or "" when it runs.
std::string refusal(Transformer& model, const Batch& b) {
    try {
        model.forward(b);
    } catch (const std::out_of_range& e) {
        return e.what();
    }
    return "";
}

TEST(Batch, RowsPastTheContextOrTheCacheAreRefusedWithOneLine) {
    const Checkpoint ck = small_synthetic();
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant("naive"), ctx, {2, 16});
    EXPECT_EQ(model.sequences(), 2);
    EXPECT_EQ(model.positions(), 16);
    struct Case {
        Batch batch;
        const char* says;
    };
    Batch past_context, past_cache, gap, empty, bad_token;
    for (int p = 10; p < 17; p++) past_context.add(5, 1, p);
    past_cache.add(5, 0, 0);
    past_cache.add(5, 2, 0);
    gap.add(5, 0, 3);
    gap.add(5, 1, 0);
    gap.add(5, 0, 5);
    bad_token.add(ck.config().vocab_size, 0, 0);
    const Case cases[] = {
        {past_context, "position 16 of sequence 1 is outside the context of 16"},
        {past_cache, "sequence 2 is outside the KV cache of 2 sequences"},
        {gap, "its positions must be consecutive"},
        {empty, "at least one row"},
        {bad_token, "outside the vocabulary"},
    };
    for (const Case& c : cases) {
        const std::string why = refusal(model, c.batch);
        EXPECT_NE(why.find(c.says), std::string::npos) << why;
        EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    }
    EXPECT_THROW(Transformer(ck, resolve_variant("naive"), ctx, {1, ck.config().seq_len + 1}), std::invalid_argument);
    EXPECT_THROW(Transformer(ck, resolve_variant("naive"), ctx, {0, 0}), std::invalid_argument);
}

TEST(Batch, ARefusedBatchRunsNothing) {
    const Checkpoint ck = small_synthetic();
    const int V = ck.config().vocab_size;
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant("naive"), ctx, {2, 32}), fresh(ck, resolve_variant("naive"), ctx, {2, 32});
    Batch prompt, refused, step;
    for (int p = 0; p < 6; p++) prompt.add(9 + p, 0, p);
    model.forward(prompt);
    fresh.forward(prompt);
    // Sequence 0's rows would overwrite its cache; sequence 1's last row is past the context.
    for (int p = 0; p < 6; p++) refused.add(7 + 2 * p, 0, p);
    for (int p = 28; p < 33; p++) refused.add(3, 1, p);
    ASSERT_FALSE(refusal(model, refused).empty());
    step.add(4, 0, 6);  // attends to the cache rows the refused batch would have written
    const float* got = model.forward(step);
    const float* want = fresh.forward(step);
    for (int i = 0; i < V; i++) ASSERT_EQ(got[i], want[i]) << i;
}

TEST(Batch, ACopiedPromptDecodesAsItsOwnPrefill) {
    const Checkpoint ck = small_synthetic();
    const int V = ck.config().vocab_size;
    const std::vector<int> prompt = prompt_of(11, 2, V);
    ExecContext ctx(1);
    Transformer shared(ck, resolve_variant("naive"), ctx, {3, 0});
    shared.forward(prompt.data(), static_cast<int>(prompt.size()), 0);
    shared.copy_sequence(0, 1, static_cast<int>(prompt.size()));
    shared.copy_sequence(0, 2, static_cast<int>(prompt.size()));
    Batch step;
    for (int s = 0; s < 3; s++) step.add(20 + s, s, static_cast<int>(prompt.size()));
    const float* logits = shared.forward(step);
    for (int s = 0; s < 3; s++) {
        Transformer one(ck, resolve_variant("naive"), ctx);
        one.forward(prompt.data(), static_cast<int>(prompt.size()), 0);
        const int token = 20 + s;
        const float* want = one.forward(&token, 1, static_cast<int>(prompt.size()));
        for (int i = 0; i < V; i++) ASSERT_EQ(logits[s * V + i], want[i]) << "sequence " << s << " logit " << i;
    }
    EXPECT_THROW(shared.copy_sequence(0, 3, 1), std::out_of_range);
}

TEST(Batch, AllLogitsGivesEveryRowInOrder) {
    const Checkpoint ck = small_synthetic();
    const int V = ck.config().vocab_size;
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant("naive"), ctx, {2, 0});
    Batch b;  // two sequences taking turns
    for (int p = 0; p < 4; p++) {
        b.add(30 + p, 0, p);
        b.add(40 + p, 1, p);
    }
    const float* all = model.forward(b, true);
    const std::vector<float> rows(all, all + 8 * V);
    for (int s = 0; s < 2; s++) {
        Transformer one(ck, resolve_variant("naive"), ctx);
        const std::vector<int> tokens{(s ? 40 : 30), (s ? 41 : 31), (s ? 42 : 32), (s ? 43 : 33)};
        const float* want = one.forward(tokens.data(), 4, 0, true);
        for (int p = 0; p < 4; p++) {
            for (int i = 0; i < V; i++) ASSERT_EQ(rows[(2 * p + s) * V + i], want[p * V + i]) << s << " " << p << " " << i;
        }
    }
}

TEST(Batch, MemoryGuardCountsEverySequencesCache) {
    const Config c = *find_shape("stories110M");
    const MatmulKernel& naive = *resolve_variant("naive").matmul;
    const MemoryNeed one = memory_need(c, naive);
    const MemoryNeed many = memory_need(c, naive, {64, 96});
    const std::uint64_t per_position = static_cast<std::uint64_t>(c.n_layers) * c.kv_dim() * 2 * sizeof(float);
    EXPECT_EQ(one.kv_cache, per_position * c.seq_len);
    EXPECT_EQ(many.kv_cache, per_position * 64 * 96);
    EXPECT_EQ(many.weights, one.weights);
    try {
        require_memory("stories110M", c, naive, one.total() + (1ull << 20), {1024, 1024});
        ADD_FAILURE() << "1024 sequences of 1024 positions fit in one sequence's memory";
    } catch (const ResourceError& e) {
        const std::string why = e.what();
        EXPECT_NE(why.find("for 1024 sequences of 1024 positions"), std::string::npos) << why;
        EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    }
}

// generate --parallel: each continuation is what one run with its seed prints.
std::vector<std::string> continuations(const std::string& out, int n) {
    std::vector<std::string> parts;
    std::size_t at = 0;
    for (int k = 1; k <= n; k++) {
        const std::string header = "--- continuation " + std::to_string(k) + " of " + std::to_string(n) + " (seed ";
        const std::size_t h = out.find(header, at);
        if (h == std::string::npos) return {};
        if (k > 1) parts.push_back(out.substr(at, h - at));
        at = out.find('\n', h) + 1;
    }
    parts.push_back(out.substr(at));
    return parts;
}

std::vector<std::string> stories(std::vector<std::string> extra) {
    std::vector<std::string> args{test::model_path("stories260K.bin"), "-z", test::model_path("tok512.bin")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

TEST(GenerateParallel, GreedyContinuationsEachEqualTheSingleRun) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const test::Output single = test::run("generate", stories({"-t", "0", "-n", "120", "-i", "Lily and Tom"}));
    ASSERT_EQ(single.exit_code, 0) << single.err;
    const test::Output par = test::run("generate", stories({"-t", "0", "-n", "120", "-i", "Lily and Tom", "--parallel", "4"}));
    ASSERT_EQ(par.exit_code, 0) << par.err;
    const std::vector<std::string> parts = continuations(par.out, 4);
    ASSERT_EQ(parts.size(), 4u) << par.out;
    for (const std::string& p : parts) EXPECT_EQ(p, single.out);
    const auto timing = parse_timing_line(par.err);
    const auto single_timing = parse_timing_line(single.err);
    ASSERT_TRUE(timing && single_timing) << par.err;
    EXPECT_EQ(timing->prefill_tokens, single_timing->prefill_tokens);
    EXPECT_EQ(timing->decode_tokens, 4 * single_timing->decode_tokens);
}

TEST(GenerateParallel, SampledContinuationKIsTheRunWithSeedSPlusK) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const std::vector<std::string> common{"-t", "1.0", "-p", "0.9", "-n", "100", "--variant", "naive"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = common;
        a.insert(a.end(), extra.begin(), extra.end());
        return stories(a);
    };
    const test::Output par = test::run("generate", with({"-s", "41", "--parallel", "3"}));
    ASSERT_EQ(par.exit_code, 0) << par.err;
    const std::vector<std::string> parts = continuations(par.out, 3);
    ASSERT_EQ(parts.size(), 3u) << par.out;
    for (int k = 0; k < 3; k++) {
        const test::Output one = test::run("generate", with({"-s", std::to_string(41 + k)}));
        ASSERT_EQ(one.exit_code, 0) << one.err;
        EXPECT_EQ(parts[k], one.out) << "continuation " << k + 1;
    }
    EXPECT_NE(parts[0], parts[1]);  // different seeds, different stories
}

TEST(GenerateParallel, BadUseIsAOneLineError) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--parallel", "0"}, "--parallel must be in"},
             {{"--parallel", "x"}, "whole number"},
             {{"--parallel", "2", "-m", "chat"}, "not chat"},
         }) {
        const test::Output r = test::run("generate", stories(args));
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
}

}  // namespace
}  // namespace wb
