#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/quant.h"
#include "kernels/registry.h"
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
    const WeightView view{W.data(), nullptr, s.d, s.n};
    const MatmulKernel& naive = *find_matmul("matmul.naive");
    std::vector<float> want(static_cast<std::size_t>(m) * s.d), got(want.size(), NAN);
    naive.run(naive.prepare(view, ctx), x.data(), want.data(), m, ctx);
    k.run(k.prepare(view, ctx), x.data(), got.data(), m, ctx);
    double worst = 0;
    for (int r = 0; r < m; r++) {
        for (int i = 0; i < s.d; i++) {
            double scale = 0;
            for (int j = 0; j < s.n; j++) scale += std::fabs(W[static_cast<std::size_t>(i) * s.n + j] * x[static_cast<std::size_t>(r) * s.n + j]);
            const std::size_t at = static_cast<std::size_t>(r) * s.d + i;
            const double err = std::fabs(static_cast<double>(got[at]) - want[at]) / (scale + 1e-30);
            if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
        }
    }
    return worst;
}

TEST(Matmul, EveryKernelMatchesNaiveWithinItsTolerance) {
    // Ragged on purpose: not multiples of 16 lanes, 32-column strips, 8-row panels or 64-wide groups.
    const Shape shapes[] = {{1, 1}, {7, 5}, {33, 67}, {100, 129}, {64, 256}, {259, 300}};
    for (const MatmulKernel* k : matmul_kernels()) {
        if (!k->available()) {
            std::printf("[ SKIPPED  ] %s is not available on this machine\n", k->name);
            continue;
        }
        for (const Shape s : shapes) {
            const auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 1);
            for (const int m : {1, 3, 64}) {
                const auto x = random_vector(static_cast<std::size_t>(m) * s.n, 2);
                for (const int threads : {1, 2}) {
                    const double err = worst_relative_error(*k, W, x, s, m, threads);
                    EXPECT_LE(err, k->tolerance) << k->name << " d=" << s.d << " n=" << s.n << " m=" << m
                                                 << " threads=" << threads;
                }
            }
        }
    }
}

TEST(Matmul, Q8SurvivesZeroGroupsAndReportsItsError) {
    const Shape s{48, 200};
    auto W = random_vector(static_cast<std::size_t>(s.d) * s.n, 3);
    for (int j = 0; j < 64; j++) W[static_cast<std::size_t>(5) * s.n + j] = 0.0f;  // a whole zero group
    for (int j = 0; j < s.n; j++) W[static_cast<std::size_t>(9) * s.n + j] = 0.0f;  // a zero row
    auto x = random_vector(static_cast<std::size_t>(2) * s.n, 4);
    for (int j = 64; j < 128; j++) x[static_cast<std::size_t>(j)] = 0.0f;  // a zero activation group
    for (const char* name : {"matmul.q8", "matmul.q8-widening", "matmul.tbb-q8"}) {
        const MatmulKernel* k = find_matmul(name);
        if (!k->available()) continue;
        const double err = worst_relative_error(*k, W, x, s, 2, 2);
        std::printf("%s: worst relative output error %.2e (tolerance %.0e)\n", name, err, k->tolerance);
        EXPECT_LE(err, k->tolerance) << name;
    }
    std::vector<std::int8_t> q(64);
    float scale = -1;
    const std::vector<float> zeros(64, 0.0f);
    quantize_q8_row(zeros.data(), 64, q.data(), &scale);
    EXPECT_EQ(scale, 0.0f);
    EXPECT_EQ(q[0], 0);
}

std::vector<int> greedy_tokens(const std::string& variant, int steps) {
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(2);
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
        if (k.matmul->tolerance <= 1e-4f && k.attention->tolerance <= 1e-4f) {
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
    EXPECT_LE(resolve_variant(default_variant()).matmul->tolerance, 1e-4f);
}

}  // namespace
}  // namespace wb
