// Inputs on which the fuzzers (tests/fuzz) found crashes, kept as tests of the fixes.
#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/tokenizers/tokenizer.h"
#include "test_util.h"

namespace wb {
namespace {

// A tokenizer.bin: max token length, then (score, length, bytes) per piece.
std::string tokenizer_file(const std::vector<std::string>& pieces) {
    std::string out;
    auto put_i32 = [&](std::int32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put_i32(8);
    for (const std::string& p : pieces) {
        const float score = 0.0f;
        out.append(reinterpret_cast<const char*>(&score), sizeof score);
        put_i32(static_cast<std::int32_t>(p.size()));
        out += p;
    }
    return out;
}

std::string decode_bytes(const Tokenizer& tok, const std::string& bytes) {
    TextDecoder decoder(tok);
    std::string out;
    int prev = tok.bos();
    for (const char b : bytes) {
        const int id = static_cast<unsigned char>(b) + 3;  // byte-fallback token
        out += decoder.next(prev, id);
        prev = id;
    }
    return out + decoder.finish();
}

// fuzz_tokenizer_loader: encode's byte fallback (byte b -> token b + 3) read past a 3-token vocabulary.
TEST(FuzzRegressions, TokenizerWithoutByteTokensIsRefused) {
    const std::string path = test::temp_path("three-tokens.bin");
    test::write_file(path, tokenizer_file({"<unk>", "<s>", "</s>"}));
    try {
        load_llama2c_tokenizer(path, 3);
        ADD_FAILURE() << "accepted a tokenizer without byte-fallback tokens";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("fewer than the 259"), std::string::npos) << e.what();
    }
}

// fuzz_tokenizer_text: the decoder passed overlong forms, surrogates and values past U+10FFFF through.
TEST(FuzzRegressions, DecoderReplacesIllFormedUtf8) {
    REQUIRE_MODEL("tok512.bin");
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(decode_bytes(*tok, "\xE0\x9F\x99\x82"), fffd + fffd + fffd + fffd);  // overlong
    EXPECT_EQ(decode_bytes(*tok, "\xED\xA0\x80"), fffd + fffd + fffd);           // surrogate U+D800
    EXPECT_EQ(decode_bytes(*tok, "\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
    EXPECT_EQ(decode_bytes(*tok, "\xF0\x8F\xBF\xBF"), fffd + fffd + fffd + fffd);  // overlong
    for (const std::string valid : {"\xE0\xA0\x80", "\xED\x9F\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
        EXPECT_EQ(decode_bytes(*tok, valid), valid);
    }
}

}  // namespace
}  // namespace wb
