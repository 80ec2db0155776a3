// matmul.tbb: the tiled kernel's strips (or, for few strips, its row panels) shared out over the context's
// threads by gemm::run_parallel, which also serves matmul.tbb-bf16.
#include "kernels/matmul/tiled.h"

namespace wb::matmul {

extern const MatmulKernel tbb{
    "matmul.tbb", "matmul.tiled's strips or row panels in parallel over the TBB arena, one piece per thread", 2e-6f, 4.0f,
    always_available, gemm::pack_weights<gemm::F32>, gemm::run_parallel<gemm::F32>,
};

}  // namespace wb::matmul
