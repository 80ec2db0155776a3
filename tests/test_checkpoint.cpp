#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "model/checkpoint.h"
#include "model/generate.h"
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

// The same weights in export.py's v1 layout: 256-byte header, norms first, then the matrices.
std::string to_v1(const Checkpoint& ck) {
    const Config& c = ck.config();
    std::string out(256, '\0');
    const std::uint32_t magic = 0x616b3432;
    const std::int32_t header[8] = {1, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    std::memcpy(out.data(), &magic, 4);
    std::memcpy(out.data() + 4, header, sizeof header);
    out[36] = c.shared_classifier ? 1 : 0;
    auto put = [&](const void* p, std::size_t floats) { out.append(static_cast<const char*>(p), floats * 4); };
    const Weights& w = ck.weights();
    const std::size_t d = c.dim;
    for (const auto& l : w.layers) put(l.rms_att, d);
    for (const auto& l : w.layers) put(l.rms_ffn, d);
    put(w.rms_final, d);
    put(w.token_embedding, d * c.vocab_size);
    for (WeightView LayerWeights::*m : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                                        &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3}) {
        for (const auto& l : w.layers) put((l.*m).data, static_cast<std::size_t>((l.*m).d) * (l.*m).n);
    }
    if (!c.shared_classifier) put(w.classifier.data, d * c.vocab_size);
    return out;
}

constexpr int kQ8Group = 64;

// The same weights in export.py's v2 layout: Q8_0 in groups of 64 along each flattened matrix, scale = max|w| / 127.
std::string to_v2(const Checkpoint& ck) {
    const Config& c = ck.config();
    std::string out(256, '\0');
    const std::uint32_t magic = 0x616b3432;
    const std::int32_t header[8] = {2, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    const std::int32_t group = kQ8Group;
    std::memcpy(out.data(), &magic, 4);
    std::memcpy(out.data() + 4, header, sizeof header);
    out[36] = c.shared_classifier ? 1 : 0;
    out.replace(37, 4, reinterpret_cast<const char*>(&group), 4);
    const Weights& w = ck.weights();
    const std::size_t d = c.dim;
    auto put = [&](const void* p, std::size_t bytes) { out.append(static_cast<const char*>(p), bytes); };
    for (const auto& l : w.layers) put(l.rms_att, d * 4);
    for (const auto& l : w.layers) put(l.rms_ffn, d * 4);
    put(w.rms_final, d * 4);
    auto quantized = [&](const void* data, std::size_t count) {
        std::vector<std::int8_t> q(count);
        std::vector<float> scales(count / kQ8Group);
        const auto* x = static_cast<const float*>(data);
        for (std::size_t g = 0; g < scales.size(); g++) {
            float amax = 0.0f;
            for (std::size_t j = g * kQ8Group; j < (g + 1) * kQ8Group; j++) amax = std::max(amax, std::fabs(x[j]));
            scales[g] = amax / 127.0f;
            for (std::size_t j = g * kQ8Group; j < (g + 1) * kQ8Group; j++) {
                q[j] = static_cast<std::int8_t>(scales[g] > 0.0f ? std::lrintf(x[j] / scales[g]) : 0);
            }
        }
        put(q.data(), q.size());
        put(scales.data(), scales.size() * 4);
    };
    quantized(w.token_embedding, d * c.vocab_size);
    for (WeightView LayerWeights::*m : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                                        &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3}) {
        for (const auto& l : w.layers) quantized((l.*m).data, static_cast<std::size_t>((l.*m).d) * (l.*m).n);
    }
    if (!c.shared_classifier) quantized(w.classifier.data, d * c.vocab_size);
    return out;
}

bool same_floats(const void* a, const void* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

TEST(Checkpoint, LoadsStories260K) {
    REQUIRE_MODEL("stories260K.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const Config& c = ck.config();
    EXPECT_EQ(c.dim, 64);
    EXPECT_EQ(c.hidden_dim, 172);
    EXPECT_EQ(c.n_layers, 5);
    EXPECT_EQ(c.n_heads, 8);
    EXPECT_EQ(c.n_kv_heads, 4);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.seq_len, 512);
    EXPECT_TRUE(c.shared_classifier);
    EXPECT_EQ(ck.weights().classifier.data, ck.weights().token_embedding);
    EXPECT_EQ(ck.weights().layers[0].wk.d, 32);
}

TEST(Checkpoint, SyntheticFileRoundTripsThroughTheLoader) {
    for (const char* shape : {"stories260K", "tinyllama-1.1B"}) {
        Config c = *find_shape(shape);
        c.n_layers = 1;
        c.vocab_size = 300;  // keep the file small; the layout is what is tested
        const std::string path = test::temp_path(std::string(shape) + ".bin");
        write_synthetic(c, 42, path);
        const Checkpoint file = Checkpoint::open(path);
        const Checkpoint mem = synthetic_checkpoint(c, 42, "memory");
        EXPECT_EQ(file.config().summary(), c.summary());
        EXPECT_EQ(file.config().shared_classifier, c.shared_classifier);
        const Weights &a = file.weights(), &b = mem.weights();
        EXPECT_TRUE(same_floats(a.token_embedding, b.token_embedding, static_cast<std::size_t>(c.vocab_size) * c.dim));
        EXPECT_TRUE(same_floats(a.layers[0].w2.data, b.layers[0].w2.data, static_cast<std::size_t>(c.dim) * c.hidden_dim));
        EXPECT_TRUE(same_floats(a.classifier.data, b.classifier.data, static_cast<std::size_t>(c.vocab_size) * c.dim));
        EXPECT_EQ(a.rms_final[0], 1.0f);
        // BOS's classifier row is zero; others are random.
        const float* cls = static_cast<const float*>(a.classifier.data);
        EXPECT_EQ(cls[c.dim], 0.0f);
        EXPECT_NE(cls[0], 0.0f);
        const Checkpoint other = synthetic_checkpoint(c, 43, "other seed");
        EXPECT_FALSE(same_floats(other.weights().layers[0].wq.data, b.layers[0].wq.data, 16));
    }
}

TEST(Checkpoint, Version1GivesTheSameLogitsAsVersion0) {
    REQUIRE_MODEL("stories260K.bin");
    const Checkpoint v0 = Checkpoint::open(test::model_path("stories260K.bin"));
    const Checkpoint v1 = Checkpoint::from_bytes(bytes_of(to_v1(v0)), "v1 copy");
    EXPECT_EQ(v1.version(), 1);
    ExecContext ctx(1);
    Transformer a(v0, resolve_variant("naive"), ctx), b(v1, resolve_variant("naive"), ctx);
    const int tokens[] = {1, 403, 407, 261, 378};
    const float* la = a.forward(tokens, 5, 0);
    const float* lb = b.forward(tokens, 5, 0);
    EXPECT_TRUE(same_floats(la, lb, 512));
}

TEST(Checkpoint, Version2Q8LoadsAndGeneratesLikeTheFp32Model) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint fp32 = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::string bytes = to_v2(fp32);
    const std::string path = test::temp_path("v2.bin");
    test::write_file(path, bytes);
    const Checkpoint q8 = Checkpoint::open(path);
    EXPECT_EQ(q8.version(), 2);
    EXPECT_EQ(q8.config().summary(), fp32.config().summary());
    const WeightView& w2 = q8.weights().layers[4].w2;  // 64 x 172: groups cross rows
    EXPECT_EQ(w2.dtype, DType::q8_v2);
    EXPECT_EQ(w2.group_size, kQ8Group);
    std::vector<float> back(static_cast<std::size_t>(w2.d) * w2.n);
    traits(w2.dtype).dequantize_rows(w2, 0, w2.d, back.data());
    const auto* orig = static_cast<const float*>(fp32.weights().layers[4].w2.data);
    float amax = 0, err = 0;
    for (std::size_t i = 0; i < back.size(); i++) {
        amax = std::max(amax, std::fabs(orig[i]));
        err = std::max(err, std::fabs(back[i] - orig[i]));
    }
    EXPECT_LE(err, amax / 127.0f);  // at most one quantisation step of the largest group
    EXPECT_GT(err, 0.0f);
    // Every variant runs on it; the story starts the same as the fp32 one.
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), 512);
    for (const char* variant : {"naive", "simd", "q8"}) {
        ExecContext ctx(1);
        Transformer model(q8, resolve_variant(variant), ctx);
        Sampler greedy(512, 0.0f, 0.9f, 1);
        std::string text;
        generate(model, *tok, greedy, "", 40, [&](std::string_view s) { text += s; });
        EXPECT_EQ(text.substr(0, 30), test::reference_story().substr(0, 30)) << variant;
    }
    test::write_file(path, bytes.substr(0, bytes.size() - 1));
    EXPECT_THROW(Checkpoint::open(path), LoadError);
}

struct BadFile {
    const char* what;
    std::string (*make)(const std::string& good);
    const char* message;  // a phrase the error must contain
};

std::string patch_i32(std::string s, std::size_t at, std::int32_t v) {
    s.replace(at, 4, reinterpret_cast<const char*>(&v), 4);
    return s;
}

TEST(Checkpoint, RejectsBadFilesWithAMessageNamingTheFile) {
    REQUIRE_MODEL("stories260K.bin");
    const std::string good = test::read_file(test::model_path("stories260K.bin"));
    const BadFile cases[] = {
        {"truncated", [](const std::string& g) { return g.substr(0, g.size() - 4); }, "truncated checkpoint"},
        {"cut in the header", [](const std::string& g) { return g.substr(0, 20); }, "too small"},
        {"empty", [](const std::string&) { return std::string(); }, "too small"},
        {"oversized", [](const std::string& g) { return g + "junk"; }, "oversized checkpoint"},
        {"foreign", [](const std::string&) { return std::string("\x89PNG\r\n\x1a\n and then some image bytes"); },
         "not a llama2.c checkpoint"},
        {"zero dim", [](const std::string& g) { return patch_i32(g, 0, 0); }, "implausible dim"},
        {"heads do not divide dim", [](const std::string& g) { return patch_i32(g, 12, 7); }, "not a multiple of n_heads"},
        {"kv heads do not divide heads", [](const std::string& g) { return patch_i32(g, 16, 3); }, "n_kv_heads"},
        {"odd head size", [](const std::string& g) { return patch_i32(patch_i32(g, 12, 64), 16, 64); }, "odd"},
        {"unknown version", [](const std::string& g) { return patch_i32(patch_i32(g, 0, 0x616b3432), 4, 9) + std::string(300, '\0'); },
         "unknown checkpoint version 9"},
    };
    for (const BadFile& bad : cases) {
        SCOPED_TRACE(bad.what);
        const std::string path = test::temp_path("bad.bin");
        test::write_file(path, bad.make(good));
        try {
            Checkpoint::open(path);
            ADD_FAILURE() << "loaded a bad file";
        } catch (const LoadError& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(path), std::string::npos) << msg;
            EXPECT_NE(msg.find(bad.message), std::string::npos) << msg;
        }
    }
    EXPECT_THROW(Checkpoint::open(test::temp_path("does-not-exist.bin")), LoadError);
}

}  // namespace
}  // namespace wb
