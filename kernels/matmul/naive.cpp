// The reference matmul: llama2.c's double loop, sequential float sums (built without fast-math).
#include "kernels/kernel.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul {

static void run_naive(const PackedWeight& w, const float* x, float* y, int m, ExecContext&) {
    const float* W = static_cast<const float*>(w.data);  // [d x n]
    const long n = w.n;
    for (int r = 0; r < m; r++) {
        const float* xr = x + r * n;
        float* yr = y + static_cast<long>(r) * w.d;
        for (long i = 0; i < w.d; i++) {
            float val = 0.0f;
            for (long j = 0; j < n; j++) val += W[i * n + j] * xr[j];
            yr[i] = val;
        }
    }
}

extern const MatmulKernel naive{
    "matmul.naive", "reference double loop, one sequential float sum per output", 0.0f, DType::f32, Holding::views,
    Isa::scalar,
    prepare_f32, run_naive,
};

}  // namespace wb::matmul
