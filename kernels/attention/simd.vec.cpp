// Single-threaded xsimd attention: per head and query row, batched dot products for the scores,
// a vectorised softmax, and a weighted sum of values with register accumulators.
#include "kernels/attention/simd_head.h"
#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::WB_ISA_NS::attention {

static void run_simd(const AttentionArgs& a, ExecContext& ctx) {
    float* att = ctx.scratch(simd_head::attend_scratch_size(a));
    for (const AttentionSpan& span : a.spans) {
        for (int i = 0; i < span.rows; i++) {
            for (int h = 0; h < a.n_heads; h++) simd_head::attend_one(a, span, i, h, att);
        }
    }
}

extern const AttentionKernel simd{
    "attention.simd", "xsimd dot products, vectorised softmax (xsimd::exp) and weighted sum; one thread", 1e-5f,
    kIsa, run_simd,
};

}  // namespace wb::WB_ISA_NS::attention
