#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <tuple>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/formats/gguf.h"
#include "model/formats/llama2c.h"
#include "model/generate.h"
#include "model/tokenizers/tokenizer.h"
#include "test_util.h"

namespace wb {
namespace {

// Just enough JSON for the encode-case files: strings with escapes, integer arrays.
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

std::vector<int> parse_ids(const std::string& s, std::size_t& i) {
    std::vector<int> ids;
    i = s.find('[', i);
    const std::size_t end = s.find(']', i);
    for (i++; i < end;) {
        std::size_t used = 0;
        ids.push_back(std::stoi(s.substr(i, end - i), &used));
        i = s.find_first_of("0123456789]", i + used);
    }
    return ids;
}

struct Case {
    std::string tokenizer, text;
    std::vector<int> ids;
};

// encode_cases.json: {"tokenizer", "text", "ids_with_bos"} objects.
std::vector<Case> llama2c_cases() {
    const std::string s = test::read_file(test::model_path("encode_cases.json"));
    std::vector<Case> cases;
    for (std::size_t at = s.find("\"tokenizer\""); at != std::string::npos; at = s.find("\"tokenizer\"", at + 1)) {
        Case c;
        std::size_t i = s.find('"', s.find(':', at));
        c.tokenizer = parse_string(s, i);
        i = s.find('"', s.find(':', s.find("\"text\"", i)));
        c.text = parse_string(s, i);
        i = s.find("\"ids_with_bos\"", i);
        c.ids = parse_ids(s, i);
        cases.push_back(c);
    }
    return cases;
}

// llama3_encode_cases.json: {"text", "ids"} objects, no BOS.
std::vector<Case> llama3_cases() {
    const std::string s = test::read_file(test::model_path("llama3_encode_cases.json"));
    std::vector<Case> cases;
    for (std::size_t at = s.find("\"text\""); at != std::string::npos; at = s.find("\"text\"", at + 1)) {
        Case c;
        std::size_t i = s.find('"', s.find(':', at));
        c.text = parse_string(s, i);
        i = s.find("\"ids\"", i);
        c.ids = parse_ids(s, i);
        cases.push_back(c);
    }
    return cases;
}

// What generate prints for ids after the first.
std::string decode_all(const Tokenizer& tok, const std::vector<int>& ids) {
    TextDecoder d(tok);
    std::string out;
    for (std::size_t i = 1; i < ids.size(); i++) out += d.next(ids[i - 1], ids[i]);
    return out + d.finish();
}

// Every token's bytes, in order: what the ids stand for, before any UTF-8 repair.
std::string raw_bytes(const Tokenizer& tok, const std::vector<int>& ids) {
    std::string out;
    for (const int id : ids) out += tok.token_bytes(id);
    return out;
}

int vocab_size_of(const std::string& file) { return file == "tok512.bin" ? 512 : 32000; }

TEST(Tokenizer, EncodeMatchesLlama2cCases) {
    REQUIRE_MODEL("encode_cases.json");
    const std::vector<Case> cases = llama2c_cases();
    ASSERT_GE(cases.size(), 6u);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.tokenizer + ": '" + c.text + "'");
        if (!test::have_model(c.tokenizer)) continue;
        const auto tok = load_llama2c_tokenizer(test::model_path(c.tokenizer), vocab_size_of(c.tokenizer));
        EXPECT_EQ(tok->encode(c.text, true), c.ids);
    }
}

TEST(Tokenizer, DecodeRoundTripsEncode) {
    for (const auto& [file, vocab] : {std::pair{"tokenizer.bin", 32000}, std::pair{"tok512.bin", 512}}) {
        if (!test::have_model(file)) continue;
        const auto tok = load_llama2c_tokenizer(test::model_path(file), vocab);
        for (const std::string text : {"Once upon a time, there was a dog.", "naïve café 🙂 日本語",
                                       "tab\tand\nnewline", "x", "  two leading spaces"}) {
            EXPECT_EQ(decode_all(*tok, tok->encode(text, true)), text) << file;
        }
    }
}

TEST(Tokenizer, CharactersSplitOverByteTokensComeOutWhole) {
    REQUIRE_MODEL("tok512.bin");
    const auto tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    TextDecoder d(*tok);
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

TEST(Tokenizer, Llama2cTokenizersKeepRunCsSpecialsAndStops) {
    REQUIRE_MODEL("tok512.bin");
    const auto tok = load_llama2c_tokenizer(test::model_path("tok512.bin"));
    EXPECT_EQ(tok->vocab_size(), 512);
    EXPECT_EQ(tok->bos(), 1);
    EXPECT_EQ(tok->eos(), 2);
    EXPECT_TRUE(tok->add_bos());
    EXPECT_TRUE(tok->ends_text(1));
    EXPECT_FALSE(tok->ends_text(2));  // run.c generates past EOS and stops at BOS
    EXPECT_TRUE(tok->ends_turn(1));
    EXPECT_TRUE(tok->ends_turn(2));
    EXPECT_FALSE(tok->is_control(1));
    EXPECT_EQ(tok->encode("", true, true), (std::vector<int>{1, 2}));
    EXPECT_EQ(tok->encode("", false), std::vector<int>{});
    EXPECT_EQ(chat_template(*tok), ChatTemplate::llama2);
}

TEST(Tokenizer, RefusesATokenizerOfAnotherModel) {
    REQUIRE_MODEL("tokenizer.bin");
    try {
        load_llama2c_tokenizer(test::model_path("tokenizer.bin"), 512);
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
    EXPECT_THROW(load_llama2c_tokenizer(path, 512), LoadError);
    test::write_file(path, "this is not a tokenizer at all, just text");
    EXPECT_THROW(load_llama2c_tokenizer(path, 512), LoadError);
    EXPECT_THROW(load_llama2c_tokenizer(test::temp_path("missing.bin"), 512), LoadError);
}

// ---- SentencePiece-style vocabularies from a model file ----

TEST(Tokenizer, SentencePieceVocabularyHonoursItsSpecialsAndControlTokens) {
    REQUIRE_MODEL("tok512.bin");
    Vocab v = llama2c::read_tokenizer_vocab(test::model_path("tok512.bin"));
    v.bos = 2;  // ids as the vocabulary says, not llama2.c's
    v.eos = 1;
    const auto tok = make_tokenizer(v, "test");
    EXPECT_EQ(tok->encode("", true, true), (std::vector<int>{2, 1}));
    EXPECT_TRUE(tok->is_control(1));
    EXPECT_TRUE(tok->is_control(2));
    EXPECT_EQ(tok->control_token("<s>"), 1);
    EXPECT_EQ(tok->piece(0, 1), "");  // control tokens print nothing
    EXPECT_TRUE(tok->ends_text(1));
    EXPECT_FALSE(tok->ends_text(2));
    v.add_bos = false;
    EXPECT_FALSE(make_tokenizer(v, "test")->add_bos());
}

TEST(Tokenizer, SentencePieceVocabularyWithoutByteTokensFallsBackToUnknown) {
    REQUIRE_MODEL("tok512.bin");
    Vocab v = llama2c::read_tokenizer_vocab(test::model_path("tok512.bin"));
    v.tokens[3 + 0xE6] = "<0xE6-gone>";  // the byte 0xE6 has no token now
    v.token_types[3 + 0xE6] = 1;
    const auto tok = make_tokenizer(v, "test");
    const std::vector<int> ids = tok->encode("\xE6", false);
    EXPECT_EQ(ids.back(), 0);  // <unk>
    v.token_types[0] = 1;      // and no unknown token either
    try {
        make_tokenizer(v, "test.gguf");
        ADD_FAILURE() << "accepted a vocabulary with no way to spell byte 0xE6";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("<0xE6>"), std::string::npos) << e.what();
    }
}

// ---- Byte-level BPE on a vocabulary written here ----

// GPT-2's stand-in for a byte, from its definition: printable Latin-1 stands for itself, the rest map to
// U+0100 onwards in byte order.
std::string stand_in(int byte) {
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int cp = byte;
    if (!printable(byte)) {
        cp = 0x100;
        for (int b = 0; b < byte; b++) cp += printable(b) ? 0 : 1;
    }
    if (cp < 0x80) return std::string(1, static_cast<char>(cp));
    return {static_cast<char>(0xC0 | cp >> 6), static_cast<char>(0x80 | (cp & 0x3F))};
}

// 256 byte tokens (id = byte), then the merges' results in order, then four control tokens.
Vocab tiny_bpe(const std::vector<std::string>& merges) {
    Vocab v;
    v.model = "gpt2";
    v.pre = "llama-bpe";
    for (int b = 0; b < 256; b++) v.tokens.push_back(stand_in(b));
    for (const std::string& m : merges) {
        v.merges.push_back(m);
        std::string joined = m;
        joined.erase(joined.find(' '), 1);
        v.tokens.push_back(joined);
    }
    v.token_types.assign(v.tokens.size(), 1);
    for (const char* control : {"<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"}) {
        v.tokens.push_back(control);
        v.token_types.push_back(3);
    }
    v.bos = static_cast<int>(v.tokens.size()) - 4;
    v.eos = v.eot = v.bos + 1;
    return v;
}

int id_in(const Vocab& v, const std::string& token) {
    for (std::size_t i = 0; i < v.tokens.size(); i++) {
        if (v.tokens[i] == token) return static_cast<int>(i);
    }
    return -1;
}

TEST(ByteLevelBpe, MergesApplyInRankOrder) {
    const Vocab ab_first = tiny_bpe({"a b", "b c"});
    EXPECT_EQ(make_tokenizer(ab_first, "t")->encode("abc", false), (std::vector<int>{id_in(ab_first, "ab"), 'c'}));
    const Vocab bc_first = tiny_bpe({"b c", "a b"});
    EXPECT_EQ(make_tokenizer(bc_first, "t")->encode("abc", false), (std::vector<int>{'a', id_in(bc_first, "bc")}));
    // Merges build on merges; a piece that is a token is taken whole.
    const Vocab chain = tiny_bpe({"l l", "h e", "he ll", "hell o", "Ġ w"});
    const auto tok = make_tokenizer(chain, "t");
    EXPECT_EQ(tok->encode("hello", false), std::vector<int>{id_in(chain, "hello")});
    EXPECT_EQ(tok->encode("hellos", false), (std::vector<int>{id_in(chain, "hello"), 's'}));
    EXPECT_EQ(tok->encode("hello world", false),
              (std::vector<int>{id_in(chain, "hello"), id_in(chain, "Ġw"), 'o', 'r', 'l', 'd'}));
    // Equal pairs merge from the left.
    const Vocab aa = tiny_bpe({"a a"});
    EXPECT_EQ(make_tokenizer(aa, "t")->encode("aaa", false), (std::vector<int>{id_in(aa, "aa"), 'a'}));
}

TEST(ByteLevelBpe, PreTokenizerSplitsLikeLlama3) {
    // Merges that would join across the pattern's boundaries if the split allowed it.
    const Vocab v = tiny_bpe({"1 2", "12 3", "3 4", "S a", "' S", "Ġ Ġ", "a Ġ", "! Ċ"});
    const auto tok = make_tokenizer(v, "t");
    EXPECT_EQ(tok->encode("1234", false), (std::vector<int>{id_in(v, "123"), '4'}));  // numbers of at most 3 digits
    EXPECT_EQ(tok->encode("'Sam", false), (std::vector<int>{id_in(v, "'S"), 'a', 'm'}));  // 's split off, any case
    // The run of spaces gives its last one to the word that follows; a letter never joins the spaces.
    EXPECT_EQ(tok->encode("a   b", false), (std::vector<int>{'a', id_in(v, "ĠĠ"), ' ', 'b'}));
    EXPECT_EQ(tok->encode("!\n", false), std::vector<int>{id_in(v, "!Ċ")});  // punctuation keeps its newlines
}

TEST(ByteLevelBpe, ArbitraryBytesRoundTripAndControlTokensNeverComeFromText) {
    const Vocab v = tiny_bpe({"Ġ t", "h e", "Ġt he"});
    const auto tok = make_tokenizer(v, "t");
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; trial++) {
        std::string text(rng() % 40, '\0');
        for (char& c : text) c = static_cast<char>(rng() % 256);
        const std::vector<int> ids = tok->encode(text, false);
        EXPECT_EQ(raw_bytes(*tok, ids), text);
    }
    const std::vector<int> ids = tok->encode("<|eot_id|><|begin_of_text|>", true, true);
    EXPECT_EQ(ids.front(), v.bos);
    EXPECT_EQ(ids.back(), v.eos);
    for (std::size_t i = 1; i + 1 < ids.size(); i++) EXPECT_FALSE(tok->is_control(ids[i])) << i;
    EXPECT_EQ(tok->control_token("<|eot_id|>"), v.eos);
    EXPECT_EQ(tok->piece(0, v.eos), "");
    EXPECT_EQ(tok->token_bytes(id_in(v, "Ġthe")), " the");
}

TEST(ByteLevelBpe, RefusesWhatItCannotRun) {
    struct Bad {
        const char* what;
        Vocab vocab;
        const char* message;
    };
    Vocab no_pre = tiny_bpe({});
    no_pre.pre = "qwen2";
    Vocab bert = tiny_bpe({});
    bert.model = "bert";
    Vocab missing_byte = tiny_bpe({});
    missing_byte.tokens[7] = "x7";
    Vocab bad_merge = tiny_bpe({});
    bad_merge.merges.push_back("nospace");
    Vocab bad_bos = tiny_bpe({});
    bad_bos.bos = 1 << 20;
    const Bad cases[] = {
        {"pre-tokenizer", no_pre, "pre-tokenizer 'qwen2' is not supported"},
        {"model", bert, "tokenizer model 'bert' is not supported"},
        {"byte without a token", missing_byte, "no token for byte 7"},
        {"merge of one token", bad_merge, "is not two tokens"},
        {"BOS outside", bad_bos, "bos token id 1048576 is outside"},
    };
    for (const Bad& b : cases) {
        SCOPED_TRACE(b.what);
        try {
            make_tokenizer(b.vocab, "file.gguf");
            ADD_FAILURE() << "accepted";
        } catch (const LoadError& e) {
            EXPECT_EQ(std::string(e.what()).rfind("file.gguf: ", 0), 0u) << e.what();
            EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
        }
    }
}

TEST(ByteLevelBpe, DecoderJoinsCharactersSplitOverTokens) {
    const auto tok = make_tokenizer(tiny_bpe({}), "t");
    const std::string text = "é🙂\x01";
    const std::vector<int> ids = tok->encode(text, true);
    EXPECT_EQ(ids.size(), 1 + text.size());  // one token a byte
    EXPECT_EQ(decode_all(*tok, ids), "é🙂");  // whole characters; the control byte dropped as llama2.c does
}

TEST(ChatTemplate, HandVocabularyWithHeaderTokensGetsLlama3Turns) {
    const Vocab v = tiny_bpe({});
    const auto tok = make_tokenizer(v, "t");
    ASSERT_EQ(chat_template(*tok), ChatTemplate::llama3);
    const int start = id_in(v, "<|start_header_id|>"), end = id_in(v, "<|end_header_id|>"), eot = v.eot;
    std::vector<int> expected;
    auto ids = [&](std::initializer_list<int> l) { expected.insert(expected.end(), l); };
    auto text = [&](const std::string& s) {
        for (const unsigned char c : s) expected.push_back(c);  // no merges: one token a byte, id = byte
    };
    ids({v.bos, start});
    text("system");
    ids({end});
    text("\n\nBe kind.");
    ids({eot, start});
    text("user");
    ids({end});
    text("\n\nHi");
    ids({eot, start});
    text("assistant");
    ids({end});
    text("\n\n");
    EXPECT_EQ(chat_turn_tokens(*tok, "Be kind.", " Hi\n", true), expected);
    // A later turn closes the reply before it and repeats neither BOS nor the system prompt.
    expected.clear();
    ids({eot, start});
    text("user");
    ids({end});
    text("\n\nMore");
    ids({eot, start});
    text("assistant");
    ids({end});
    text("\n\n");
    EXPECT_EQ(chat_turn_tokens(*tok, "Be kind.", "More", false), expected);
}

// ---- The real vocabularies from GGUF files ----

TEST(Tokenizer, GgufSentencePieceVocabularyEncodesAsItsTokenizerBin) {
    REQUIRE_MODEL("tok512.bin");
    REQUIRE_MODEL("stories260K-f32.gguf");
    const auto bin = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    const auto gguf = open_tokenizer(test::model_path("stories260K-f32.gguf"), 512);
    EXPECT_TRUE(same_tokens(*bin, *gguf));
    EXPECT_TRUE(gguf->is_control(1));
    EXPECT_TRUE(gguf->ends_text(2));  // a model file's vocabulary stops at EOS
    for (const Case& c : llama2c_cases()) {
        if (c.tokenizer == "tok512.bin") {
            EXPECT_EQ(gguf->encode(c.text, true), c.ids) << c.text;
        }
    }
    for (const std::string text : {"Once upon a time, there was a dog.", "naïve café 🙂 日本語", "tab\tand\nnewline", "x",
                                   "  two leading spaces", "<s> is not BOS", ""}) {
        const std::vector<int> ids = bin->encode(text, true);
        EXPECT_EQ(gguf->encode(text, true), ids) << text;
        EXPECT_EQ(decode_all(*gguf, ids), decode_all(*bin, ids)) << text;
    }
    EXPECT_FALSE(same_tokens(*bin, *load_llama2c_tokenizer(test::model_path("tokenizer.bin"))));
}

std::unique_ptr<Tokenizer> llama3() { return open_tokenizer(test::model_path("llama3-vocab.gguf")); }

#define REQUIRE_LLAMA3() REQUIRE_MODEL("llama3-vocab.gguf")

TEST(Llama3, EncodeCasesPass) {
    REQUIRE_LLAMA3();
    if (!test::have_model("llama3_encode_cases.json")) GTEST_SKIP() << "llama3_encode_cases.json missing";
    const auto tok = llama3();
    const std::vector<Case> cases = llama3_cases();
    ASSERT_GE(cases.size(), 8u);
    for (const Case& c : cases) {
        EXPECT_EQ(tok->encode(c.text, false), c.ids) << c.text;
        std::vector<int> with_bos{128000};
        with_bos.insert(with_bos.end(), c.ids.begin(), c.ids.end());
        EXPECT_EQ(tok->encode(c.text, true), with_bos) << c.text;
        EXPECT_EQ(decode_all(*tok, with_bos), c.text);
    }
}

TEST(Llama3, VocabularyAndSpecials) {
    REQUIRE_LLAMA3();
    const auto tok = llama3();
    EXPECT_EQ(tok->vocab_size(), 128256);
    EXPECT_EQ(tok->bos(), 128000);
    EXPECT_EQ(tok->eos(), 128009);
    EXPECT_EQ(tok->eot(), 128009);
    EXPECT_TRUE(tok->add_bos());
    EXPECT_EQ(tok->control_token("<|start_header_id|>"), 128006);
    EXPECT_EQ(tok->control_token("<|end_header_id|>"), 128007);
    EXPECT_TRUE(tok->is_control(128001));
    EXPECT_FALSE(tok->is_control(127999));
    EXPECT_TRUE(tok->ends_turn(128009));
    EXPECT_TRUE(tok->ends_text(128009));
    EXPECT_FALSE(tok->ends_text(128000));
    EXPECT_EQ(tok->piece(128000, 128009), "");  // control tokens print nothing
    EXPECT_EQ(tok->token_bytes(220), " ");
    EXPECT_EQ(tok->token_bytes(198), "\n");
}

TEST(Llama3, EdgeCases) {
    REQUIRE_LLAMA3();
    const auto tok = llama3();
    EXPECT_EQ(tok->encode("", false), std::vector<int>{});
    EXPECT_EQ(tok->encode("", true), std::vector<int>{128000});
    // Numbers go in runs of at most three digits: "123" "456" "7" ('7' is byte token 0x37 - 0x21 = 22).
    EXPECT_EQ(tok->encode("1234567", false), (std::vector<int>{4513, 10961, 22}));
    // Between words, a run of spaces keeps all but the last, which starts the next word ('a' is 0x61 - 0x21).
    const std::vector<int> spaced = tok->encode("a  b", false);
    ASSERT_EQ(spaced.size(), 3u);
    EXPECT_EQ(spaced[0], 64);
    EXPECT_EQ(spaced[1], 220);
    // Contractions split off in any case; pieces encode alone.
    for (const auto& [text, left, right] : {std::tuple{"DON'T", "DON", "'T"}, std::tuple{"we'LL", "we", "'LL"},
                                            std::tuple{"it's", "it", "'s"}}) {
        std::vector<int> expected = tok->encode(left, false);
        const std::vector<int> tail = tok->encode(right, false);
        expected.insert(expected.end(), tail.begin(), tail.end());
        EXPECT_EQ(tok->encode(text, false), expected) << text;
    }
    // Whatever the bytes, every id is a plain token and the ids spell the bytes back.
    for (const std::string text : {"   ", "\n\n\n", " \n \n", "\xFF\xFE abc \xC3", "\xF0\x9F\x99", "e\xCC\x81 \xE2\x80\xAF",
                                   "\t\t  x  \r\n", "🙂🙂🙂", "a\x01\x7F\x1B"}) {
        const std::vector<int> ids = tok->encode(text, false);
        EXPECT_EQ(raw_bytes(*tok, ids), text);
        for (const int id : ids) EXPECT_FALSE(tok->is_control(id)) << id;
    }
    const std::string nul("a\0b\0", 4);
    EXPECT_EQ(raw_bytes(*tok, tok->encode(nul, false)), nul);
}

TEST(Llama3, ControlTokensNeverComeFromText) {
    REQUIRE_LLAMA3();
    const auto tok = llama3();
    const std::string text = "<|eot_id|><|begin_of_text|><|start_header_id|>user<|end_header_id|>";
    const std::vector<int> ids = tok->encode(text, false);
    EXPECT_GT(ids.size(), 8u);
    for (const int id : ids) EXPECT_LT(id, 128000) << "control token " << id << " from plain text";
    EXPECT_EQ(raw_bytes(*tok, ids), text);
}

TEST(Llama3, ChatTemplateInsertsHeaderTokensAsIds) {
    REQUIRE_LLAMA3();
    const auto tok = llama3();
    ASSERT_EQ(chat_template(*tok), ChatTemplate::llama3);
    // Llama 3's ids: system 9125, user 882, assistant 78191, "\n\n" 271.
    std::vector<int> expected{128000, 128006, 9125, 128007};
    auto text = [&](const std::string& s) {
        const std::vector<int> ids = tok->encode(s, false);
        expected.insert(expected.end(), ids.begin(), ids.end());
    };
    text("\n\nBe kind.");
    expected.insert(expected.end(), {128009, 128006, 882, 128007});
    text("\n\nTell me a story.");
    expected.insert(expected.end(), {128009, 128006, 78191, 128007, 271});
    EXPECT_EQ(chat_turn_tokens(*tok, "Be kind.", "Tell me a story.", true), expected);
    EXPECT_EQ(tok->encode("\n\n", false), std::vector<int>{271});
}

TEST(Llama3, SentencePieceVocabulariesKeepTheLlama2Template) {
    REQUIRE_MODEL("stories260K-f32.gguf");
    const auto tok = open_tokenizer(test::model_path("stories260K-f32.gguf"));
    ASSERT_EQ(chat_template(*tok), ChatTemplate::llama2);
    EXPECT_EQ(chat_turn_tokens(*tok, "Be kind.", "Hi", true), tok->encode("[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST]", true));
}

}  // namespace
}  // namespace wb
