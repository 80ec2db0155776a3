// matmul.tbb: the tiled kernel's strips shared out over the context's task arena.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

#include "kernels/exec_context.h"
#include "kernels/matmul/tiled.h"

namespace wb::matmul {

static void run_tbb(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const float* a = gemm::pack_activations(x, m, w.n, ctx);
    const int n_strips = gemm::strips(w);
    if (ctx.threads() == 1) {  // one thread: skip the arena's fork and join on every call
        gemm::run_strips(w, a, x, y, m, 0, n_strips);
        return;
    }
    // Each task streams a few hundred KiB of weights, and there are several tasks per thread.
    const long strip_bytes = static_cast<long>(w.n) * gemm::kNR * static_cast<long>(sizeof(float));
    const int by_bytes = static_cast<int>(std::max<long>(1, (256L << 10) / strip_bytes));
    const int grain = std::max(1, std::min(by_bytes, n_strips / (4 * ctx.threads())));
    ctx.arena().execute([&] {
        tbb::parallel_for(tbb::blocked_range<int>(0, n_strips, grain), [&](const tbb::blocked_range<int>& r) {
            gemm::run_strips(w, a, x, y, m, r.begin(), r.end());
        });
    });
}

extern const MatmulKernel tbb{
    "matmul.tbb", "matmul.tiled's strips in parallel over the TBB arena (grain: a few hundred KiB of weights)", 2e-6f, 4.0f,
    always_available, gemm::pack_weights, run_tbb,
};

}  // namespace wb::matmul
