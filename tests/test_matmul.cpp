#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/exec_context.h"
#include "types/kquant_blocks.h"
#include "kernels/registry.h"
#include "types/weight_types.h"
#include "model/generate.h"
#include "test_util.h"

namespace wb {
namespace {

struct Shape {
    int d, n;
};

std::vector<float> random_vector(std::size_t count, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(count);
    for (float& f : v) f = dist(rng);
    return v;
}

// Runs kernel k on W[d x n] and x[m x n]; returns max over outputs of |y - y_naive| / sum_j |w_ij x_j|.
double worst_relative_error(const MatmulKernel& k, const std::vector<float>& W, const std::vector<float>& x, Shape s,
                            int m, int threads) {
    ExecContext ctx(threads);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    const MatmulKernel& naive = *find_matmul("matmul.naive");
    const PackedWeight packed = k.prepare(WeightView{W.data(), nullptr, s.d, s.n}, ctx);
    // A kernel that rounds its weights (4-bit) is measured against naive on the weights it holds.
    std::vector<float> held = W;
    if (k.unpack != nullptr) k.unpack(packed, held.data());
    std::vector<float> want(static_cast<std::size_t>(m) * s.d), got(want.size(), NAN);
    naive.run(naive.prepare(WeightView{held.data(), nullptr, s.d, s.n}, ctx), x.data(), want.data(), m, ctx);
    k.run(packed, x.data(), got.data(), m, ctx);
    double worst = 0;
    for (int r = 0; r < m; r++) {
        for (int i = 0; i < s.d; i++) {
            double scale = 0;
            for (int j = 0; j < s.n; j++) scale += std::fabs(held[static_cast<std::size_t>(i) * s.n + j] * x[static_cast<std::size_t>(r) * s.n + j]);
            const std::size_t at = static_cast<std::size_t>(r) * s.d + i;
            const double err = std::fabs(static_cast<double>(got[at]) - want[at]) / (scale + 1e-30);
            if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
        }
    }
    return worst;
}

// Every row of the name that runs here: one per instruction-set level this CPU has (under WORKBENCH_ISA).
std::vector<const MatmulKernel*> rows_named(std::string_view name) {
    std::vector<const MatmulKernel*> rows;
    for (const MatmulKernel* k : matmul_kernels()) {
        if (name == k->name && k->available()) rows.push_back(k);
    }
    return rows;
}

std::string row_name(const MatmulKernel& k) { return std::string(k.name) + "@" + isa_name(k.isa); }

TEST(ExecContext, ParallelForCoversEveryItemOnceAndRunsSmallWorkInline) {
    for (int threads : {1, 2, 3}) {
        ExecContext ctx(threads);
        for (int items : {0, 1, 2, 7, 1000}) {
            std::vector<int> seen(static_cast<std::size_t>(items), 0);
            ctx.min_parallel_bytes = 0;
            ctx.parallel_for(items, 1.0, [&](int begin, int end, int slot) {
                ASSERT_GE(slot, 0);
                ASSERT_LT(slot, threads);
                for (int i = begin; i < end; i++) seen[static_cast<std::size_t>(i)]++;
            });
            for (int i = 0; i < items; i++) EXPECT_EQ(seen[static_cast<std::size_t>(i)], 1) << items << " items, item " << i;

            // Work below the threshold is one call on the calling thread, slot 0.
            ctx.min_parallel_bytes = 2.0 * items + 1;
            int calls = 0;
            ctx.parallel_for(items, 2.0, [&](int begin, int end, int slot) {
                calls++;
                EXPECT_EQ(begin, 0);
                EXPECT_EQ(end, items);
                EXPECT_EQ(slot, 0);
            });
            EXPECT_EQ(calls, items > 0 ? 1 : 0);
        }
    }
}

TEST(ExecContext, WeightBuffersAreAlignedApartAndOutliveTheContext) {
    std::vector<std::shared_ptr<void>> kept;
    {
        ExecContext ctx(1);
        // Small ones share a chunk, a large one takes a chunk of its own, later small ones a new chunk.
        for (std::size_t bytes : {std::size_t{100}, std::size_t{1} << 20, std::size_t{40} << 20, std::size_t{64}, std::size_t{3}}) {
            kept.push_back(ctx.weight_buffer(bytes));
            auto* p = static_cast<unsigned char*>(kept.back().get());
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
            std::fill(p, p + bytes, static_cast<unsigned char>(kept.size()));
        }
    }
    const std::size_t sizes[] = {100, 1 << 20, 40 << 20, 64, 3};
    for (std::size_t i = 0; i < kept.size(); i++) {  // nothing overwrote another's bytes, nothing was freed
        const auto* p = static_cast<const unsigned char*>(kept[i].get());
        EXPECT_EQ(p[0], i + 1) << i;
        EXPECT_EQ(p[sizes[i] - 1], i + 1) << i;
    }
}

// Every registered row at every level, one test each: a row this CPU cannot run is reported skipped.
class MatmulKernels : public testing::TestWithParam<const MatmulKernel*> {};

TEST_P(MatmulKernels, MatchesNaiveWithinItsTolerance) {
    const MatmulKernel& k = *GetParam();
    if (!k.available()) GTEST_SKIP() << row_name(k) << " is not available on this machine";
    // Ragged on purpose: not multiples of 16 lanes, 32-column strips, 8-row panels, 64-wide groups or
    // bf16's pairs of k; n = 300 takes two depth passes, d = 259 two column blocks.
    const Shape shapes[] = {{1, 1}, {7, 5}, {33, 67}, {100, 129}, {64, 256}, {259, 300}, {40, 1100}};
    for (const Shape s : shapes) {
        const auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 1);
        for (const int m : {1, 3, 5, 6, 8, 12, 17, 64, 128}) {
            const auto x = random_vector(static_cast<std::size_t>(m) * s.n, 2);
            for (const int threads : {1, 2, 3}) {  // 3: row panels in uneven groups
                const double err = worst_relative_error(k, W, x, s, m, threads);
                EXPECT_LE(err, k.tolerance) << row_name(k) << " d=" << s.d << " n=" << s.n << " m=" << m
                                            << " threads=" << threads;
            }
        }
    }
}

std::string matmul_test_name(const testing::TestParamInfo<const MatmulKernel*>& info) {
    std::string name = row_name(*info.param);
    for (char& ch : name) {
        if (ch == '.' || ch == '-' || ch == '@') ch = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Matmul, MatmulKernels, testing::ValuesIn(matmul_kernels()), matmul_test_name);

TEST(Matmul, Q8SurvivesZeroGroupsAndReportsItsError) {
    const Shape s{48, 200};
    auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 3);
    for (int j = 0; j < 64; j++) W[static_cast<std::size_t>(5) * s.n + j] = 0.0f;  // a whole zero group
    for (int j = 0; j < s.n; j++) W[static_cast<std::size_t>(9) * s.n + j] = 0.0f;  // a zero row
    auto x = random_vector(static_cast<std::size_t>(2) * s.n, 4);
    for (int j = 64; j < 128; j++) x[static_cast<std::size_t>(j)] = 0.0f;  // a zero activation group
    for (const char* name : {"matmul.q8", "matmul.tbb-q8", "matmul.q4", "matmul.tbb-q4"}) {
        for (const MatmulKernel* k : rows_named(name)) {
            const double err = worst_relative_error(*k, W, x, s, 2, 2);
            std::printf("%s: worst relative output error %.2e (tolerance %.0e)\n", row_name(*k).c_str(), err, k->tolerance);
            EXPECT_LE(err, k->tolerance) << row_name(*k);
        }
    }
}

// The weights a rounding kernel holds stay within half a quantisation step of the originals, block by block
// (Q4_0 maps the largest magnitude to -8, so its opposite extreme may be a whole step off at +7).
TEST(Matmul, QuantisedKernelsHoldWeightsWithinAStep) {
    const Shape s{37, 100};
    const auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 5);
    for (const auto& [name, levels] : {std::pair{"matmul.q8", 127.0 / 0.5}, std::pair{"matmul.q4", 8.0}})
    for (const MatmulKernel* k : rows_named(name)) {
        ExecContext ctx(1);
        std::vector<float> held(W.size(), NAN);
        k->unpack(k->prepare(WeightView{W.data(), nullptr, s.d, s.n}, ctx), held.data());
        for (int i = 0; i < s.d; i++) {
            for (int b = 0; b * 32 < s.n; b++) {
                double amax = 0;
                for (int j = b * 32; j < std::min(s.n, b * 32 + 32); j++) amax = std::max(amax, std::fabs(double(W[i * s.n + j])));
                for (int j = b * 32; j < std::min(s.n, b * 32 + 32); j++) {
                    // plus the fp16 rounding of the scale
                    EXPECT_LE(std::fabs(held[i * s.n + j] - W[i * s.n + j]), amax / levels * 1.004 + amax * 1e-3)
                        << name << " row " << i << " col " << j;
                }
            }
        }
    }
}

// GGUF's Q8_0, Q4_0 and K-quant blocks are taken as they are: the kernel holds exactly the values the file holds.
TEST(Matmul, QuantisedKernelsTakeGgufBlocksNatively) {
    const Shape s{45, 512};
    const auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 6);
    for (const auto& [name, type] : {std::pair{"matmul.q8", DType::q8_0}, std::pair{"matmul.q4", DType::q4_0},
                                     std::pair{"matmul.tbb-q4", DType::q4_0}, std::pair{"matmul.q4_k", DType::q4_K},
                                     std::pair{"matmul.q5_k", DType::q5_K}, std::pair{"matmul.tbb-q6_k", DType::q6_K}})
    for (const MatmulKernel* k : rows_named(name)) {
        const TypeTraits& t = traits(type);
        std::vector<std::uint8_t> file(row_bytes(type, s.n) * s.d);
        for (int i = 0; i < s.d; i++) t.quantize_row(W.data() + i * s.n, file.data() + i * row_bytes(type, s.n), s.n);
        const WeightView view{file.data(), nullptr, s.d, s.n, type};
        std::vector<float> want(W.size()), held(W.size(), NAN);
        t.dequantize_rows(view, 0, s.d, want.data());
        ExecContext ctx(2);
        ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
        const PackedWeight packed = k->prepare(view, ctx);
        k->unpack(packed, held.data());
        EXPECT_EQ(held, want) << name;
        // and it computes with them: against naive on the file's values
        const auto x = random_vector(static_cast<std::size_t>(3) * s.n, 7);
        std::vector<float> y(static_cast<std::size_t>(3) * s.d), ref(y.size());
        k->run(packed, x.data(), y.data(), 3, ctx);
        const MatmulKernel& naive = *find_matmul("matmul.naive");
        naive.run(naive.prepare(WeightView{want.data(), nullptr, s.d, s.n}, ctx), x.data(), ref.data(), 3, ctx);
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < s.d; i++) {
                double scale = 0;
                for (int j = 0; j < s.n; j++) scale += std::fabs(want[i * s.n + j] * x[r * s.n + j]);
                EXPECT_NEAR(y[r * s.d + i], ref[r * s.d + i], k->tolerance * scale) << name;
            }
        }
    }
}

// What a row declares is what it does: prepare() copies exactly the weights copies() says it copies (the memory
// guard counts on it), and the variants stream the types the peers are paired by.
TEST(Matmul, DescriptorsDeclareHowTheyHoldWeights) {
    constexpr int rows = 32, cols = 256;  // whole blocks of every type
    const DType stored[] = {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_K, DType::q5_K, DType::q6_K};
    for (const MatmulKernel* k : matmul_kernels()) {
        if (!k->available()) continue;
        for (const DType type : stored) {
            std::vector<std::uint8_t> bytes(row_bytes(type, cols) * rows);
            ExecContext ctx(1);
            const PackedWeight p = k->prepare(WeightView{bytes.data(), nullptr, rows, cols, type}, ctx);
            EXPECT_EQ(p.storage != nullptr, k->copies(type)) << row_name(*k) << " holding " << traits(type).name;
        }
    }
    for (const auto& [variant, type] : {std::pair{"naive", DType::f32}, std::pair{"tbb", DType::f32}, std::pair{"bf16", DType::bf16},
                                        std::pair{"tbb-q8", DType::q8_0}, std::pair{"q4", DType::q4_0}}) {
        EXPECT_EQ(resolve_variant(variant).matmul->streams, type) << variant;
    }
    EXPECT_FLOAT_EQ(find_matmul("matmul.q8")->bytes_per_weight(), 34.0f / 32.0f);
    EXPECT_FLOAT_EQ(find_matmul("matmul.q4")->bytes_per_weight(), 18.0f / 32.0f);
}

// Codes at the ends of their range with activations of matching sign make the largest partial sums any level's
// dot product forms (Q8: -128 and 127, Q4: nibbles 0 and 15, activations +-127 after quantisation); an int16 sum
// that saturated or wrapped would be off by far more than the tolerance.
TEST(Matmul, QuantisedKernelsKeepExtremeCodesExact) {
    const Shape s{40, 256};
    for (const auto& [name, type] : {std::pair{"matmul.q8", DType::q8_0}, std::pair{"matmul.q4", DType::q4_0}})
    for (const MatmulKernel* k : rows_named(name)) {
        if (!k->available()) continue;
        std::vector<std::uint8_t> file(row_bytes(type, s.n) * s.d);
        std::vector<float> want(static_cast<std::size_t>(s.d) * s.n);
        for (std::size_t at = 0, b = 0; at < file.size(); b++) {
            const std::uint16_t one = f32_to_fp16(1.0f);
            std::memcpy(&file[at], &one, 2);
            at += 2;
            const bool high = b % 3 != 0;  // most blocks at the top of the range, some at the bottom
            for (int j = 0; j < (type == DType::q8_0 ? 32 : 16); j++) file[at++] = type == DType::q8_0 ? (high ? 127 : 0x80) : (high ? 0xFF : 0x00);
        }
        traits(type).dequantize_rows(WeightView{file.data(), nullptr, s.d, s.n, type}, 0, s.d, want.data());
        const int m = 6;  // a tile of four rows and one of two
        std::vector<float> x(static_cast<std::size_t>(m) * s.n);
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < s.n; j++) x[r * s.n + j] = (r % 2 ? -1.0f : 1.0f);
        }
        ExecContext ctx(1);
        std::vector<float> y(static_cast<std::size_t>(m) * s.d), ref(y.size());
        k->run(k->prepare(WeightView{file.data(), nullptr, s.d, s.n, type}, ctx), x.data(), y.data(), m, ctx);
        const MatmulKernel& naive = *find_matmul("matmul.naive");
        naive.run(naive.prepare(WeightView{want.data(), nullptr, s.d, s.n}, ctx), x.data(), ref.data(), m, ctx);
        for (std::size_t i = 0; i < y.size(); i++) {
            ASSERT_NEAR(y[i], ref[i], 1e-3 * std::fabs(ref[i]) + 1e-3) << row_name(*k) << " output " << i;
        }
    }
}

// The K-quants' largest partial sums: codes at the top of their range (Q4_K 15, Q5_K 31, Q6_K 63) or at zero,
// the largest sub-block scales and minimums, activations of +-127 after quantisation.
TEST(Matmul, KQuantKernelsKeepExtremeCodesExact) {
    const Shape s{40, 512};
    for (const auto& [name, type] : {std::pair{"matmul.q4_k", DType::q4_K}, std::pair{"matmul.q5_k", DType::q5_K},
                                     std::pair{"matmul.q6_k", DType::q6_K}})
    for (const MatmulKernel* k : rows_named(name)) {
        const int top = type == DType::q4_K ? 15 : type == DType::q5_K ? 31 : 63;
        const std::uint64_t block = traits(type).block_bytes;
        std::vector<std::uint8_t> file(row_bytes(type, s.n) * s.d);
        for (std::size_t b = 0; b * block < file.size(); b++) {
            kquant::SuperBlock sb;
            sb.d = f32_to_fp16(1.0f / 64);
            sb.dmin = type == DType::q6_K ? 0 : f32_to_fp16(1.0f / 64);
            for (int i = 0; i < 256; i++) sb.q[i] = static_cast<std::uint8_t>((b + i / 32) % 3 != 0 ? top : 0);
            for (int i = 0; i < 16; i++) sb.scale[i] = static_cast<std::int8_t>(type == DType::q6_K ? (i % 2 ? 127 : -128) : 63);
            for (std::uint8_t& m : sb.min) m = 63;
            kquant::write(type, sb, file.data() + b * block);
        }
        std::vector<float> want(static_cast<std::size_t>(s.d) * s.n);
        traits(type).dequantize_rows(WeightView{file.data(), nullptr, s.d, s.n, type}, 0, s.d, want.data());
        const int m = 6;  // a tile of four rows and one of two
        std::vector<float> x(static_cast<std::size_t>(m) * s.n);
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < s.n; j++) x[r * s.n + j] = (r % 2 ? -1.0f : 1.0f);
        }
        ExecContext ctx(1);
        std::vector<float> y(static_cast<std::size_t>(m) * s.d), ref(y.size());
        k->run(k->prepare(WeightView{file.data(), nullptr, s.d, s.n, type}, ctx), x.data(), y.data(), m, ctx);
        const MatmulKernel& naive = *find_matmul("matmul.naive");
        naive.run(naive.prepare(WeightView{want.data(), nullptr, s.d, s.n}, ctx), x.data(), ref.data(), m, ctx);
        for (std::size_t i = 0; i < y.size(); i++) {
            ASSERT_NEAR(y[i], ref[i], 1e-3 * std::fabs(ref[i]) + 1e-3) << row_name(*k) << " output " << i;
        }
    }
}

std::vector<int> greedy_tokens(const std::string& variant, int steps) {
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(2);
    ctx.min_parallel_bytes = 0;  // every parallel path, however small the shape
    Transformer model(ck, resolve_variant(variant), ctx);
    Sampler greedy(ck.config().vocab_size, 0.0f, 0.9f, 1);
    return generate(model, *tok, greedy, "", steps, [](std::string_view) {}).tokens;
}

TEST(Variants, EveryFp32VariantPrintsTheReferenceStoryAndLossyOnesReportAgreement) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const std::vector<int> reference = greedy_tokens("naive", 200);
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        if (!k.available()) continue;
        const std::vector<int> tokens = greedy_tokens(v.name, 200);
        if (!k.lossy()) {
            EXPECT_EQ(tokens, reference) << v.name;
            continue;
        }
        std::size_t prefix = 0, same = 0;
        while (prefix < tokens.size() && prefix < reference.size() && tokens[prefix] == reference[prefix]) prefix++;
        for (std::size_t i = 0; i < tokens.size() && i < reference.size(); i++) same += tokens[i] == reference[i];
        std::printf("%s: %zu of %zu greedy stories260K tokens agree with fp32 naive (identical up to token %zu)\n",
                    v.name, same, reference.size(), prefix);
        EXPECT_GE(prefix, 8u) << v.name << " diverges at once";
    }
}

TEST(Variants, EveryRowNamesRegisteredKernelsAndTheDefaultIsFp32) {
    for (const Variant& v : variants()) {
        EXPECT_NE(find_matmul(v.matmul), nullptr) << v.name;
        EXPECT_NE(find_attention(v.attention), nullptr) << v.name;
    }
    EXPECT_FALSE(resolve_variant(default_variant()).lossy());
}

}  // namespace
}  // namespace wb
