#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness/profiler.h"
#include "harness/trace.h"
#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "model/generate.h"
#include "model/synthetic.h"
#include "test_util.h"

namespace wb {
namespace {

TraceOptions options(int steps, int threads, bool force = true) {
    TraceOptions o;
    o.steps = steps;
    o.threads = threads;
    o.force = force;
    return o;
}

std::vector<int> lily_prompt(const Checkpoint& ck) {
    return load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size)->encode("Lily and Tom", true);
}

TEST(Trace, EveryFp32VariantStaysWithinToleranceAtEveryOp) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const Kernels naive = resolve_variant("naive");
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        if (!k.available() || k.lossy()) continue;
        const TraceResult r = trace(ck, lily_prompt(ck), k, naive, options(24, 2));
        EXPECT_FALSE(r.first.has_value()) << v.name << ": " << stage_info(r.first->stage).name << " of layer "
                                          << r.first->layer << " is " << r.first->rel << " off";
        // every stage of every layer and the two after them, once each
        EXPECT_EQ(r.stages.size(), static_cast<std::size_t>(15 * ck.config().n_layers + 2)) << v.name;
    }
}

// A matmul that drops the last input column, but only of the FFN's down projection (n = hidden_dim).
constexpr int kHidden260K = 172;
void run_dropping_down_column(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    find_matmul("matmul.naive")->run(w, x, y, m, ctx);
    if (w.n != kHidden260K) return;
    const auto* W = static_cast<const float*>(w.data);
    for (int r = 0; r < m; r++) {
        for (int i = 0; i < w.d; i++) y[r * w.d + i] -= W[static_cast<long>(i) * w.n + w.n - 1] * x[r * w.n + w.n - 1];
    }
}

TEST(Trace, LocatesABrokenKernelAtItsOpAndLayer) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    ASSERT_EQ(ck.config().hidden_dim, kHidden260K);
    const MatmulKernel& naive_mm = *find_matmul("matmul.naive");
    const MatmulKernel broken{"matmul.broken", "drops the last column of the down projection", naive_mm.tolerance,
                              DType::f32, Holding::views, Isa::scalar, naive_mm.prepare, run_dropping_down_column};
    const Variant row{"broken", "matmul.broken", "attention.naive", "a deliberately wrong matmul"};
    const Kernels candidate{&row, &broken, find_attention("attention.naive")};
    for (const bool force : {true, false}) {
        const TraceResult r = trace(ck, lily_prompt(ck), candidate, resolve_variant("naive"), options(12, 1, force));
        ASSERT_TRUE(r.first.has_value());
        EXPECT_EQ(r.first->stage, Stage::down);
        EXPECT_EQ(r.first->layer, 0);
        EXPECT_EQ(r.first->pos0, 0);
        EXPECT_STREQ(r.first->kernel, "matmul.broken");
        // Fed the reference's inputs, every down projection is off and nothing else is.
        if (force) {
            for (const StageError& e : r.stages) EXPECT_EQ(e.over(), e.stage == Stage::down) << stage_info(e.stage).name;
        }
    }
}

// A lossy matmul (q8's tolerance) that puts one output of the down projection 5% of its bound sum_j |w_ij x_j|
// off, 2.5 times what that tolerance allows, and is exact everywhere else.
void run_off_in_one_down_output(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    find_matmul("matmul.naive")->run(w, x, y, m, ctx);
    if (w.n != kHidden260K) return;
    const auto* W = static_cast<const float*>(w.data);
    for (int r = 0; r < m; r++) {
        double bound = 0;
        for (int j = 0; j < w.n; j++) bound += std::fabs(static_cast<double>(W[j]) * x[r * w.n + j]);
        y[r * w.d] += static_cast<float>(0.05 * bound);
    }
}

// Lossy kernels are judged as their tolerance is stated (each output's error over sum_j |w_ij x_j|): the int8 and
// bf16 variants pass on a healthy run, and an error beyond the bound in one output is found where it is made.
TEST(Trace, LossyKernelsAreJudgedByTheBoundTheirToleranceStates) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const Kernels naive = resolve_variant("naive");
    int judged = 0;
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        if (!k.available() || !k.lossy() || k.matmul->unpack != nullptr) continue;  // 4-bit: against its held weights
        const TraceResult r = trace(ck, lily_prompt(ck), k, naive, options(24, 2));
        EXPECT_FALSE(r.first.has_value()) << v.name << ": " << stage_info(r.first->stage).name << " of layer "
                                          << r.first->layer << " is " << r.first->rel << " off";
        for (const StageError& e : r.stages) {
            if (stage_info(e.stage).matmul) {
                EXPECT_GE(e.max_vs_bound, 0.0) << v.name << " " << stage_info(e.stage).name;
            }
        }
        judged++;
    }
    EXPECT_GT(judged, 0) << "no lossy variant runs here";
    const MatmulKernel& naive_mm = *find_matmul("matmul.naive");
    const MatmulKernel off{"matmul.off", "one down-projection output off by 5% of its bound", 2e-2f, DType::f32,
                           Holding::views, Isa::scalar, naive_mm.prepare, run_off_in_one_down_output};
    ASSERT_TRUE(off.lossy());
    const Variant row{"off", "matmul.off", "attention.naive", "a lossy matmul with one wrong output"};
    const Kernels candidate{&row, &off, find_attention("attention.naive")};
    const TraceResult r = trace(ck, lily_prompt(ck), candidate, naive, options(12, 1));
    ASSERT_TRUE(r.first.has_value());
    EXPECT_EQ(r.first->stage, Stage::down);
    EXPECT_EQ(r.first->layer, 0);
    EXPECT_NEAR(r.first->rel, 0.05, 0.005);
    for (const StageError& e : r.stages) EXPECT_EQ(e.over(), e.stage == Stage::down) << stage_info(e.stage).name;
}

TEST(Trace, NpyFilesCarryShapeAndValues) {
    const std::string path = ::testing::TempDir() + "trace_test.npy";
    const float values[6] = {1, 2, 3, 4, 5, -6.5f};
    write_npy(path, values, 2, 3);
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(1, 5), "NUMPY");
    const std::size_t header = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    EXPECT_EQ((10 + header) % 64, 0u);
    EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
    ASSERT_EQ(bytes.size(), 10 + header + sizeof values);
    float back[6];
    std::memcpy(back, bytes.data() + 10 + header, sizeof back);
    for (int i = 0; i < 6; i++) EXPECT_EQ(back[i], values[i]);
    EXPECT_EQ(tensor_name(Stage::attn_out, 3, 0, 53), "L03.attn_out.pos0-53");
    EXPECT_EQ(tensor_name(Stage::logits, -1, 53, 53), "out.logits.pos53-53");
}

// The profiler is an observer of the same hook: every category the forward pass and the sampler run shows time.
TEST(Trace, ProfilerSeesEveryOperationCategory) {
    REQUIRE_MODEL("stories260K.bin");
    REQUIRE_MODEL("tok512.bin");
    const Checkpoint ck = Checkpoint::open(test::model_path("stories260K.bin"));
    const std::unique_ptr<Tokenizer> tok = load_llama2c_tokenizer(test::model_path("tok512.bin"), ck.config().vocab_size);
    ExecContext ctx(1);
    Profiler prof;
    ctx.observer = &prof;
    Transformer model(ck, resolve_variant("naive"), ctx);
    Sampler greedy(ck.config().vocab_size, 0.0f, 0.9f, 1);
    generate(model, *tok, greedy, "Lily and Tom", 16, [](std::string_view) {});
    for (int op = 0; op < static_cast<int>(Op::count); op++) {
        EXPECT_GT(prof.seconds(static_cast<Op>(op)), 0.0) << op_name(static_cast<Op>(op));
    }
}

}  // namespace
}  // namespace wb
