// Every registered attention kernel against attention.naive, within the tolerance it declares, on a KV cache of each
// type the kernel reads; and each cache type against the f32 cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "types/weight_types.h"

namespace wb {
namespace {

// Rows of one sequence at consecutive positions from pos.
struct SpanCase {
    int seq;
    int pos;
    int rows;
};

struct AttentionCase {
    int n_heads;
    int n_kv_heads;
    int head_size;
    std::vector<SpanCase> spans;  // in row order; one span is one sequence's call
    float q_scale;  // > 1 makes the softmax peaky: large scores test the max shift and rescaling
};

std::string describe(const AttentionCase& c) {
    std::string spans;
    for (const SpanCase& s : c.spans) {
        spans += " [seq " + std::to_string(s.seq) + " pos " + std::to_string(s.pos) + " m " + std::to_string(s.rows) + "]";
    }
    return "heads " + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) + " head_size " +
           std::to_string(c.head_size) + spans + " q_scale " + std::to_string(c.q_scale);
}

// Grouped-query ratios 1, 2, 4 and 8, head sizes 8 .. 128, positions from the first to the 2048th; then calls
// that mix sequences: decode steps of several sequences at different positions, prefills beside decodes,
// and rows of two sequences taking turns.
std::vector<AttentionCase> attention_cases() {
    struct Shape {
        int n_heads, n_kv_heads, head_size;
        float q_scale;
    };
    const Shape shapes[] = {
        {8, 8, 48, 1.0f},   // ratio 1, head size not a power of two
        {8, 4, 128, 1.0f},  // ratio 2
        {16, 2, 8, 1.0f},   // ratio 8, head size half an AVX-512 batch
        {8, 4, 8, 1.0f},    // stories260K: ratio 2, head size 8
        {4, 4, 64, 8.0f},   // peaky softmax
        {32, 8, 64, 1.0f},  // Llama 3.2 1B: ratio 4, the rows of a decode read the cache in place
    };
    std::vector<AttentionCase> cases;
    for (const Shape& s : shapes) {
        for (int pos : {0, 1, 17, 300}) {
            for (int m : {1, 7, 64}) cases.push_back({s.n_heads, s.n_kv_heads, s.head_size, {{0, pos, m}}, s.q_scale});
        }
    }
    // TinyLlama: 32 heads, 4 kv heads, head size 64, up to the full 2048-token context.
    auto tinyllama = [&](std::vector<SpanCase> spans) { cases.push_back({32, 4, 64, std::move(spans), 1.0f}); };
    for (int pos : {0, 1, 17, 300, 2047}) tinyllama({{0, pos, 1}});
    for (int pos : {0, 17, 300, 2041}) tinyllama({{0, pos, 7}});
    for (int pos : {0, 300}) tinyllama({{0, pos, 64}});

    const std::vector<std::vector<SpanCase>> mixed = {
        {{3, 0, 1}, {0, 17, 1}, {1, 300, 1}, {4, 5, 1}, {2, 64, 1}},          // decode of five sequences
        {{1, 0, 7}, {0, 40, 1}, {2, 3, 1}, {3, 17, 64}, {5, 0, 1}},           // prefills beside decodes
        {{0, 9, 1}, {1, 30, 1}, {0, 10, 1}, {1, 31, 1}, {0, 11, 1}},          // two sequences taking turns
        {{7, 100, 33}, {6, 0, 1}, {5, 1, 2}, {4, 2, 3}, {3, 3, 4}, {2, 4, 5}, {1, 5, 6}, {0, 6, 7}},  // eight lengths
    };
    for (const Shape& s : shapes) {
        for (const auto& spans : mixed) cases.push_back({s.n_heads, s.n_kv_heads, s.head_size, spans, s.q_scale});
    }
    for (const auto& spans : mixed) tinyllama(spans);
    return cases;
}

// Whether a cache of this type can hold the case's rows (q8_0 blocks of 32 along a row).
bool holds(DType kv_type, const AttentionCase& c) { return c.n_kv_heads * c.head_size % traits(kv_type).block == 0; }

// One case's operands, its cache stored as kv_type, and attention.naive's output for them.
struct AttentionReference {
    AttentionCase c;
    DType kv_type;
    int m = 0;
    int context = 0;  // cache rows per sequence: the most any sequence fills
    std::vector<AttentionSpan> spans;
    std::vector<float> q;
    std::vector<std::byte> k, v;  // one sequence: k and v hold exactly its filled rows, so ASan sees over-reads
    std::vector<float> expected;
    float value_scale = 0.0f;  // max |v|, the scale tolerances are relative to

    AttentionReference(const AttentionCase& attention_case, unsigned seed, const AttentionKernel& naive,
                       DType kv = DType::f32)
        : c(attention_case), kv_type(kv) {
        std::vector<int> filled;  // rows each sequence has in its cache once this call's keys are in
        for (const SpanCase& s : c.spans) {
            spans.push_back({m, s.rows, s.seq, s.pos});
            m += s.rows;
            if (static_cast<int>(filled.size()) <= s.seq) filled.resize(static_cast<std::size_t>(s.seq) + 1, 0);
            filled[s.seq] = std::max(filled[s.seq], s.pos + s.rows);
            context = std::max(context, s.pos + s.rows);
        }
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        const int kv_dim = c.n_kv_heads * c.head_size;
        q.resize(static_cast<std::size_t>(m) * c.n_heads * c.head_size);
        for (float& x : q) x = c.q_scale * normal(rng);
        // Rows past what a sequence has filled are all-ones bits, NaN in every cache type (a q8_0 block's scale
        // too): a kernel that reads them poisons its output.
        const std::size_t row = row_bytes(kv_type, kv_dim);
        k.assign(filled.size() * context * row, std::byte{0xff});
        v.assign(k.size(), std::byte{0xff});
        std::vector<float> k_row(static_cast<std::size_t>(kv_dim)), v_row(k_row.size());
        for (std::size_t s = 0; s < filled.size(); s++) {
            for (std::size_t t = 0; t < static_cast<std::size_t>(filled[s]); t++) {
                for (std::size_t i = 0; i < k_row.size(); i++) {
                    k_row[i] = normal(rng);
                    v_row[i] = normal(rng);
                    value_scale = std::max(value_scale, std::fabs(v_row[i]));
                }
                const std::size_t at = (s * context + t) * row;
                traits(kv_type).quantize_row(k_row.data(), k.data() + at, kv_dim);
                traits(kv_type).quantize_row(v_row.data(), v.data() + at, kv_dim);
            }
        }
        ExecContext ctx(1);
        expected = run(naive, ctx);
    }

    // Query rows first_row .. first_row+rows-1 as the call's rows, in the given spans; out is the call's output.
    AttentionArgs args(float* out, int first_row, int rows, std::span<const AttentionSpan> which) const {
        const std::size_t dim = static_cast<std::size_t>(c.n_heads) * c.head_size;
        return {q.data() + first_row * dim, k.data(), v.data(), out, rows, which,
                static_cast<std::size_t>(context) * row_bytes(kv_type, c.n_kv_heads * c.head_size), c.n_heads,
                c.n_kv_heads, c.head_size, kv_type};
    }

    std::vector<float> run(const AttentionKernel& kernel, ExecContext& ctx) const {
        std::vector<float> out(q.size(), std::nanf(""));
        kernel.run(args(out.data(), 0, m, spans), ctx);
        return out;
    }

    // Each span alone, as a call of one sequence whose rows count from 0.
    std::vector<float> run_span_by_span(const AttentionKernel& kernel, ExecContext& ctx) const {
        std::vector<float> out(q.size(), std::nanf(""));
        const std::size_t dim = static_cast<std::size_t>(c.n_heads) * c.head_size;
        for (const AttentionSpan& s : spans) {
            const AttentionSpan alone{0, s.rows, s.seq, s.pos};
            kernel.run(args(out.data() + s.first_row * dim, s.first_row, s.rows, {&alone, 1}), ctx);
        }
        return out;
    }
};

class AttentionKernels : public testing::TestWithParam<const AttentionKernel*> {
protected:
    // attention.naive runs once per case and cache type for the whole suite, not once per kernel.
    static void SetUpTestSuite() {
        const AttentionKernel* naive = find_attention("attention.naive");
        if (naive == nullptr) return;
        const std::vector<AttentionCase> cases = attention_cases();
        for (const DType kv_type : kKvTypes) {
            for (std::size_t i = 0; i < cases.size(); i++) {
                if (holds(kv_type, cases[i])) {
                    references_.emplace_back(cases[i], static_cast<unsigned>(1234 + i), *naive, kv_type);
                }
            }
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
    two_threads.min_parallel_bytes = 0;  // every parallel path, however small the shape
    float worst_relative = 0.0f;  // largest error / max |v| over all cases, in the XML report
    int cases = 0;
    for (const AttentionReference& ref : references_) {
        if (!kernel.reads(ref.kv_type)) continue;
        cases++;
        const float bound = kernel.tolerance * ref.value_scale;
        for (ExecContext* ctx : {&one_thread, &two_threads}) {
            SCOPED_TRACE(describe(ref.c) + " kv " + traits(ref.kv_type).name + " threads " + std::to_string(ctx->threads()));
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
    EXPECT_GT(cases, 0) << kernel.name << " reads no cache type";
    EXPECT_TRUE(kernel.reads(DType::f32)) << kernel.name << ": every kernel reads an f32 cache";
    RecordProperty("worst_relative_error", std::to_string(worst_relative));
}

// The cache types themselves: naive on an f16, bf16 or q8_0 cache stays near naive on the f32 cache of the same
// keys and values (the error of storing them), and a type that stored garbage would not.
TEST(AttentionCacheTypes, StayNearTheF32Cache) {
    const AttentionKernel* naive = find_attention("attention.naive");
    ASSERT_NE(naive, nullptr);
    // Bounds on |out - out_f32| / max |v|: f16 keeps 11 significant bits, bf16 8, q8_0 about 7 per block of 32.
    const std::pair<DType, float> bounds[] = {{DType::f16, 0.005f}, {DType::bf16, 0.03f}, {DType::q8_0, 0.05f}};
    const std::vector<AttentionCase> cases = attention_cases();
    for (const auto& [kv_type, bound] : bounds) {
        float worst = 0.0f;
        for (std::size_t i = 0; i < cases.size(); i++) {
            if (cases[i].q_scale != 1.0f || !holds(kv_type, cases[i])) continue;  // peaky softmaxes amplify any rounding
            SCOPED_TRACE(describe(cases[i]) + " kv " + traits(kv_type).name);
            const AttentionReference f32(cases[i], static_cast<unsigned>(7 + i), *naive, DType::f32);
            const AttentionReference stored(cases[i], static_cast<unsigned>(7 + i), *naive, kv_type);
            for (std::size_t j = 0; j < f32.expected.size(); j++) {
                ASSERT_TRUE(std::isfinite(stored.expected[j])) << "element " << j;
                worst = std::max(worst, std::fabs(stored.expected[j] - f32.expected[j]) / f32.value_scale);
            }
        }
        EXPECT_LE(worst, bound) << traits(kv_type).name;
        EXPECT_GT(worst, 0.0f) << traits(kv_type).name << " rounds nothing: is the cache really stored in it?";
        RecordProperty(std::string("worst_relative_error_") + traits(kv_type).name, std::to_string(worst));
    }
}

// The reference itself: a call mixing sequences gives each span exactly what that span gets alone.
TEST(AttentionNaive, MixedSequencesEqualEachSequenceAlone) {
    const AttentionKernel* naive = find_attention("attention.naive");
    ASSERT_NE(naive, nullptr);
    ExecContext ctx(1);
    int mixed = 0;
    const std::vector<AttentionCase> cases = attention_cases();
    for (std::size_t i = 0; i < cases.size(); i++) {
        if (cases[i].spans.size() < 2) continue;
        mixed++;
        SCOPED_TRACE(describe(cases[i]));
        const AttentionReference ref(cases[i], static_cast<unsigned>(99 + i), *naive);
        const std::vector<float> alone = ref.run_span_by_span(*naive, ctx);
        ASSERT_EQ(alone.size(), ref.expected.size());
        for (std::size_t j = 0; j < alone.size(); j++) {
            ASSERT_TRUE(std::isfinite(alone[j])) << "element " << j;
            ASSERT_EQ(alone[j], ref.expected[j]) << "element " << j;
        }
    }
    EXPECT_GT(mixed, 0);
}

TEST(AttentionRegistry, NamesAreUniqueAndToleranceIsSane) {
    std::set<std::string> names;
    for (const AttentionKernel* k : attention_kernels()) {
        EXPECT_TRUE(names.insert(std::string(k->name) + "@" + isa_name(k->isa)).second) << "duplicate " << k->name;
        EXPECT_EQ(std::string(k->name).rfind("attention.", 0), 0u) << k->name;
        EXPECT_GE(k->tolerance, 0.0f) << k->name;
        EXPECT_LT(k->tolerance, 1e-3f) << k->name;
    }
    EXPECT_NE(find_attention("attention.naive"), nullptr);
}

std::string kernel_test_name(const testing::TestParamInfo<const AttentionKernel*>& info) {
    std::string name = std::string(info.param->name) + "_" + isa_name(info.param->isa);
    for (char& ch : name) {
        if (ch == '.' || ch == '-') ch = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Attention, AttentionKernels, testing::ValuesIn(attention_kernels()), kernel_test_name);

}  // namespace
}  // namespace wb
