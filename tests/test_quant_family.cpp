// The quant family (each stored type to its own kernel) and the default variant that follows a file's types.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "model/checkpoint.h"
#include "model/formats/llama_layout.h"
#include "model/memory_guard.h"
#include "model/transformer.h"
#include "test_util.h"
#include "variants/variants.h"

namespace wb {
namespace {

// The K-quant rows exist from AVX2 up (none at the scalar level); below them the family converts K types to Q8_0.
bool k_kernels_here(Isa cap = default_isa()) {
    const MatmulKernel* k = find_matmul("matmul.q4_k", cap);
    return k != nullptr && k->available(cap);
}

TEST(QuantFamily, RunsEachStoredTypeInItsOwnKernel) {
    for (const char* name : {"quant", "tbb-quant"}) {
        const Kernels k = resolve_variant(name);
        if (!k.available()) continue;
        EXPECT_TRUE(k.runs_as_stored(DType::q8_0)) << name;
        EXPECT_TRUE(k.runs_as_stored(DType::q4_0)) << name;
        for (const DType t : {DType::q4_K, DType::q5_K, DType::q6_K}) {
            EXPECT_EQ(k.runs_as_stored(t), k_kernels_here()) << name << " " << traits(t).name;
        }
        // Q5_0 is repacked exactly into the Q8_0 panels; types without a kernel are converted to Q8_0.
        EXPECT_TRUE(k.runs_as_stored(DType::q5_0)) << name;
        EXPECT_EQ(k.matmul_for(DType::q5_0).streams, DType::q8_0) << name;
        for (const DType t : {DType::f32, DType::f16, DType::q4_1, DType::q5_1}) {
            EXPECT_FALSE(k.runs_as_stored(t)) << name;
            EXPECT_EQ(k.matmul_for(t).streams, DType::q8_0) << name;
        }
        EXPECT_TRUE(k.lossy());
        EXPECT_GE(k.isa(), k.matmul->isa);
    }
}

// Q8_0, Q5_0 and Q4_0 blocks are an fp16 scale times integer codes: every row streaming Q8_0 or Q4_0 takes the
// ones whose codes fit with every value unchanged, and holds_exactly says which those are.
TEST(QuantFamily, ScaleTimesCodeBlocksRepackExactly) {
    EXPECT_TRUE(holds_exactly(DType::q8_0, DType::q5_0));
    EXPECT_TRUE(holds_exactly(DType::q8_0, DType::q4_0));
    EXPECT_TRUE(holds_exactly(DType::q4_0, DType::q4_0));
    EXPECT_FALSE(holds_exactly(DType::q4_0, DType::q5_0));
    EXPECT_FALSE(holds_exactly(DType::q8_0, DType::q4_1));  // a minimum per block: not scale times code
    EXPECT_FALSE(holds_exactly(DType::f32, DType::f16));     // a conversion of every weight, not a repack
    std::mt19937 rng(7);
    const int d = 40, n = 96;  // a ragged last panel, three blocks a row
    int checked = 0;
    for (const DType stored : {DType::q8_0, DType::q5_0, DType::q4_0}) {
        const TypeTraits& t = traits(stored);
        std::vector<std::uint8_t> bytes(row_bytes(stored, n) * d);
        for (std::uint8_t& b : bytes) b = static_cast<std::uint8_t>(rng());
        for (std::size_t blk = 0; blk < bytes.size(); blk += t.block_bytes) {  // finite scales of either sign
            const std::uint16_t scale = f32_to_fp16(std::uniform_real_distribution<float>(-0.1f, 0.1f)(rng));
            std::memcpy(&bytes[blk], &scale, 2);
        }
        const WeightView view{bytes.data(), nullptr, d, n, stored};
        std::vector<float> want(static_cast<std::size_t>(d) * n), got(want.size());
        t.dequantize_rows(view, 0, d, want.data());
        for (const MatmulKernel* k : matmul_kernels()) {
            if (k->unpack == nullptr || !holds_exactly(k->streams, stored) || !k->available()) continue;
            ExecContext ctx(1);
            const PackedWeight w = k->prepare(view, ctx);
            k->unpack(w, got.data());
            EXPECT_EQ(got, want) << k->name << " at " << isa_name(k->isa) << " on " << t.name;
            checked++;
        }
    }
    if (checked == 0) GTEST_SKIP() << "no Q8_0 or Q4_0 kernel at this level";
}

TEST(QuantFamily, TheDefaultFollowsTheStoredTypes) {
    auto pick = [](std::initializer_list<DType> types, Isa cap = default_isa()) {
        const std::vector<DType> v(types);
        return default_variant_for(v, cap);
    };
    EXPECT_EQ(pick({DType::f32}).variant, default_variant());
    EXPECT_EQ(pick({}).variant, default_variant());
    for (const auto& [type, variant] : {std::pair{DType::bf16, "tbb-bf16"}, std::pair{DType::q8_0, "tbb-q8"},
                                        std::pair{DType::q4_0, "tbb-q4"}}) {
        if (resolve_variant(variant).available()) {
            EXPECT_EQ(pick({type}).variant, variant);
        }
    }
    if (!resolve_variant("tbb-quant").available()) return;
    // Mixed quantised files: only the family runs both as stored.
    EXPECT_EQ(pick({DType::q4_0, DType::q6_K}).variant, "tbb-quant");
    // tbb-q8 holds Q4_0 exactly too, but the family streams each type in its own format.
    EXPECT_EQ(pick({DType::q8_0, DType::q4_0}).variant, "tbb-quant");
    // Q5_0 (llama.cpp's choice for rows not a multiple of 256) is repacked, not converted.
    const DefaultChoice with_q5 = pick({DType::q4_K, DType::q5_0, DType::q6_K});
    EXPECT_EQ(with_q5.variant, "tbb-quant");
    EXPECT_EQ(with_q5.reason.find("Q5_0 as"), std::string::npos) << with_q5.reason;
    const DefaultChoice km = pick({DType::q4_K, DType::q6_K});
    EXPECT_EQ(km.variant, "tbb-quant");
    EXPECT_NE(km.reason.find("Q4_K, Q6_K"), std::string::npos) << km.reason;
    EXPECT_EQ(km.reason.find("as Q8_0") == std::string::npos, k_kernels_here()) << km.reason;
    // F16 has no kernel: the bf16 family converts it, and says so.
    const DefaultChoice f16 = pick({DType::f16});
    EXPECT_EQ(f16.variant, "tbb-bf16");
    EXPECT_NE(f16.reason.find("F16 as BF16"), std::string::npos) << f16.reason;
    // At every level the CPU has: where the K rows exist they run as stored; below them (the scalar level, or a
    // build without them) the default converts K types, and names the conversion.
    for (const Isa cap : {Isa::scalar, Isa::avx2, Isa::avx_vnni, Isa::avx512, Isa::avx512_vnni}) {
        if (!runs_under(cap, default_isa())) continue;
        const DefaultChoice capped = pick({DType::q4_K, DType::q6_K}, cap);
        if (k_kernels_here(cap)) {
            EXPECT_EQ(capped.variant, "tbb-quant") << isa_name(cap);
            EXPECT_EQ(capped.reason.find("as Q8_0"), std::string::npos) << isa_name(cap) << ": " << capped.reason;
        } else {
            EXPECT_NE(capped.reason.find("Q4_K as "), std::string::npos) << isa_name(cap) << ": " << capped.reason;
        }
    }
}

TEST(QuantFamily, TheMemoryGuardCountsEachTypesKernel) {
    const Config c = *find_shape("stories110M");
    WeightFootprint w;
    const std::uint64_t n = c.matmul_params() / 256 * 256;
    w.matrices.push_back({DType::q4_K, n, n / 256 * 144});
    const Kernels quant = resolve_variant("tbb-quant"), tbb = resolve_variant("tbb");
    // As stored, a K-quant panel copy is the stored size again plus its headers; fp32 is 4 bytes a weight.
    EXPECT_LT(memory_need(c, w, quant).weights, memory_need(c, w, tbb).weights);
    EXPECT_GE(memory_need(c, w, tbb).weights, n / 256 * 144 + n * 4);
    EXPECT_NEAR(streamed_bytes_per_weight(w, quant), quant.matmul_for(DType::q4_K).bytes_per_weight(), 1e-6);
}

// A llama.cpp-written file of every K-quant mix: every matrix runs in its stored type, and the logits of a short
// prompt stay within int8 activation rounding of the naive kernel on the same (dequantised) weights.
TEST(QuantFamily, LlamaCppKQuantFilesRunAsStoredNearNaive) {
    if (!k_kernels_here()) GTEST_SKIP() << "no K-quant kernel at this level";
    for (const char* file : {"kq256-q4_k_m.gguf", "kq256-q4_k_s.gguf", "kq256-q5_k_m.gguf", "kq256-q6_k.gguf"}) {
        REQUIRE_MODEL(file);
        const Checkpoint ck = Checkpoint::open(test::model_path(file));
        ExecContext naive_ctx(1);
        Transformer naive(ck, resolve_variant("naive"), naive_ctx);
        const int V = ck.config().vocab_size;
        // Every level with K rows that this CPU runs.
        for (const Isa cap : {Isa::avx2, Isa::avx_vnni, Isa::avx512, Isa::avx512_vnni}) {
            if (!runs_under(cap, default_isa()) || !k_kernels_here(cap)) continue;
            const Kernels quant = resolve_variant("tbb-quant", cap);
            for (const DType t : stored_types(footprint(ck))) {
                EXPECT_TRUE(quant.runs_as_stored(t)) << file << " " << traits(t).name << " at " << isa_name(cap);
            }
            ExecContext ctx(2);
            ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
            Transformer model(ck, quant, ctx);
            for (int pos = 0; pos < 8; pos++) {
                const int token = 1 + 37 * pos % (V - 1);
                const float* ref = naive.forward(&token, 1, pos);
                std::vector<float> expected(ref, ref + V);
                const float* got = model.forward(&token, 1, pos);
                float err = 0, scale = 0;
                for (int i = 0; i < V; i++) {
                    err = std::max(err, std::fabs(got[i] - expected[i]));
                    scale = std::max(scale, std::fabs(expected[i]));
                }
                EXPECT_LT(err, 0.05f * scale) << file << " position " << pos << " at " << isa_name(cap);
            }
        }
    }
}

// Our K-quantiser against llama-quantize on the same fp32 tensors (kq256-f32.gguf and llama.cpp's K files of it):
// the RMS error of every K-quant matrix within 10% of llama.cpp's.
TEST(QuantFamily, KQuantiserErrorIsWithinATenthOfLlamaQuantizes) {
    REQUIRE_MODEL("kq256-f32.gguf");
    const Checkpoint source = Checkpoint::open(test::model_path("kq256-f32.gguf"));
    int compared = 0;
    for (const char* file : {"kq256-q4_k_m.gguf", "kq256-q5_k_m.gguf", "kq256-q6_k.gguf"}) {
        REQUIRE_MODEL(file);
        const Checkpoint theirs = Checkpoint::open(test::model_path(file));
        for (const TensorSlot& t : llama_tensors(source.config())) {
            if (t.is_norm() || t.role == Role::embedding) continue;
            const WeightView w = slot_view(theirs.weights(), t), x = slot_view(source.weights(), t);
            if (traits(w.dtype).block != 256) continue;
            ASSERT_EQ(x.dtype, DType::f32);
            const std::size_t n = static_cast<std::size_t>(w.d) * w.n;
            std::vector<float> want(n), their_values(n), our_values(n);
            traits(DType::f32).dequantize_rows(x, 0, x.d, want.data());
            traits(w.dtype).dequantize_rows(w, 0, w.d, their_values.data());
            std::vector<std::byte> ours(row_bytes(w.dtype, w.n) * w.d);
            for (int r = 0; r < w.d; r++) {
                traits(w.dtype).quantize_row(want.data() + static_cast<std::size_t>(r) * w.n,
                                             ours.data() + row_bytes(w.dtype, w.n) * r, w.n);
            }
            traits(w.dtype).dequantize_rows(WeightView{ours.data(), nullptr, w.d, w.n, w.dtype}, 0, w.d, our_values.data());
            double their_sq = 0, our_sq = 0;
            for (std::size_t i = 0; i < n; i++) {
                their_sq += (their_values[i] - want[i]) * static_cast<double>(their_values[i] - want[i]);
                our_sq += (our_values[i] - want[i]) * static_cast<double>(our_values[i] - want[i]);
            }
            const double their_rms = std::sqrt(their_sq / n), our_rms = std::sqrt(our_sq / n);
            std::printf("%s %s %s: RMS error %.4g, llama-quantize %.4g (%.3fx)\n", file, t.gguf_name().c_str(),
                        traits(w.dtype).name, our_rms, their_rms, our_rms / their_rms);
            EXPECT_LE(our_rms, 1.10 * their_rms) << file << " " << t.gguf_name();
            compared++;
        }
    }
    EXPECT_GT(compared, 0);
}

}  // namespace
}  // namespace wb
