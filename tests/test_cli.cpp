#include <string>
#include <vector>

#include "harness/timing.h"
#include "kernels/isa.h"
#include "variants/variants.h"
#include "test_util.h"

namespace wb {
namespace {

std::vector<std::string> stories(std::vector<std::string> extra) {
    std::vector<std::string> args{test::model_path("stories260K.bin"), "-z", test::model_path("tok512.bin")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

#define REQUIRE_STORIES()                  \
    REQUIRE_MODEL("stories260K.bin");      \
    REQUIRE_MODEL("tok512.bin")

TEST(Generate, GreedyPrintsTheReferenceStory) {
    REQUIRE_STORIES();
    const test::Output r = test::run("generate", stories({"-t", "0", "-n", "200", "--threads", "1"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, test::reference_story() + "\n");
    const auto timing = parse_timing_line(r.err);
    ASSERT_TRUE(timing.has_value()) << r.err;
    EXPECT_EQ(timing->prefill_tokens, 1);
    EXPECT_EQ(timing->decode_tokens, 199);
    EXPECT_GT(timing->decode_tok_s, 0.0);
}

TEST(Generate, RunsOnEveryKvCacheType) {
    REQUIRE_STORIES();
    for (const char* kv : {"f16", "bf16", "q8_0"}) {
        const test::Output r = test::run("generate", stories({"-t", "0", "-n", "64", "--kv-type", kv}));
        ASSERT_EQ(r.exit_code, 0) << kv << ": " << r.err;
        EXPECT_GT(r.out.size(), 40u) << kv;
    }
}

TEST(Generate, APromptFileIsThePrompt) {
    REQUIRE_STORIES();
    const std::string file = test::temp_path("prompt.txt");
    test::write_file(file, "Once upon a time\n");
    const test::Output from_file = test::run("generate", stories({"-t", "0", "-n", "40", "-f", file}));
    const test::Output given = test::run("generate", stories({"-t", "0", "-n", "40", "-i", "Once upon a time"}));
    ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
    EXPECT_EQ(from_file.out, given.out);
    EXPECT_EQ(from_file.out.rfind("Once upon a time", 0), 0u) << from_file.out;
}

TEST(Generate, SeededSamplingPrintsWhatLlama2cPrints) {
    REQUIRE_STORIES();
    const test::Output r = test::run("generate", stories({"-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "200"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Once upon a time, there was a little boy named Timmy.", 0), 0u) << r.out;
    const test::Output again = test::run("generate", stories({"-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "200"}));
    EXPECT_EQ(again.out, r.out);
}

TEST(Generate, PromptIsEchoedAndCountedAsPrefill) {
    REQUIRE_STORIES();
    const test::Output r = test::run("generate", stories({"-t", "0", "-n", "30", "-i", "Once upon a time"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u);
    const auto timing = parse_timing_line(r.err);
    ASSERT_TRUE(timing.has_value());
    EXPECT_EQ(timing->prefill_tokens, 5);  // BOS + 4, as encode_cases.json says for tok512
    EXPECT_EQ(timing->decode_tokens, 30 - 5);
}

TEST(Generate, ChatModeAnswersAndEndsWithItsInput) {
    REQUIRE_STORIES();
    const test::Output r = test::run("generate", stories({"-m", "chat", "-t", "0", "-n", "120", "-y", "Be kind."}),
                                     "Tell me a story.\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("User: Assistant: "), std::string::npos) << r.out;
}

TEST(Generate, ListsVariants) {
    const test::Output r = test::run("generate", {"--list-variants"});
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("naive", 0), 0u);
    EXPECT_NE(r.out.find("matmul.naive"), std::string::npos);
    const test::Output help = test::run("generate", {"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--variant"), std::string::npos);
}

// With no --variant a file's stored types choose the variant, and one stderr line says which and why.
TEST(Generate, TheDefaultVariantFollowsTheFileAndSaysWhy) {
    REQUIRE_MODEL("kq256-q4_k_m.gguf");
    REQUIRE_MODEL("tok512.bin");
    const std::string tok = test::model_path("tok512.bin");
    const test::Output q = test::run("generate", {test::model_path("kq256-q4_k_m.gguf"), "-z", tok, "-n", "4", "-t", "0"});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    // The level the run was given (WORKBENCH_ISA reaches the child too) decides: below AVX2 no kernel runs K types.
    const DType stored[] = {DType::q4_K, DType::q6_K};
    const std::string expected = default_variant_for(stored).variant;
    EXPECT_EQ(expected, default_isa() >= Isa::avx2 ? "tbb-quant" : "tbb");
    EXPECT_NE(q.err.find("generate: variant " + expected + ": "), std::string::npos) << q.err;
    EXPECT_NE(q.err.find("Q4_K, Q6_K"), std::string::npos) << q.err;
    const test::Output named = test::run("generate", {test::model_path("kq256-q4_k_m.gguf"), "-z", tok, "-n", "4",
                                                      "--variant", "naive", "--list-weights"});
    ASSERT_EQ(named.exit_code, 0) << named.err;
    EXPECT_EQ(named.err.find("variant"), std::string::npos) << named.err;  // a named variant needs no reason
    EXPECT_NE(named.out.find("blk.1.attn_v.weight"), std::string::npos) << named.out;
    EXPECT_NE(named.out.find("converted"), std::string::npos) << named.out;  // naive runs Q6_K as F32
}

struct BadRun {
    const char* what;
    std::vector<std::string> args;
    int exit_code;
    const char* message;
};

void expect_one_line_error(const test::Output& r, const BadRun& bad) {
    EXPECT_EQ(r.exit_code, bad.exit_code) << r.err;
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
    EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
}

TEST(Generate, BadInputsGetAOneLineErrorAndNonZeroExit) {
    REQUIRE_STORIES();
    const std::string truncated = test::temp_path("truncated.bin");
    const std::string good = test::read_file(test::model_path("stories260K.bin"));
    test::write_file(truncated, good.substr(0, good.size() / 2));
    std::string long_prompt;
    for (int i = 0; i < 400; i++) long_prompt += "elephant ";
    const std::vector<BadRun> cases = {
        {"missing model", {test::temp_path("none.bin")}, 1, "cannot open checkpoint"},
        {"truncated model", {truncated, "-z", test::model_path("tok512.bin")}, 1, "truncated checkpoint"},
        {"tokenizer of another model", {test::model_path("stories260K.bin"), "-z", test::model_path("tokenizer.bin")}, 1,
         "tokenizer does not match the model"},
        {"prompt longer than the context", stories({"-i", long_prompt}), 1, "longer than the context"},
        {"unknown variant", stories({"--variant", "warp-drive"}), 2, "known: naive"},
        {"tokenizer is a directory", stories({"-z", test::models_dir()}), 1, "not a regular file"},
        {"list with a bad flag", {"--list-variants", "--bogus"}, 2, "unknown option '--bogus'"},
        {"zero threads", stories({"--threads", "0"}), 2, "--threads must be in"},
        {"absurd threads", stories({"--threads", "100000"}), 2, "--threads must be in"},
        {"threads not a number", stories({"--threads", "two"}), 2, "expects a whole number"},
        {"steps not a number", stories({"-n", "1e9x"}), 2, "expects a whole number"},
        {"temperature not a number", stories({"-t", "hot"}), 2, "expects a number"},
        {"unknown flag", stories({"--turbo"}), 2, "unknown option '--turbo'"},
        {"missing value", stories({"-n"}), 2, "-n needs a value"},
        {"bad mode", stories({"-m", "poem"}), 2, "generate or chat"},
        {"no model", {"-t", "0"}, 2, "give one MODEL"},
        {"unknown shape", {"--synthetic", "gpt5"}, 2, "unknown shape 'gpt5'"},
        {"missing prompt file", stories({"-f", test::temp_path("no-prompt.txt")}), 1, "not a readable file"},
        {"prompt given twice", stories({"-i", "a", "-f", test::temp_path("no-prompt.txt")}), 2, "give -i or -f, not both"},
        {"unknown KV cache type", stories({"--kv-type", "q4"}), 2, "--kv-type: unknown KV cache type 'q4'"},
        {"a cache type the attention cannot read", stories({"--variant", "simd", "--kv-type", "q8_0"}), 2,
         "attention.simd reads only an f32 KV cache, not q8_0"},
    };
    for (const BadRun& bad : cases) {
        SCOPED_TRACE(bad.what);
        expect_one_line_error(test::run("generate", bad.args), bad);
    }
}

TEST(Generate, OutOfRangeSamplingSettingsAreReplacedAndSaidSo) {
    REQUIRE_STORIES();
    const test::Output r = test::run("generate", stories({"-t", "-1", "-p", "1.5", "-n", "8"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("using 0 (greedy)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("using 0.9"), std::string::npos) << r.err;
}

// --context N sets the written model's context: -n 0 runs all of it (a synthetic model never samples BOS).
TEST(Synth, ContextSetsTheModelsPositions) {
    REQUIRE_MODEL("tok512.bin");
    const std::string path = test::temp_path("stories260K-1000.bin");
    const test::Output w = test::run("synth", {"--shape", "stories260K", "--context", "1000", "-o", path});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    EXPECT_NE(w.err.find("seq_len=1000"), std::string::npos) << w.err;
    const test::Output g = test::run("generate", {path, "-z", test::model_path("tok512.bin"), "-t", "0", "-n", "0",
                                                  "--kv-type", "q8_0"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const auto timing = parse_timing_line(g.err);
    ASSERT_TRUE(timing.has_value()) << g.err;
    EXPECT_EQ(timing->decode_tokens, 999);
}

TEST(Synth, WritesALoadableFileAndRejectsBadArguments) {
    REQUIRE_MODEL("tokenizer.bin");
    const std::string path = test::temp_path("stories15M.bin");
    const test::Output w = test::run("synth", {"--shape", "stories15M", "--seed", "7", "-o", path});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    const test::Output g = test::run("generate", {path, "-z", test::model_path("tokenizer.bin"), "-t", "0", "-n", "12"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const auto timing = parse_timing_line(g.err);
    ASSERT_TRUE(timing.has_value());
    EXPECT_EQ(timing->decode_tokens, 11);  // BOS is never the argmax, so nothing stops early
    for (const BadRun& bad : std::vector<BadRun>{
             {"unknown shape", {"--shape", "gpt5", "-o", path}, 2, "unknown shape"},
             {"no output", {"--shape", "stories15M"}, 2, "required"},
             {"bad seed", {"--shape", "stories15M", "--seed", "-3", "-o", path}, 2, "--seed must be in"},
             {"no context", {"--shape", "stories15M", "--context", "0", "-o", path}, 2, "--context must be in"},
             {"absurd context", {"--shape", "stories15M", "--context", "99999999", "-o", path}, 2, "--context must be in"},
             {"unwritable", {"--shape", "stories15M", "-o", "/nonexistent-dir/x.bin"}, 1, "cannot create"},
         }) {
        SCOPED_TRACE(bad.what);
        const test::Output r = test::run("synth", bad.args);
        EXPECT_EQ(r.exit_code, bad.exit_code) << r.err;
        EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
    }
}

}  // namespace
}  // namespace wb
