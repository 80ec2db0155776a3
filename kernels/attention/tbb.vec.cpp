// attention.simd's per-head code, with (query row, head) pairs spread over the context's TBB arena.
#include <algorithm>

#include "kernels/attention/simd_head.h"
#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::WB_ISA_NS::attention {

static void run_tbb(const AttentionArgs& a, ExecContext& ctx) {
    const std::size_t att_size = simd_head::attend_scratch_size(a);
    // Item r * n_heads + h: neighbouring heads share a kv head, so a chunk of items reuses cached keys.
    const int items = a.m * a.n_heads;
    // Each item reads its row's keys and values once.
    long keys = 0;
    for (const AttentionSpan& s : a.spans) keys += static_cast<long>(s.rows) * (s.pos + (s.rows + 1) / 2);
    const double item_bytes = static_cast<double>(keys) / a.m * 2 * a.head_size * sizeof(float);
    ctx.parallel_for(items, item_bytes, [&](int begin, int end, int slot) {
        float* att = ctx.scratch(att_size, slot);
        // The span of the piece's first row; the piece's later rows walk forward from it.
        auto span = std::upper_bound(a.spans.begin(), a.spans.end(), begin / a.n_heads,
                                     [](int row, const AttentionSpan& s) { return row < s.first_row; }) - 1;
        for (int item = begin; item < end; item++) {
            const int r = item / a.n_heads;
            while (r >= span->first_row + span->rows) ++span;
            simd_head::attend_one(a, *span, r - span->first_row, item % a.n_heads, att);
        }
    });
}

extern const AttentionKernel tbb{
    "attention.tbb", "attention.simd's per-head code, (query row, head) pairs in parallel in the TBB arena", 1e-5f,
    kIsa, run_tbb,
};

}  // namespace wb::WB_ISA_NS::attention
