// Checkpoint formats side by side: GGUF read into the same Checkpoint as llama2.c's .bin, written back
// (synth --format gguf, convert), and refused with one line when it holds what the workbench cannot run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/generate.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "model/transformer.h"
#include "test_util.h"

namespace wb {
namespace {

std::vector<std::byte> bytes_of(const std::string& s) {
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
}

// The bytes a writer puts out, collected in memory.
struct Buffer {
    std::string bytes;
    ByteSink sink() {
        return [this](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); };
    }
};

bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// A vocabulary of n tokens (SentencePiece-style), enough for writing a model of vocabulary n.
Vocab plain_vocab(int n) {
    Vocab v;
    v.model = "llama";
    for (int i = 0; i < n; i++) {
        std::string token = "t";
        token += std::to_string(i);
        v.tokens.push_back(token);
        v.scores.push_back(-static_cast<float>(i));
        v.token_types.push_back(1);
    }
    v.bos = 1;
    v.eos = 2;
    return v;
}

std::vector<float> logits(const Checkpoint& ck, const std::string& variant, const std::vector<int>& tokens) {
    ExecContext ctx(1);
    Transformer model(ck, resolve_variant(variant), ctx);
    std::vector<float> out;
    for (int p = 0; p < static_cast<int>(tokens.size()); p++) {
        const float* l = model.forward(&tokens[static_cast<std::size_t>(p)], 1, p);
        out.insert(out.end(), l, l + ck.config().vocab_size);
    }
    return out;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < want.size(); i++) {
        diff = std::max(diff, static_cast<double>(std::fabs(got[i] - want[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(want[i])));
    }
    return diff / scale;
}

std::vector<int> greedy_tokens(const Checkpoint& ck, const std::string& variant, int steps) {
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(2);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    Transformer model(ck, resolve_variant(variant), ctx);
    Sampler greedy(ck.config().vocab_size, 0.0f, 0.9f, 1);
    return generate(model, *tok, greedy, "", steps, [](std::string_view) {}).tokens;
}

bool fp32_variant(const Kernels& k) { return !k.lossy(); }

TEST(GgufCheckpoint, LlamaCppsStoriesFileHoldsTheBinsModel) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("stories260K-f32.gguf");
    const Checkpoint bin = Checkpoint::open(test::model_path("stories260K.bin"));
    const Checkpoint gguf = Checkpoint::open(test::model_path("stories260K-f32.gguf"));
    EXPECT_EQ(bin.format_name(), "llama2.c v0");
    EXPECT_EQ(gguf.format_name(), "GGUF v3");
    const Config &a = bin.config(), &b = gguf.config();
    EXPECT_EQ(b.summary(), a.summary());
    EXPECT_FALSE(b.shared_classifier);  // llama.cpp's converter writes the shared table again, as output.weight
    EXPECT_EQ(b.rope_theta, 10000.0f);
    EXPECT_EQ(b.rms_eps, 1e-5f);
    EXPECT_TRUE(b.rope_freq_factors.empty());
    for (const TensorSlot& t : llama_tensors(a)) {
        const WeightView x = slot_view(bin.weights(), t), y = slot_view(gguf.weights(), t);
        ASSERT_EQ(y.dtype, DType::f32) << t.gguf_name();
        ASSERT_EQ(y.d, x.d) << t.gguf_name();
        ASSERT_EQ(y.n, x.n) << t.gguf_name();
        EXPECT_TRUE(same_bits(static_cast<const float*>(x.data), static_cast<const float*>(y.data),
                              static_cast<std::size_t>(x.d) * x.n))
            << t.gguf_name();
    }
    EXPECT_TRUE(same_bits(static_cast<const float*>(gguf.weights().classifier.data), bin.weights().token_embedding,
                          static_cast<std::size_t>(a.vocab_size) * a.dim));
    EXPECT_EQ(bin.vocab(), nullptr);
    ASSERT_NE(gguf.vocab(), nullptr);
    EXPECT_EQ(gguf.vocab()->tokens.size(), 512u);
}

// GGUF's llama tensors rotate adjacent pairs, as llama2.c does: no permutation between the two.
TEST(GgufCheckpoint, EveryFp32VariantTellsTheReferenceStory) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("stories260K-f32.gguf");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint bin = Checkpoint::open(test::model_path("stories260K.bin"));
    const Checkpoint gguf = Checkpoint::open(test::model_path("stories260K-f32.gguf"));
    const std::vector<int> reference = greedy_tokens(bin, "naive", 200);
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    std::string text;
    int prev = tok->bos();
    for (std::size_t i = 0; i < reference.size(); i++) {
        text += tok->piece(prev, reference[i]);
        prev = reference[i];
    }
    EXPECT_EQ(text.substr(0, 60), test::reference_story().substr(0, 60));
    int checked = 0;
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        if (!k.available() || !fp32_variant(k)) continue;
        EXPECT_EQ(greedy_tokens(gguf, v.name, 200), reference) << v.name;
        checked++;
    }
    EXPECT_GE(checked, 2);
}

TEST(GgufCheckpoint, TheFormatIsFoundByMagicNotExtension) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("stories260K-f32.gguf");
    const std::string gguf_named_bin = test::temp_path("model.bin"), bin_named_gguf = test::temp_path("model.gguf");
    test::write_file(gguf_named_bin, test::read_file(test::model_path("stories260K-f32.gguf")));
    test::write_file(bin_named_gguf, test::read_file(test::model_path("stories260K.bin")));
    EXPECT_EQ(Checkpoint::open(gguf_named_bin).format(), Format::gguf);
    EXPECT_EQ(Checkpoint::open(bin_named_gguf).format(), Format::llama2c);
}

// A small model of each kind: shared classifier (llama2.c's), separate classifier with Llama 3's RoPE.
std::vector<Config> small_configs() {
    Config shared = *find_shape("stories260K");
    shared.n_layers = 2;
    Config llama3 = shared;
    llama3.shared_classifier = false;
    llama3.dim = 128;
    llama3.hidden_dim = 256;
    llama3.n_heads = 4;
    llama3.n_kv_heads = 2;
    llama3.rope_theta = 500000.0f;
    llama3.rms_eps = 1e-6f;
    llama3.rope_freq_factors = llama3_rope_factors(llama3.head_size(), llama3.rope_theta, {32.0f, 1.0f, 4.0f, 64});
    return {shared, llama3};
}

Checkpoint written_gguf(const Config& c, const GgufModelType& type, std::uint64_t seed, Buffer& file) {
    GgufModelOptions o;
    o.type = type.type;
    o.mixed = type.mixed;
    o.name = "test";
    o.vocab = vocab_metadata(plain_vocab(c.vocab_size));
    write_gguf_model(c, synthetic_rows(c, seed), o, file.sink(), "test.gguf");
    return Checkpoint::from_bytes(bytes_of(file.bytes), "test.gguf");
}

// The synthetic rows as the file holds them: each matrix through its type and back.
RowSource rounded_rows(const Config& c, const GgufModelType& type, std::uint64_t seed) {
    RowSource exact = synthetic_rows(c, seed);
    return [exact, type, c](const TensorSlot& t, std::int64_t row, float* out) {
        exact(t, row, out);
        const DType stored = gguf_tensor_type(t, type, c.n_layers, c.shared_classifier);
        std::vector<std::byte> encoded(row_bytes(stored, t.cols));
        traits(stored).quantize_row(out, encoded.data(), t.cols);
        const WeightView one{encoded.data(), nullptr, 1, static_cast<int>(t.cols), stored};
        traits(stored).dequantize_rows(one, 0, 1, out);
    };
}

TEST(GgufWrite, EveryTypeLoadsBackWithTheLogitsOfItsValues) {
    const std::vector<int> tokens{1, 7, 300, 42, 5};
    // Distance from the unrounded model's logits each type may add.
    const std::pair<const char*, double> bounds[] = {{"f32", 0.0},   {"f16", 2e-3},  {"bf16", 1e-2},  {"q8_0", 5e-2},
                                                     {"q4_0", 0.4},  {"q4_k", 0.4},  {"q5_k", 0.2},   {"q6_k", 0.1},
                                                     {"q4_k_m", 0.4}, {"q5_k_m", 0.2}};
    for (const Config& c : small_configs()) {
        const Checkpoint memory = synthetic_checkpoint(c, 5, "memory");
        const std::vector<float> exact = logits(memory, "naive", tokens);
        for (const auto& [name, bound] : bounds) {
            SCOPED_TRACE(std::string(name) + " " + c.summary());
            const GgufModelType* type = find_gguf_model_type(name);
            ASSERT_NE(type, nullptr);
            Buffer file;
            const Checkpoint loaded = written_gguf(c, *type, 5, file);
            EXPECT_EQ(loaded.config().summary(), c.summary());
            EXPECT_EQ(loaded.config().rope_freq_factors, c.rope_freq_factors);
            for (const TensorSlot& t : llama_tensors(c)) {
                if (t.is_norm() || t.role == Role::embedding) continue;
                EXPECT_EQ(slot_view(loaded.weights(), t).dtype, gguf_tensor_type(t, *type, c.n_layers, c.shared_classifier)) << t.gguf_name();
            }
            const std::vector<float> got = logits(loaded, "naive", tokens);
            const Checkpoint rounded = checkpoint_from_rows(c, rounded_rows(c, *type, 5), "rounded");
            EXPECT_EQ(got, logits(rounded, "naive", tokens));  // the file holds exactly the rounded values
            std::printf("%s %s: logits within %.2g of the unrounded model's\n", name, c.summary().c_str(), relative_error(got, exact));
            EXPECT_LE(relative_error(got, exact), bound);
            if (type->type == DType::f32) {
                EXPECT_EQ(got, exact);
            }
        }
    }
}

TEST(GgufWrite, MatricesWhoseRowsAreNotWholeBlocksFallBackToF16) {
    const Config c = small_configs()[0];  // hidden 172: ffn_down rows are 172 wide
    Buffer file;
    const Checkpoint loaded = written_gguf(c, *find_gguf_model_type("q8_0"), 1, file);
    EXPECT_EQ(loaded.weights().layers[0].w2.dtype, DType::f16);
    EXPECT_EQ(loaded.weights().layers[0].w1.dtype, DType::q8_0);
    EXPECT_EQ(loaded.weights().classifier.dtype, DType::q8_0);  // the shared embedding, as stored
}

TEST(GgufWrite, TheFileCarriesWhatLlamaCppReads) {
    Config c = small_configs()[1];
    Buffer file;
    written_gguf(c, *find_gguf_model_type("q4_0"), 1, file);
    const gguf::GgufFile f = gguf::GgufFile::parse(hold_bytes(bytes_of(file.bytes)), "test.gguf");
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_int("general.file_type"), 2);
    EXPECT_EQ(f.get_int("general.alignment"), 32);
    EXPECT_EQ(f.get_int("llama.rope.dimension_count"), c.head_size());
    EXPECT_EQ(f.get_float("llama.rope.freq_base"), 500000.0);
    EXPECT_FLOAT_EQ(static_cast<float>(*f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-6f);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
    ASSERT_NE(f.find_tensor("output.weight"), nullptr);
    ASSERT_NE(f.find_tensor("rope_freqs.weight"), nullptr);
    EXPECT_EQ(f.find_tensor("rope_freqs.weight")->dims, std::vector<std::uint64_t>{static_cast<std::uint64_t>(c.head_size() / 2)});
    EXPECT_EQ(f.find_tensor("blk.1.ffn_down.weight")->dims,
              (std::vector<std::uint64_t>{static_cast<std::uint64_t>(c.hidden_dim), static_cast<std::uint64_t>(c.dim)}));
    EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, 0u);  // norms stay F32
    EXPECT_EQ(f.find_tensor("token_embd.weight")->type, 2u);       // Q4_0
    for (const gguf::TensorInfo& t : f.tensors()) EXPECT_EQ((f.data_offset() + t.offset) % 32, 0u) << t.name;
}

TEST(GgufWrite, TokenizerKeysOfAnotherFileAreCopiedAsTheyAre) {
    REQUIRE_MODEL("llama3-vocab.gguf");
    const gguf::GgufFile vocab = gguf::GgufFile::open(test::model_path("llama3-vocab.gguf"));
    Config c = small_configs()[1];
    c.vocab_size = 128256;
    c.n_layers = 1;
    c.dim = 64;
    c.hidden_dim = 64;
    c.rope_freq_factors = llama3_rope_factors(c.head_size(), c.rope_theta, {32.0f, 1.0f, 4.0f, 64});
    GgufModelOptions o;
    o.name = "llama3 vocabulary";
    o.type = DType::q8_0;
    o.vocab = tokenizer_metadata(vocab);
    Buffer file;
    write_gguf_model(c, synthetic_rows(c, 1), o, file.sink(), "test.gguf");
    const Checkpoint ck = Checkpoint::from_bytes(bytes_of(file.bytes), "test.gguf");
    ASSERT_NE(ck.vocab(), nullptr);
    const Vocab want = gguf::read_vocab(vocab);
    EXPECT_EQ(ck.vocab()->tokens, want.tokens);
    EXPECT_EQ(ck.vocab()->merges, want.merges);
    EXPECT_EQ(ck.vocab()->pre, "llama-bpe");
    EXPECT_EQ(ck.vocab()->eot, want.eot);
    const gguf::GgufFile f = gguf::GgufFile::parse(hold_bytes(bytes_of(file.bytes)), "test.gguf");
    EXPECT_EQ(f.get_string("tokenizer.chat_template"), vocab.get_string("tokenizer.chat_template"));
}

TEST(GgufWrite, AVocabularyOfAnotherSizeIsRefused) {
    const Config c = small_configs()[0];
    GgufModelOptions o;
    o.vocab = vocab_metadata(plain_vocab(c.vocab_size + 1));
    Buffer file;
    try {
        write_gguf_model(c, synthetic_rows(c, 1), o, file.sink(), "x.gguf");
        ADD_FAILURE() << "wrote a vocabulary of the wrong size";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("x.gguf: the vocabulary has 513 tokens but the model 512"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(file.bytes.empty());
}

TEST(Llama2c, V0CannotCarryLlama3sRope) {
    const Config c = small_configs()[1];
    Buffer file;
    EXPECT_THROW(llama2c::write_v0(c, synthetic_rows(c, 1), file.sink(), "x.bin"), LoadError);
    EXPECT_THROW(write_synthetic(*find_shape("llama3.2-1B"), 1, test::temp_path("l3.bin")), LoadError);
}

// What llama.cpp's GGUF tensors would be, written field by field, to be spoilt one way at a time.
struct TinyModel {
    Config c = small_configs()[0];
    std::string arch = "llama";
    std::vector<gguf::TensorOut> tensors;
    std::function<void(gguf::Metadata&)> extra_keys = [](gguf::Metadata&) {};
    int vocab_tokens = 512;

    TinyModel() {
        c.n_layers = 1;
        for (const TensorSlot& t : llama_tensors(c)) {
            std::vector<std::uint64_t> dims{static_cast<std::uint64_t>(t.cols)};
            if (!t.is_norm()) dims.push_back(static_cast<std::uint64_t>(t.rows));
            tensors.push_back({t.gguf_name(), dims, DType::f32});
        }
    }
    std::string bytes() const {
        gguf::Metadata m;
        m.add_string("general.architecture", arch);
        const std::pair<const char*, int> keys[] = {
            {"embedding_length", c.dim}, {"feed_forward_length", c.hidden_dim}, {"block_count", c.n_layers},
            {"attention.head_count", c.n_heads}, {"attention.head_count_kv", c.n_kv_heads}, {"context_length", c.seq_len}};
        for (const auto& [key, value] : keys) m.add_u32(arch + "." + key, static_cast<std::uint32_t>(value));
        extra_keys(m);
        m.append(vocab_metadata(plain_vocab(vocab_tokens)).keys);
        Buffer out;
        gguf::Writer(m, tensors, "tiny").write(out.sink(), [](std::size_t, std::int64_t, float* row) { row[0] = 1.0f; });
        return out.bytes;
    }
    void drop(const std::string& name) {
        std::erase_if(tensors, [&](const gguf::TensorOut& t) { return t.name == name; });
    }
    gguf::TensorOut& tensor(const std::string& name) {
        for (gguf::TensorOut& t : tensors) {
            if (t.name == name) return t;
        }
        throw std::logic_error(name);
    }
};

std::string load_error(const std::string& bytes) {
    try {
        Checkpoint::from_bytes(bytes_of(bytes), "tiny.gguf");
    } catch (const LoadError& e) {
        return e.what();
    }
    return "";
}

// Sets the type id of a tensor in the file's tensor infos (to one the writer cannot produce).
std::string with_type_id(std::string bytes, const std::string& name, std::uint32_t id) {
    const std::size_t at = bytes.find(name);
    std::uint32_t dims;
    std::memcpy(&dims, bytes.data() + at + name.size(), 4);
    std::memcpy(bytes.data() + at + name.size() + 4 + 8 * dims, &id, 4);
    return bytes;
}

TEST(GgufCheckpoint, RefusesWhatItCannotRunWithOneLine) {
    ASSERT_EQ(load_error(TinyModel().bytes()), "");
    const auto spoilt = [](const std::function<void(TinyModel&)>& spoil) {
        TinyModel m;
        spoil(m);
        return m.bytes();
    };
    const std::pair<std::string, std::string> cases[] = {
        {spoilt([](TinyModel& m) { m.arch = "gpt2"; }), "architecture 'gpt2' is not supported"},
        {spoilt([](TinyModel& m) { m.drop("blk.0.ffn_up.weight"); }), "missing tensor 'blk.0.ffn_up.weight'"},
        {spoilt([](TinyModel& m) { m.drop("token_embd.weight"); }), "missing tensor 'token_embd.weight'"},
        {spoilt([](TinyModel& m) { m.tensor("blk.0.attn_k.weight").dims = {64, 64}; }),
         "tensor 'blk.0.attn_k.weight' has shape [64, 64], expected [64, 32]"},
        {spoilt([](TinyModel& m) { m.tensor("output_norm.weight").dims = {64, 1}; }), "has shape [64, 1], expected [64]"},
        {spoilt([](TinyModel& m) { m.tensors.push_back({"blk.0.attn_q.bias", {64}, DType::f32}); }),
         "tensor 'blk.0.attn_q.bias' is not part of the llama model"},
        {spoilt([](TinyModel& m) { m.vocab_tokens = 500; }), "the vocabulary has 500 tokens but token_embd.weight has 512 rows"},
        {spoilt([](TinyModel& m) { m.extra_keys = [](gguf::Metadata& k) { k.add_u32("llama.rope.dimension_count", 4); }; }),
         "partial RoPE is not supported"},
        {spoilt([](TinyModel& m) { m.extra_keys = [](gguf::Metadata& k) { k.add_string("llama.rope.freq_base", "high"); }; }),
         "llama.rope.freq_base is a string, expected a number"},
        {spoilt([](TinyModel& m) { m.c.n_heads = 5; }), "implausible llama hyperparameters: dim 64 is not a multiple of n_heads 5"},
        {spoilt([](TinyModel& m) { m.tensors.push_back({"rope_freqs.weight", {3}, DType::f32}); }),
         "tensor 'rope_freqs.weight' has shape [3], expected [4]"},
        {with_type_id(TinyModel().bytes(), "blk.0.attn_q.weight", 16), "tensor 'blk.0.attn_q.weight' has type IQ2_XXS"},
        {with_type_id(TinyModel().bytes(), "blk.0.attn_v.weight", 35), "has type TQ2_0, which the workbench cannot read"},
    };
    for (const auto& [bytes, expected] : cases) {
        const std::string error = load_error(bytes);
        EXPECT_EQ(error.rfind("tiny.gguf: ", 0), 0u) << error;
        EXPECT_NE(error.find(expected), std::string::npos) << "expected '" << expected << "', got '" << error << "'";
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
}

TEST(GgufCheckpoint, F16NormsAndEmbeddingAreReadAsFp32) {
    TinyModel m;
    m.tensor("token_embd.weight").type = DType::f16;
    m.tensor("blk.0.attn_norm.weight").type = DType::f16;
    m.tensor("blk.0.attn_q.weight").type = DType::q8_0;
    const Checkpoint ck = Checkpoint::from_bytes(bytes_of(m.bytes()), "tiny.gguf");
    const Weights& w = ck.weights();
    EXPECT_EQ(w.layers[0].rms_att[0], 1.0f);  // every row starts 1, the rest 0
    EXPECT_EQ(w.layers[0].rms_att[1], 0.0f);
    EXPECT_EQ(w.token_embedding[64], 1.0f);
    EXPECT_EQ(w.layers[0].wq.dtype, DType::q8_0);
    EXPECT_EQ(w.classifier.dtype, DType::f16);  // shared: the embedding as stored
}

TEST(Config, Llama31RopeScalingFollowsItsDefinition) {
    const RopeScaling s{32.0f, 1.0f, 4.0f, 8192};
    const std::vector<float> f = llama3_rope_factors(64, 500000.0f, s);
    ASSERT_EQ(f.size(), 32u);
    for (std::size_t i = 0; i < f.size(); i++) {
        const double wavelength = 2 * M_PI * std::pow(500000.0, 2.0 * static_cast<double>(i) / 64);
        if (wavelength < 8192 / 4.0) {
            EXPECT_EQ(f[i], 1.0f) << i;  // high frequencies kept
        } else if (wavelength > 8192 / 1.0) {
            EXPECT_EQ(f[i], 32.0f) << i;  // low ones slowed by the factor
        } else {
            const double smooth = (8192 / wavelength - 1) / (4 - 1);
            EXPECT_NEAR(f[i], 1 / ((1 - smooth) / 32 + smooth), 1e-4) << i;
        }
    }
    EXPECT_EQ(f[0], 1.0f);
    EXPECT_EQ(f[31], 32.0f);
    const Config l3 = *find_shape("llama3.2-1B");
    EXPECT_EQ(l3.rope_theta, 500000.0f);
    EXPECT_EQ(l3.rope_freq_factors, llama3_rope_factors(64, 500000.0f, s));
    EXPECT_EQ(l3.problem(), "");
    EXPECT_FALSE(l3.llama2c_compatible());
    EXPECT_TRUE(find_shape("llama3-8B-layer")->rope_freq_factors.empty());
    EXPECT_FALSE(find_shape("llama3-8B-layer")->shared_classifier);
}

TEST(Forward, RopeThetaFactorsAndEpsilonChangeTheLogits) {
    const Config base = small_configs()[0];
    const std::vector<int> tokens{1, 20, 30};
    const std::vector<float> plain = logits(synthetic_checkpoint(base, 2, "plain"), "naive", tokens);
    Config theta = base, factors = base, eps = base;
    theta.rope_theta = 500000.0f;
    factors.rope_freq_factors.assign(static_cast<std::size_t>(base.head_size() / 2), 4.0f);
    eps.rms_eps = 1e-2f;
    for (const Config& c : {theta, factors, eps}) {
        EXPECT_NE(logits(synthetic_checkpoint(c, 2, "changed"), "naive", tokens), plain) << c.summary();
    }
    // The first position has no rotation: RoPE settings cannot change its logits.
    const int V = base.vocab_size;
    const std::vector<float> rotated = logits(synthetic_checkpoint(factors, 2, "changed"), "naive", tokens);
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + V, rotated.begin()));
}

TEST(MemoryGuard, AQ4KModelDequantisedToFp32DoesNotFitButItsInt8FormDoes) {
    const Config llama7b{4096, 11008, 32, 32, 32, 32000, 4096, false};
    const std::uint64_t matrices = llama7b.matmul_params();
    WeightFootprint q4k;
    q4k.matrices.push_back({DType::q4_K, matrices, matrices / 256 * 144});
    q4k.fp32_bytes = (32000ull * 4096 + 65 * 4096) * 4;
    const MatmulKernel& naive = *find_matmul("matmul.naive");
    const std::uint64_t gib24 = 24ull << 30;
    EXPECT_GT(memory_need(llama7b, q4k, naive).total(), gib24);
    try {
        require_memory("llama-2-7b.Q4_K_M.gguf", llama7b, q4k, naive, gib24);
        ADD_FAILURE() << "a Q4_K 7B dequantised to fp32 fitted in 24 GiB";
    } catch (const ResourceError& e) {
        EXPECT_NE(std::string(e.what()).find("int8 (Q8_0) form would need"), std::string::npos) << e.what();
    }
    const MatmulKernel* q8 = find_matmul("matmul.q8");
    ASSERT_NE(q8, nullptr);
    if (!q8->available()) GTEST_SKIP() << "matmul.q8 is not available here";
    EXPECT_LT(memory_need(llama7b, q4k, *q8).total(), gib24);
    EXPECT_NO_THROW(require_memory("llama-2-7b.Q4_K_M.gguf", llama7b, q4k, *q8, gib24));
}

TEST(MemoryGuard, CountsACheckpointsStoredTypesAndItsFp32Table) {
    const Config c = small_configs()[0];
    Buffer file;
    const Checkpoint q8 = written_gguf(c, *find_gguf_model_type("q8_0"), 1, file);
    const WeightFootprint f = footprint(q8);
    std::uint64_t q8_elements = 0, f16_elements = 0;
    for (const auto& m : f.matrices) {
        if (m.type == DType::q8_0) q8_elements = m.elements;
        if (m.type == DType::f16) f16_elements = m.elements;
    }
    const std::uint64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    EXPECT_EQ(f16_elements, L * d * h);  // ffn_down: rows of 172 are not whole blocks
    EXPECT_EQ(q8_elements, L * (2 * d * d + 2 * kv * d + 2 * h * d) + V * d);
    EXPECT_EQ(f.fp32_bytes, (V * d + (2 * L + 1) * d) * 4);  // the dequantised embedding table and the norms
    const WeightFootprint fp32 = footprint(synthetic_checkpoint(c, 1, "memory"));
    EXPECT_EQ(fp32.matrices.size(), 1u);
    EXPECT_EQ(fp32.fp32_bytes, fp32_footprint(c).fp32_bytes);
    EXPECT_EQ(fp32.matrices[0].bytes, fp32_footprint(c).matrices[0].bytes);
}

}  // namespace
}  // namespace wb
