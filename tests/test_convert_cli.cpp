// synth --format gguf and convert on the command line: files that load back, exact fp32 round trips,
// one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/synthetic.h"
#include "model/tokenizers/tokenizer.h"
#include "test_util.h"

namespace wb {
namespace {

struct BadRun {
    const char* what;
    std::vector<std::string> args;
    int exit_code;
    const char* message;
};

void expect_one_line_error(const std::string& program, const BadRun& bad) {
    SCOPED_TRACE(bad.what);
    const test::Output r = test::run(program, bad.args);
    EXPECT_EQ(r.exit_code, bad.exit_code) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
    EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
}

TEST(SynthGguf, EveryTypeWritesAModelThatGenerateRuns) {
    REQUIRE_MODEL("tok512.bin");
    const std::string tok = test::model_path("tok512.bin");
    const test::Output memory = test::run("generate", {"--synthetic", "stories260K", "-z", tok, "-t", "0", "-n", "16"});
    ASSERT_EQ(memory.exit_code, 0) << memory.err;
    for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0"}) {
        SCOPED_TRACE(type);
        const std::string path = test::temp_path(std::string(type) + ".gguf");
        const test::Output w = test::run("synth", {"--shape", "stories260K", "--format", "gguf", "--type", type, "-z", tok, "-o", path});
        ASSERT_EQ(w.exit_code, 0) << w.err;
        EXPECT_NE(w.err.find(std::string("GGUF ") + type), std::string::npos) << w.err;
        const test::Output g = test::run("generate", {path, "-z", tok, "-t", "0", "-n", "16", "--variant", "naive"});
        ASSERT_EQ(g.exit_code, 0) << g.err;
        if (std::string(type) == "f32") {
            EXPECT_EQ(g.out, memory.out);  // the same seed's weights as --synthetic
        }
    }
}

TEST(Convert, BinToGgufToBinIsExactForFp32) {
    REQUIRE_MODEL("tok512.bin");
    const std::string bin = test::temp_path("model.bin"), gguf = test::temp_path("model.gguf"), back = test::temp_path("back.bin");
    ASSERT_EQ(test::run("synth", {"--shape", "stories260K", "--seed", "3", "-o", bin}).exit_code, 0);
    const test::Output to = test::run("convert", {bin, gguf, "--to", "gguf", "-z", test::model_path("tok512.bin")});
    ASSERT_EQ(to.exit_code, 0) << to.err;
    EXPECT_EQ(Checkpoint::open(gguf).format_name(), "GGUF v3");
    const test::Output from = test::run("convert", {gguf, back, "--to", "llama2c"});
    ASSERT_EQ(from.exit_code, 0) << from.err;
    EXPECT_TRUE(test::read_file(bin) == test::read_file(back)) << "the round trip changed bytes";
}

// stories260K.bin's unused freq_cis tables came from PyTorch; convert recomputes them in C, which can differ
// in the last bit. Everything else comes back byte for byte.
TEST(Convert, StoriesRoundTripsItsWeightsExactly) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const std::string gguf = test::temp_path("stories.gguf"), back = test::temp_path("stories.bin");
    ASSERT_EQ(test::run("convert", {test::model_path("stories260K.bin"), gguf, "--to", "gguf", "-z", test::model_path("tok512.bin")}).exit_code, 0);
    const test::Output story = test::run("generate", {gguf, "-z", test::model_path("tok512.bin"), "-t", "0", "-n", "200"});
    EXPECT_EQ(story.out, test::reference_story() + "\n");
    ASSERT_EQ(test::run("convert", {gguf, back, "--to", "llama2c"}).exit_code, 0);
    const std::string a = test::read_file(test::model_path("stories260K.bin")), b = test::read_file(back);
    ASSERT_EQ(a.size(), b.size());
    const Config c = Checkpoint::open(back).config();
    const std::size_t freq_cis = static_cast<std::size_t>(c.seq_len) * c.head_size() * sizeof(float);
    const std::size_t start = a.size() - freq_cis;  // shared classifier: the tables end the file
    EXPECT_EQ(a.compare(0, start, b, 0, start), 0);
    for (std::size_t at = start; at < a.size(); at += 4) {
        float x, y;
        std::memcpy(&x, a.data() + at, 4);
        std::memcpy(&y, b.data() + at, 4);
        ASSERT_NEAR(x, y, 1e-6f) << "freq_cis float " << (at - start) / 4;
    }
}

TEST(Convert, GgufToQuantisedGgufKeepsItsVocabulary) {
    REQUIRE_MODEL("stories260K-f32.gguf");
    const std::string out = test::temp_path("q8.gguf");
    const test::Output r = test::run("convert", {test::model_path("stories260K-f32.gguf"), out, "--to", "gguf", "--type", "q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Checkpoint in = Checkpoint::open(test::model_path("stories260K-f32.gguf")), q8 = Checkpoint::open(out);
    ASSERT_NE(q8.vocab(), nullptr);
    EXPECT_EQ(q8.vocab()->tokens, in.vocab()->tokens);
    EXPECT_EQ(q8.vocab()->scores, in.vocab()->scores);
    EXPECT_EQ(q8.weights().layers[0].wq.dtype, DType::q8_0);
    EXPECT_EQ(q8.weights().classifier.dtype, DType::q8_0);  // output.weight kept apart, as in the input
}

TEST(SynthGguf, BadArgumentsGetOneLine) {
    REQUIRE_MODEL("tok512.bin");
    const std::string out = test::temp_path("x.gguf"), tok = test::model_path("tok512.bin");
    const std::vector<BadRun> cases = {
        {"unknown format", {"--shape", "stories260K", "--format", "onnx", "-o", out}, 2, "--format expects bin or gguf"},
        {"unknown type", {"--shape", "stories260K", "--format", "gguf", "--type", "q3_k", "-o", out}, 2, "--type expects one of f32"},
        {"type for bin", {"--shape", "stories260K", "--type", "q8_0", "-o", out}, 2, "go with --format gguf"},
        {"llama3 as v0", {"--shape", "llama3.2-1B", "-o", out}, 2, "use --format gguf"},
        {"two vocabularies", {"--shape", "stories260K", "--format", "gguf", "-z", tok, "--vocab", tok, "-o", out}, 2, "not both"},
        {"vocabulary of another size", {"--shape", "stories15M", "--format", "gguf", "-z", tok, "-o", out}, 1,
         "the vocabulary has 512 tokens but the model 32000"},
        {"vocabulary file not GGUF", {"--shape", "stories260K", "--format", "gguf", "--vocab", tok, "-o", out}, 1, "no GGUF magic"},
        {"unwritable", {"--shape", "stories260K", "--format", "gguf", "-z", tok, "-o", "/nonexistent-dir/x.gguf"}, 1, "cannot create"},
    };
    for (const BadRun& bad : cases) expect_one_line_error("synth", bad);
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(Convert, BadArgumentsAndInputsGetOneLine) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const std::string in = test::model_path("stories260K.bin"), out = test::temp_path("out.gguf");
    const std::string llama3 = test::temp_path("llama3.gguf"), truncated = test::temp_path("truncated.gguf");
    Config rope = *find_shape("stories260K");
    rope.n_layers = 1;
    rope.rope_theta = 500000.0f;
    GgufModelOptions options;
    options.vocab = vocab_metadata(llama2c::read_tokenizer_vocab(test::model_path("tok512.bin")));
    FileSink file(llama3);
    write_gguf_model(rope, synthetic_rows(rope, 1), options, file.sink(), llama3);
    file.close();
    const test::Output w = test::run("synth", {"--shape", "stories260K", "--format", "gguf", "-z", test::model_path("tok512.bin"), "-o", truncated});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    test::write_file(truncated, test::read_file(truncated).substr(0, 5000));
    const std::vector<BadRun> cases = {
        {"no --to", {in, out}, 2, "--to gguf or --to llama2c is required"},
        {"bad --to", {in, out, "--to", "onnx"}, 2, "--to expects gguf or llama2c"},
        {"no output", {in, "--to", "gguf"}, 2, "give IN and OUT"},
        {"three paths", {in, out, out, "--to", "gguf"}, 2, "unexpected argument"},
        {"type for llama2c", {in, out, "--to", "llama2c", "--type", "f16"}, 2, "go with --to gguf"},
        {"unknown type", {in, out, "--to", "gguf", "--type", "iq2_xxs"}, 2, "--type expects one of"},
        {"in is out", {in, in, "--to", "gguf"}, 2, "OUT is IN"},
        {"missing input", {test::temp_path("none.bin"), out, "--to", "gguf"}, 1, "cannot open checkpoint"},
        {"truncated GGUF", {truncated, out, "--to", "llama2c"}, 1, "truncated.gguf: "},
        {"llama3 RoPE to llama2c", {llama3, out, "--to", "llama2c"}, 1, "cannot carry this model's RoPE"},
        {"vocabulary of another size", {in, out, "--to", "gguf", "-z", test::model_path("tokenizer.bin")}, 1,
         "the vocabulary has 32000 tokens but the model 512"},
    };
    for (const BadRun& bad : cases) expect_one_line_error("convert", bad);
    EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace wb
