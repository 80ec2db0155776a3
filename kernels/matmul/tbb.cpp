// matmul.tbb: the tiled kernel's strips shared out over the context's task arena; for_strips also
// serves the other packed GEMMs (matmul.tbb-bf16).
#include "kernels/exec_context.h"
#include "kernels/matmul/tiled.h"

namespace wb::matmul::gemm {

void for_strips(ExecContext& ctx, int n_strips, long strip_bytes, const std::function<void(int, int)>& body) {
    ctx.parallel_for(n_strips, static_cast<double>(strip_bytes), [&](int s0, int s1, int) { body(s0, s1); });
}

}  // namespace wb::matmul::gemm

namespace wb::matmul {

extern const MatmulKernel tbb{
    "matmul.tbb", "matmul.tiled's strips in parallel over the TBB arena, one piece per thread", 2e-6f, 4.0f,
    always_available, gemm::pack_weights<gemm::F32>, gemm::run_parallel<gemm::F32>,
};

}  // namespace wb::matmul
