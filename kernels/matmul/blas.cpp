// matmul.blas: OpenBLAS sgemv (decode) and sgemm (prefill) on the checkpoint's own row-major weights.
#include <cblas.h>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"
#include "kernels/matmul/blas.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul {

static void run_blas(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    openblas_set_num_threads(ctx.threads());
    const auto* W = static_cast<const float*>(w.data);
    if (m == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, w.d, w.n, 1.0f, W, w.n, x, 1, 0.0f, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w.d, w.n, 1.0f, x, w.n, W, w.n, 0.0f, y, w.d);
    }
}

extern const MatmulKernel blas{
    "matmul.blas", "OpenBLAS cblas_sgemv for m = 1, cblas_sgemm for m > 1, OpenBLAS threads = run threads", 2e-6f, DType::f32,
    Holding::views, Isa::scalar, prepare_f32, run_blas,
};

}  // namespace wb::matmul

namespace wb {

std::string blas_core() {
    const char* name = openblas_get_corename();
    return name != nullptr ? name : "";
}

}  // namespace wb
