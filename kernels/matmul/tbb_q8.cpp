// matmul.tbb-q8: matmul.q8's rows shared out over the context's task arena.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

#include "kernels/exec_context.h"
#include "kernels/matmul/q8.h"

namespace wb::matmul {

static void run_tbb_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const q8::Activations a = q8::quantize_activations(x, m, w.n, ctx);
    if (ctx.threads() == 1) {  // one thread: skip the arena's fork and join on every call
        q8::run_rows(q8::best_dot(), w, a, y, m, 0, w.d);
        return;
    }
    const int blocks = (w.d + q8::kRows - 1) / q8::kRows;
    const long block_bytes = static_cast<long>(q8::kRows) * w.n;
    const int by_bytes = static_cast<int>(std::max<long>(1, (256L << 10) / block_bytes));
    const int grain = std::max(1, std::min(by_bytes, blocks / (4 * ctx.threads())));
    const q8::Dot dot = q8::best_dot();
    ctx.arena().execute([&] {
        tbb::parallel_for(tbb::blocked_range<int>(0, blocks, grain), [&](const tbb::blocked_range<int>& r) {
            q8::run_rows(dot, w, a, y, m, r.begin() * q8::kRows, std::min(w.d, r.end() * q8::kRows));
        });
    });
}

extern const MatmulKernel tbb_q8{
    "matmul.tbb-q8", "matmul.q8's rows in parallel over the TBB arena", 3e-2f, 1.125f,
    q8::has_avx2, q8::pack_weights, run_tbb_q8,
};

}  // namespace wb::matmul
