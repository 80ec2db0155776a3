// attention.simd's per-head code, with (query row, head) pairs spread over the context's TBB arena.
#include <algorithm>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "kernels/attention/simd_head.h"
#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::attention {

static void run_tbb(const AttentionArgs& a, ExecContext& ctx) {
    const std::size_t att_size = simd_head::attend_scratch_size(a);
    // Item r * n_heads + h: neighbouring heads share a kv head, so a chunk of items reuses cached keys.
    const int items = a.m * a.n_heads;
    ctx.arena().execute([&] {
        tbb::parallel_for(tbb::blocked_range<int>(0, items), [&](const tbb::blocked_range<int>& range) {
            float* att = ctx.scratch(att_size, tbb::this_task_arena::current_thread_index());
            // The span of the chunk's first row; the chunk's later rows walk forward from it.
            auto span = std::upper_bound(a.spans.begin(), a.spans.end(), range.begin() / a.n_heads,
                                         [](int row, const AttentionSpan& s) { return row < s.first_row; }) - 1;
            for (int item = range.begin(); item < range.end(); item++) {
                const int r = item / a.n_heads;
                while (r >= span->first_row + span->rows) ++span;
                simd_head::attend_one(a, *span, r - span->first_row, item % a.n_heads, att);
            }
        });
    });
}

extern const AttentionKernel tbb{
    "attention.tbb", "attention.simd's per-head code, (query row, head) pairs in parallel in the TBB arena", 1e-5f,
    always_available, run_tbb,
};

}  // namespace wb::attention
