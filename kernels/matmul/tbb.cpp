// matmul.tbb: the tiled kernel's strips shared out over the context's task arena; for_strips also
// serves the other packed GEMMs (matmul.tbb-bf16).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

#include "kernels/exec_context.h"
#include "kernels/matmul/tiled.h"

namespace wb::matmul::gemm {

void for_strips(ExecContext& ctx, int n_strips, long strip_bytes, const std::function<void(int, int)>& body) {
    if (ctx.threads() == 1) {  // one thread: skip the arena's fork and join on every call
        body(0, n_strips);
        return;
    }
    // Each task streams a few hundred KiB of weights, and there are several tasks per thread.
    const int by_bytes = static_cast<int>(std::max<long>(1, (256L << 10) / strip_bytes));
    const int grain = std::max(1, std::min(by_bytes, n_strips / (4 * ctx.threads())));
    ctx.arena().execute([&] {
        tbb::parallel_for(tbb::blocked_range<int>(0, n_strips, grain),
                          [&](const tbb::blocked_range<int>& r) { body(r.begin(), r.end()); });
    });
}

}  // namespace wb::matmul::gemm

namespace wb::matmul {

extern const MatmulKernel tbb{
    "matmul.tbb", "matmul.tiled's strips in parallel over the TBB arena (grain: a few hundred KiB of weights)", 2e-6f, 4.0f,
    always_available, gemm::pack_weights<gemm::F32>, gemm::run_parallel<gemm::F32>,
};

}  // namespace wb::matmul
