#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include "test_util.h"

namespace wb {
namespace {

// Just enough JSON for encode_cases.json: strings with escapes, integer arrays.
struct Case {
    std::string tokenizer, text;
    std::vector<int> ids;
};

std::string parse_string(const std::string& s, std::size_t& i) {
    std::string out;
    for (i++; s[i] != '"'; i++) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        const char e = s[++i];
        if (e == 'n') out += '\n';
        else if (e == 't') out += '\t';
        else if (e == 'u') {
            std::uint32_t cp = static_cast<std::uint32_t>(std::stoul(s.substr(i + 1, 4), nullptr, 16));
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
                const auto lo = static_cast<std::uint32_t>(std::stoul(s.substr(i + 3, 4), nullptr, 16));
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            if (cp < 0x80) out += static_cast<char>(cp);
            else if (cp < 0x800) out += {static_cast<char>(0xC0 | cp >> 6), static_cast<char>(0x80 | (cp & 0x3F))};
            else if (cp < 0x10000)
                out += {static_cast<char>(0xE0 | cp >> 12), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                        static_cast<char>(0x80 | (cp & 0x3F))};
            else
                out += {static_cast<char>(0xF0 | cp >> 18), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                        static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
        } else out += e;
    }
    i++;
    return out;
}

std::vector<Case> load_cases() {
    const std::string s = test::read_file(test::model_path("encode_cases.json"));
    std::vector<Case> cases;
    for (std::size_t at = s.find("\"tokenizer\""); at != std::string::npos; at = s.find("\"tokenizer\"", at + 1)) {
        Case c;
        std::size_t i = s.find('"', s.find(':', at));
        c.tokenizer = parse_string(s, i);
        i = s.find('"', s.find(':', s.find("\"text\"", i)));
        c.text = parse_string(s, i);
        i = s.find('[', s.find("\"ids_with_bos\"", i));
        const std::size_t end = s.find(']', i);
        for (i++; i < end;) {
            std::size_t used = 0;
            c.ids.push_back(std::stoi(s.substr(i, end - i), &used));
            i = s.find_first_of("0123456789]", i + used);
        }
        cases.push_back(c);
    }
    return cases;
}

TEST(Tokenizer, EncodeMatchesLlama2cCases) {
    REQUIRE_MODEL("encode_cases.json");
    const std::vector<Case> cases = load_cases();
    ASSERT_GE(cases.size(), 6u);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.tokenizer + ": '" + c.text + "'");
        if (!test::have_model(c.tokenizer)) continue;
        const int vocab = c.tokenizer == "tok512.bin" ? 512 : 32000;
        const Tokenizer tok(test::model_path(c.tokenizer), vocab);
        EXPECT_EQ(tok.encode(c.text, true), c.ids);
    }
}

std::string decode_all(const Tokenizer& tok, const std::vector<int>& ids) {
    TextDecoder d(tok);
    std::string out;
    for (std::size_t i = 1; i < ids.size(); i++) out += d.next(ids[i - 1], ids[i]);
    return out + d.finish();
}

TEST(Tokenizer, DecodeRoundTripsEncode) {
    for (const auto& [file, vocab] : {std::pair{"tokenizer.bin", 32000}, std::pair{"tok512.bin", 512}}) {
        if (!test::have_model(file)) continue;
        const Tokenizer tok(test::model_path(file), vocab);
        for (const std::string text : {"Once upon a time, there was a dog.", "naïve café 🙂 日本語",
                                       "tab\tand\nnewline", "x", "  two leading spaces"}) {
            EXPECT_EQ(decode_all(tok, tok.encode(text, true)), text) << file;
        }
    }
}

TEST(Tokenizer, CharactersSplitOverByteTokensComeOutWhole) {
    REQUIRE_MODEL("tok512.bin");
    const Tokenizer tok(test::model_path("tok512.bin"), 512);
    TextDecoder d(tok);
    const std::string smile = "🙂";  // F0 9F 99 82, four byte tokens in a 512-token vocabulary
    std::string out;
    int prev = 1;
    for (const char b : smile) {
        const int id = static_cast<unsigned char>(b) + 3;
        out += d.next(prev, id);
        prev = id;
    }
    EXPECT_EQ(out, smile);
    // A lead byte that never completes becomes one replacement character; control bytes are dropped.
    out = d.next(1, 0xE6 + 3);
    out += d.next(0xE6 + 3, 'a' + 3);
    out += d.next('a' + 3, 0x07 + 3);
    EXPECT_EQ(out, "\xEF\xBF\xBD" "a");
}

TEST(Tokenizer, RefusesATokenizerOfAnotherModel) {
    REQUIRE_MODEL("tokenizer.bin");
    try {
        Tokenizer tok(test::model_path("tokenizer.bin"), 512);
        ADD_FAILURE() << "accepted a 32000-token tokenizer for a 512-token model";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("does not match the model"), std::string::npos) << e.what();
    }
}

TEST(Tokenizer, RefusesTruncatedAndForeignFiles) {
    REQUIRE_MODEL("tok512.bin");
    const std::string good = test::read_file(test::model_path("tok512.bin"));
    const std::string path = test::temp_path("tok.bin");
    test::write_file(path, good.substr(0, good.size() - 3));
    EXPECT_THROW(Tokenizer(path, 512), LoadError);
    test::write_file(path, "this is not a tokenizer at all, just text");
    EXPECT_THROW(Tokenizer(path, 512), LoadError);
    EXPECT_THROW(Tokenizer(test::temp_path("missing.bin"), 512), LoadError);
}

}  // namespace
}  // namespace wb
