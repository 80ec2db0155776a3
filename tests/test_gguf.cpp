// The GGUF parser: real files (one llama.cpp wrote, a vocabulary-only one) and hand-built bad ones.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/formats/gguf.h"
#include "test_util.h"

namespace wb {
namespace {

using gguf::GgufFile;
using gguf::ValueType;

// GGUF bytes built field by field, to say exactly what a bad file holds.
struct Builder {
    std::string bytes;
    template <class T>
    Builder& raw(T v) {
        bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    Builder& str(const std::string& s) {
        raw<std::uint64_t>(s.size());
        bytes += s;
        return *this;
    }
    Builder& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
        bytes += "GGUF";
        return raw(version).raw(tensors).raw(kvs);
    }
    Builder& kv_u32(const std::string& key, std::uint32_t v) { return str(key).raw<std::uint32_t>(4).raw(v); }
    Builder& kv_str(const std::string& key, const std::string& v) { return str(key).raw<std::uint32_t>(8).str(v); }
    Builder& tensor(const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
        str(name).raw<std::uint32_t>(static_cast<std::uint32_t>(dims.size()));
        for (const std::uint64_t d : dims) raw(d);
        return raw(type).raw(offset);
    }
    Builder& pad_to(std::size_t alignment) {
        bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, '\0');
        return *this;
    }
    Builder& data(std::size_t n) {
        bytes.append(n, '\0');
        return *this;
    }
};

std::string parse_error(const std::string& bytes) {
    std::vector<std::byte> owned(bytes.size());
    if (!bytes.empty()) std::memcpy(owned.data(), bytes.data(), bytes.size());
    try {
        GgufFile::parse(hold_bytes(std::move(owned)), "bad.gguf");
    } catch (const LoadError& e) {
        return e.what();
    }
    return "";
}

GgufFile parse(const std::string& bytes) {
    std::vector<std::byte> owned(bytes.size());
    if (!bytes.empty()) std::memcpy(owned.data(), bytes.data(), bytes.size());
    return GgufFile::parse(hold_bytes(std::move(owned)), "good.gguf");
}

TEST(Gguf, ReadsTheFileLlamaCppWrote) {
    REQUIRE_MODEL("stories260K-f32.gguf");
    const GgufFile f = GgufFile::open(test::model_path("stories260K-f32.gguf"));
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.data_offset() % 32, 0u);
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_int("llama.embedding_length"), 64);
    EXPECT_EQ(f.get_int("llama.feed_forward_length"), 172);
    EXPECT_EQ(f.get_int("llama.block_count"), 5);
    EXPECT_EQ(f.get_int("llama.attention.head_count"), 8);
    EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 4);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon").value()), 1e-5f);
    EXPECT_EQ(f.tensors().size(), 3u + 5u * 9u);  // embedding, final norm, classifier; nine per layer
    const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->dims, (std::vector<std::uint64_t>{64, 512}));  // innermost first: a row is dim wide
    EXPECT_EQ(embd->type, 0u);
    const gguf::TensorInfo* down = f.find_tensor("blk.4.ffn_down.weight");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->dims, (std::vector<std::uint64_t>{172, 64}));
    EXPECT_EQ(f.find_tensor("rope_freqs.weight"), nullptr);

    const Vocab v = gguf::read_vocab(f);
    EXPECT_EQ(v.model, "llama");
    EXPECT_EQ(v.tokens.size(), 512u);
    EXPECT_EQ(v.scores.size(), 512u);
    EXPECT_EQ(v.token_types.size(), 512u);
    EXPECT_EQ(v.tokens[0], "<unk>");
    EXPECT_EQ(v.token_types[0], 2);
    EXPECT_EQ(v.token_types[1], 3);
    EXPECT_EQ(v.bos, 1);
    EXPECT_EQ(v.eos, 2);
    EXPECT_EQ(v.eot, -1);
    EXPECT_TRUE(v.merges.empty());
}

TEST(Gguf, ReadsAVocabularyOnlyFile) {
    REQUIRE_MODEL("llama3-vocab.gguf");
    const GgufFile f = GgufFile::open(test::model_path("llama3-vocab.gguf"));
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.get_float("llama.rope.freq_base"), 500000.0);
    const Vocab v = gguf::read_vocab(test::model_path("llama3-vocab.gguf"));
    EXPECT_EQ(v.model, "gpt2");
    EXPECT_EQ(v.pre, "llama-bpe");
    EXPECT_EQ(v.tokens.size(), 128256u);
    EXPECT_EQ(v.merges.size(), 280147u);
    EXPECT_TRUE(v.scores.empty());
    EXPECT_EQ(v.bos, 128000);
    EXPECT_EQ(v.eos, 128009);
    EXPECT_EQ(v.tokens[static_cast<std::size_t>(v.eot)], "<|eot_id|>");
    EXPECT_TRUE(v.add_bos);
}

TEST(Gguf, ReadsEveryValueTypeAndNestedArrays) {
    Builder b;
    b.header(0, 14);
    b.str("u8").raw<std::uint32_t>(0).raw<std::uint8_t>(200);
    b.str("i8").raw<std::uint32_t>(1).raw<std::int8_t>(-100);
    b.str("u16").raw<std::uint32_t>(2).raw<std::uint16_t>(60000);
    b.str("i16").raw<std::uint32_t>(3).raw<std::int16_t>(-30000);
    b.kv_u32("u32", 4000000000u);
    b.str("i32").raw<std::uint32_t>(5).raw<std::int32_t>(-2000000000);
    b.str("f32").raw<std::uint32_t>(6).raw<float>(0.25f);
    b.str("bool").raw<std::uint32_t>(7).raw<std::uint8_t>(1);
    b.kv_str("string", "h\xC3\xA9llo");
    b.str("u64").raw<std::uint32_t>(10).raw<std::uint64_t>(1ull << 40);
    b.str("i64").raw<std::uint32_t>(11).raw<std::int64_t>(-(1ll << 40));
    b.str("f64").raw<std::uint32_t>(12).raw<double>(-1.5);
    b.str("strings").raw<std::uint32_t>(9).raw<std::uint32_t>(8).raw<std::uint64_t>(2).str("a").str("bc");
    // [[1, 2], [3]] as an array of arrays of i32.
    b.str("nested").raw<std::uint32_t>(9).raw<std::uint32_t>(9).raw<std::uint64_t>(2);
    b.raw<std::uint32_t>(5).raw<std::uint64_t>(2).raw<std::int32_t>(1).raw<std::int32_t>(2);
    b.raw<std::uint32_t>(5).raw<std::uint64_t>(1).raw<std::int32_t>(3);
    const GgufFile f = parse(b.bytes);
    EXPECT_EQ(f.get_int("u8"), 200);
    EXPECT_EQ(f.get_int("i8"), -100);
    EXPECT_EQ(f.get_int("u16"), 60000);
    EXPECT_EQ(f.get_int("i16"), -30000);
    EXPECT_EQ(f.get_int("u32"), 4000000000ll);
    EXPECT_EQ(f.get_int("i32"), -2000000000);
    EXPECT_EQ(f.get_float("f32"), 0.25);
    EXPECT_EQ(f.get_bool("bool"), true);
    EXPECT_EQ(f.get_string("string"), "h\xC3\xA9llo");
    EXPECT_EQ(f.get_int("u64"), 1ll << 40);
    EXPECT_EQ(f.get_int("i64"), -(1ll << 40));
    EXPECT_EQ(f.get_float("f64"), -1.5);
    EXPECT_EQ(f.get_strings("strings"), (std::vector<std::string>{"a", "bc"}));
    const gguf::Value* nested = f.find("nested");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->element, ValueType::array);
    const std::vector<gguf::Value> outer = nested->elements();
    ASSERT_EQ(outer.size(), 2u);
    ASSERT_EQ(outer[0].count, 2u);
    EXPECT_EQ(outer[0].elements()[1].as_int(), 2);
    EXPECT_EQ(outer[1].elements()[0].as_int(), 3);
    EXPECT_EQ(f.get_int("absent"), std::nullopt);
    EXPECT_THROW(f.get_int("string"), LoadError);
    EXPECT_THROW(f.get_string("u32"), LoadError);
    EXPECT_THROW(f.get_strings("nested"), LoadError);
    EXPECT_THROW(f.require_int("absent"), LoadError);
}

TEST(Gguf, DataStartsAtTheAlignmentTheFileNames) {
    Builder b;
    b.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {16}, 0, 0).pad_to(64).data(64);
    const GgufFile f = parse(b.bytes);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.data_offset() % 64, 0u);
    EXPECT_EQ(f.tensor_data(f.tensors()[0]), f.bytes().data + f.data_offset());
}

// Each bad file gives one line naming the file and the fault.
TEST(Gguf, RefusesBadFilesWithOneLine) {
    const auto tensor_file = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset,
                                std::size_t data) {
        Builder b;
        b.header(1, 0).tensor("w", dims, type, offset).pad_to(32).data(data);
        return b.bytes;
    };
    const std::pair<std::string, std::string> cases[] = {
        {"", "no GGUF magic"},
        {"GGML\x03\0\0\0", "no GGUF magic"},
        {Builder().header(0, 0, 1).bytes, "GGUF version 1 is not supported"},
        {Builder().header(0, 0, 4).bytes, "GGUF version 4 is not supported"},
        {Builder().header(0, 0, 0x03000000).bytes, "big-endian"},
        {Builder().header(0, 0).bytes.substr(0, 12), "tensor count at byte 8 needs 8 bytes"},
        {Builder().header(1ull << 40, 0).bytes, "tensor count 1099511627776 cannot fit"},
        {Builder().header(0, ~0ull).bytes, "metadata count 18446744073709551615 cannot fit"},
        {Builder().header(0, 1).raw<std::uint64_t>(~0ull).data(16).bytes, "metadata key at byte 24 claims 18446744073709551615 bytes"},
        {Builder().header(0, 1).str("k").raw<std::uint32_t>(13).data(16).bytes, "metadata 'k': unknown value type 13"},
        {Builder().header(0, 1).str("k").raw<std::uint32_t>(8).raw<std::uint64_t>(1000).data(16).bytes, "string at byte"},
        {Builder().header(0, 1).str("k").raw<std::uint32_t>(9).raw<std::uint32_t>(4).raw<std::uint64_t>(1ull << 62).data(16).bytes,
         "claims 4611686018427387904 u32 elements"},
        {Builder().header(0, 1).str("k").raw<std::uint32_t>(9).raw<std::uint32_t>(99).raw<std::uint64_t>(0).bytes,
         "unknown value type 99"},
        {Builder().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).bytes, "duplicate metadata key 'k'"},
        {Builder().header(0, 1).kv_u32("general.alignment", 48).bytes, "general.alignment 48 is not a power of two"},
        {Builder().header(0, 1).kv_str("general.alignment", "32").bytes, "general.alignment is a string"},
        {tensor_file({4, 0}, 0, 0, 64), "tensor 'w' has an empty dimension"},
        {tensor_file({1ull << 32, 1ull << 32}, 0, 0, 64), "dimensions whose product overflows"},
        {tensor_file({1ull << 31, 1ull << 31}, 0, 0, 64), "runs past the end"},
        {tensor_file({1, 1, 1, 1, 1}, 0, 0, 64), "has 5 dimensions"},
        {tensor_file({16}, 0, 16, 128), "offset 16 is not a multiple of the alignment 32"},
        {tensor_file({16}, 0, 64, 64), "runs past the end"},
        {tensor_file({16}, 0, 0, 32), "runs past the end"},
        {tensor_file({16}, 40, 0, 64), "unknown type id 40"},
        {tensor_file({16}, 1000, 0, 64), "unknown type id 1000"},
        {tensor_file({16}, 8, 0, 64), "not whole Q8_0 blocks of 32"},
        {Builder().header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad_to(32).data(64).bytes,
         "duplicate tensor 'w'"},
    };
    for (const auto& [bytes, expected] : cases) {
        const std::string error = parse_error(bytes);
        EXPECT_NE(error.find("bad.gguf: "), std::string::npos) << error;
        EXPECT_NE(error.find(expected), std::string::npos) << "expected '" << expected << "', got '" << error << "'";
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
}

TEST(Gguf, RefusesInconsistentVocabularies) {
    const auto vocab_error = [](Builder b) {
        try {
            gguf::read_vocab(parse(b.bytes));
        } catch (const LoadError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const auto tokens = [](Builder& b) {
        b.str("tokenizer.ggml.tokens").raw<std::uint32_t>(9).raw<std::uint32_t>(8).raw<std::uint64_t>(2).str("a").str("b");
    };
    Builder none;
    none.header(0, 1).kv_str("tokenizer.ggml.model", "llama");
    EXPECT_NE(vocab_error(none).find("carries no vocabulary"), std::string::npos);
    Builder bos;
    bos.header(0, 3).kv_str("tokenizer.ggml.model", "llama");
    tokens(bos);
    bos.kv_u32("tokenizer.ggml.bos_token_id", 2);
    EXPECT_NE(vocab_error(bos).find("bos_token_id 2 is outside the vocabulary of 2"), std::string::npos);
    Builder scores;
    scores.header(0, 3).kv_str("tokenizer.ggml.model", "llama");
    tokens(scores);
    scores.str("tokenizer.ggml.scores").raw<std::uint32_t>(9).raw<std::uint32_t>(6).raw<std::uint64_t>(1).raw(0.0f);
    EXPECT_NE(vocab_error(scores).find("scores has 1 entries for 2 tokens"), std::string::npos);
}

}  // namespace
}  // namespace wb
