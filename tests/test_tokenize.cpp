// The tokenize program: ids on one line, pieces on request, text from an argument, a file or stdin.
#include <algorithm>
#include <string>
#include <vector>

#include "model/tokenizers/tokenizer.h"
#include "test_util.h"

namespace wb {
namespace {

std::string ids_line(const std::vector<int>& ids) {
    std::string line;
    for (const int id : ids) {
        if (!line.empty()) line += ' ';
        line += std::to_string(id);
    }
    return line + "\n";
}

// The bytes a --pieces quote at s[at] stands for: C escapes undone.
std::string unquoted(const std::string& s, std::size_t at) {
    std::string out;
    for (std::size_t i = at + 1; s[i] != '"'; i++) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        const char e = s[++i];
        if (e == 'x') {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
    }
    return out;
}

TEST(Tokenize, GgufConversionAndTokenizerBinGiveTheSameIds) {
    REQUIRE_MODEL("tok512.bin");
    REQUIRE_MODEL("stories260K-f32.gguf");
    const auto reference = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    for (const std::string text : {"Once upon a time", "Hello, world!", "naïve café 🙂", "tab\tand\nnewline\n", "  x",
                                   "<s> and </s>", ""}) {
        SCOPED_TRACE(text);
        const std::string file = test::temp_path("text");
        test::write_file(file, text);
        const test::Output bin = test::run("tokenize", {test::model_path("tok512.bin"), "--file", file});
        const test::Output gguf = test::run("tokenize", {test::model_path("stories260K-f32.gguf"), "--file", file});
        ASSERT_EQ(bin.exit_code, 0) << bin.err;
        ASSERT_EQ(gguf.exit_code, 0) << gguf.err;
        EXPECT_EQ(gguf.out, bin.out);
        EXPECT_EQ(bin.out, ids_line(reference->encode(text, true)));
    }
}

TEST(Tokenize, Llama3IdsAndPieces) {
    REQUIRE_MODEL("llama3-vocab.gguf");
    const std::string vocab = test::model_path("llama3-vocab.gguf");
    const test::Output r = test::run("tokenize", {vocab, "Hello world!"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "128000 9906 1917 0\n");  // llama3_encode_cases.json's ids after BOS
    EXPECT_EQ(test::run("tokenize", {vocab, "Hello world!", "--no-bos"}).out, "9906 1917 0\n");
    const test::Output p = test::run("tokenize", {vocab, "--pieces", "Hello \"q\\\"\n\t"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const std::string expected_start = "128000\t<|begin_of_text|>\n9906\t\"Hello\"\n";
    EXPECT_EQ(p.out.substr(p.out.find('\n') + 1, expected_start.size()), expected_start) << p.out;
    // The pieces, unquoted and unescaped, spell the text back; one line per id.
    std::string spelt;
    std::size_t lines = 0;
    for (std::size_t at = p.out.find('\n') + 1; at < p.out.size(); at = p.out.find('\n', at) + 1) {
        lines++;
        const std::size_t tab = p.out.find('\t', at);
        if (p.out[tab + 1] == '"') spelt += unquoted(p.out, tab + 1);
    }
    EXPECT_EQ(spelt, "Hello \"q\\\"\n\t");
    EXPECT_EQ(lines, static_cast<std::size_t>(std::count(p.out.begin(), p.out.begin() + static_cast<long>(p.out.find('\n')), ' ') + 1));
}

TEST(Tokenize, PiecesShowBytesThatAreNotWholeCharacters) {
    REQUIRE_MODEL("tok512.bin");
    // In a 512-token vocabulary, 日 (E6 97 A5) is three byte tokens (byte b is token b + 3, after tok512's " ",
    // 410); each piece alone is not UTF-8.
    const test::Output r = test::run("tokenize", {test::model_path("tok512.bin"), "--no-bos", "--pieces", "日"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "410 233 154 168\n410\t\" \"\n233\t\"\\xE6\"\n154\t\"\\x97\"\n168\t\"\\xA5\"\n");
}

TEST(Tokenize, FileAndStdinTakeTheTextByteForByte) {
    REQUIRE_MODEL("tok512.bin");
    const std::string tok = test::model_path("tok512.bin");
    const std::string text = "--dash first\n\ttab\n\n";
    const std::string file = test::temp_path("text");
    test::write_file(file, text);
    const test::Output from_file = test::run("tokenize", {tok, "--file", file});
    const test::Output from_stdin = test::run("tokenize", {tok, "--file", "-"}, text);
    const test::Output from_argument = test::run("tokenize", {tok, "--", text});
    ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
    EXPECT_EQ(from_stdin.out, from_file.out);
    EXPECT_EQ(from_argument.out, from_file.out);
    EXPECT_EQ(from_file.out, ids_line(load_llama2c_tokenizer(tok)->encode(text, true)));
    test::write_file(file, "");
    EXPECT_EQ(test::run("tokenize", {tok, "--file", file}).out, "1\n");
    EXPECT_EQ(test::run("tokenize", {tok, "--file", file, "--no-bos"}).out, "\n");
    EXPECT_EQ(test::run("tokenize", {tok, ""}).out, "1\n");
}

TEST(Tokenize, BadInputsGetAOneLineErrorAndNonZeroExit) {
    REQUIRE_MODEL("tok512.bin");
    REQUIRE_MODEL("stories260K.bin");
    const std::string tok = test::model_path("tok512.bin");
    struct Bad {
        const char* what;
        std::vector<std::string> args;
        int exit_code;
        const char* message;
    };
    const Bad cases[] = {
        {"nothing", {}, 2, "give a MODEL_OR_TOKENIZER"},
        {"no text", {tok}, 2, "give one TEXT or --file"},
        {"text and file", {tok, "x", "--file", "-"}, 2, "not both"},
        {"two texts", {tok, "x", "y"}, 2, "unexpected argument 'y'"},
        {"unknown option", {tok, "--bos", "x"}, 2, "unknown option '--bos'"},
        {"file without a value", {tok, "--file"}, 2, "--file needs a value"},
        {"missing tokenizer", {test::temp_path("none.bin"), "x"}, 1, "cannot open tokenizer"},
        {"missing text file", {tok, "--file", test::temp_path("none.txt")}, 1, "cannot open text file"},
        {"a checkpoint", {test::model_path("stories260K.bin"), "x"}, 1, "carries no vocabulary"},
        {"a directory", {test::models_dir(), "x"}, 1, "not a regular file"},
    };
    for (const Bad& b : cases) {
        SCOPED_TRACE(b.what);
        const test::Output r = test::run("tokenize", b.args);
        EXPECT_EQ(r.exit_code, b.exit_code) << r.err;
        EXPECT_EQ(r.out, "");
        ASSERT_FALSE(r.err.empty());
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
        EXPECT_NE(r.err.find(b.message), std::string::npos) << r.err;
    }
    const test::Output help = test::run("tokenize", {"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--pieces"), std::string::npos);
}

}  // namespace
}  // namespace wb
