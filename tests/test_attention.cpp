// Every registered attention kernel against attention.naive, within the tolerance it declares.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/registry.h"

namespace wb {
namespace {

struct AttentionCase {
    int n_heads;
    int n_kv_heads;
    int head_size;
    int pos;
    int m;
    float q_scale;  // > 1 makes the softmax peaky: large scores test the max shift and rescaling
};

std::string describe(const AttentionCase& c) {
    return "heads " + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) + " head_size " +
           std::to_string(c.head_size) + " pos " + std::to_string(c.pos) + " m " + std::to_string(c.m) +
           " q_scale " + std::to_string(c.q_scale);
}

// Grouped-query ratios 1, 2 and 8, head sizes 8 .. 128, positions from the first to the 2048th.
std::vector<AttentionCase> attention_cases() {
    std::vector<AttentionCase> cases;
    const AttentionCase shapes[] = {
        {8, 8, 48, 0, 0, 1.0f},   // ratio 1, head size not a power of two
        {8, 4, 128, 0, 0, 1.0f},  // ratio 2
        {16, 2, 8, 0, 0, 1.0f},   // ratio 8, head size below one AVX-512 batch
        {4, 4, 64, 0, 0, 8.0f},   // peaky softmax
    };
    for (AttentionCase c : shapes) {
        for (int pos : {0, 1, 17, 300}) {
            for (int m : {1, 7, 64}) {
                c.pos = pos;
                c.m = m;
                cases.push_back(c);
            }
        }
    }
    // TinyLlama: 32 heads, 4 kv heads, head size 64, up to the full 2048-token context.
    for (int pos : {0, 1, 17, 300, 2047}) cases.push_back({32, 4, 64, pos, 1, 1.0f});
    for (int pos : {0, 17, 300, 2041}) cases.push_back({32, 4, 64, pos, 7, 1.0f});
    for (int pos : {0, 300}) cases.push_back({32, 4, 64, pos, 64, 1.0f});
    return cases;
}

// One case's operands, and attention.naive's output for them.
struct AttentionReference {
    AttentionCase c;
    std::vector<float> q, k, v;  // k and v hold exactly the pos + m filled rows, so ASan sees over-reads
    std::vector<float> expected;
    float value_scale = 0.0f;  // max |v|, the scale tolerances are relative to

    AttentionReference(const AttentionCase& attention_case, unsigned seed, const AttentionKernel& naive)
        : c(attention_case) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        q.resize(static_cast<std::size_t>(c.m) * c.n_heads * c.head_size);
        k.resize(static_cast<std::size_t>(c.pos + c.m) * c.n_kv_heads * c.head_size);
        v.resize(k.size());
        for (float& x : q) x = c.q_scale * normal(rng);
        for (float& x : k) x = normal(rng);
        for (float& x : v) x = normal(rng);
        for (float x : v) value_scale = std::max(value_scale, std::fabs(x));
        ExecContext ctx(1);
        expected = run(naive, ctx);
    }

    std::vector<float> run(const AttentionKernel& kernel, ExecContext& ctx) const {
        std::vector<float> out(q.size(), std::nanf(""));
        const AttentionArgs args{q.data(), k.data(), v.data(), out.data(), c.m,
                                 c.pos,    c.n_heads, c.n_kv_heads, c.head_size};
        kernel.run(args, ctx);
        return out;
    }
};

class AttentionKernels : public testing::TestWithParam<const AttentionKernel*> {
protected:
    // attention.naive runs once per case for the whole suite, not once per kernel.
    static void SetUpTestSuite() {
        const AttentionKernel* naive = find_attention("attention.naive");
        if (naive == nullptr) return;
        const std::vector<AttentionCase> cases = attention_cases();
        for (std::size_t i = 0; i < cases.size(); i++) {
            references_.emplace_back(cases[i], static_cast<unsigned>(1234 + i), *naive);
        }
    }
    static void TearDownTestSuite() { references_.clear(); }

    static inline std::vector<AttentionReference> references_;
};

TEST_P(AttentionKernels, MatchesNaiveWithinTolerance) {
    const AttentionKernel& kernel = *GetParam();
    if (!kernel.available()) GTEST_SKIP() << kernel.name << " is not available on this machine";
    ASSERT_FALSE(references_.empty()) << "attention.naive is not registered";

    // One context per thread count for all cases: scratch is reused and grown as a decode loop does.
    ExecContext one_thread(1), two_threads(2);
    float worst_relative = 0.0f;  // largest error / max |v| over all cases, in the XML report
    for (const AttentionReference& ref : references_) {
        const float bound = kernel.tolerance * ref.value_scale;
        for (ExecContext* ctx : {&one_thread, &two_threads}) {
            SCOPED_TRACE(describe(ref.c) + " threads " + std::to_string(ctx->threads()));
            const std::vector<float> got = ref.run(kernel, *ctx);
            std::size_t failures = 0, first_failure = 0;
            for (std::size_t j = 0; j < got.size(); j++) {
                const float err = std::fabs(got[j] - ref.expected[j]);
                if (!(err <= bound)) {  // also catches NaN: an output the kernel never wrote
                    if (failures++ == 0) first_failure = j;
                }
                worst_relative = std::max(worst_relative, err / ref.value_scale);
            }
            EXPECT_EQ(failures, 0u) << "first at element " << first_failure << ": got " << got[first_failure]
                                    << ", naive " << ref.expected[first_failure] << "; bound " << bound;
        }
    }
    RecordProperty("worst_relative_error", std::to_string(worst_relative));
}

TEST(AttentionRegistry, NamesAreUniqueAndToleranceIsSane) {
    std::set<std::string> names;
    for (const AttentionKernel* k : attention_kernels()) {
        EXPECT_TRUE(names.insert(k->name).second) << "duplicate " << k->name;
        EXPECT_EQ(std::string(k->name).rfind("attention.", 0), 0u) << k->name;
        EXPECT_GE(k->tolerance, 0.0f) << k->name;
        EXPECT_LT(k->tolerance, 1e-3f) << k->name;
    }
    EXPECT_NE(find_attention("attention.naive"), nullptr);
}

std::string kernel_test_name(const testing::TestParamInfo<const AttentionKernel*>& info) {
    std::string name = info.param->name;
    for (char& ch : name) {
        if (ch == '.') ch = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Attention, AttentionKernels, testing::ValuesIn(attention_kernels()), kernel_test_name);

}  // namespace
}  // namespace wb
