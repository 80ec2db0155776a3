// matmul.tiled and matmul.tbb: the fp32 microkernel family of the blocked GEMM driver (tiled.h), sized by the
// level's vector (kernels/level.h); for m <= 4 a matvec per row over the same strips. matmul.tbb shares the
// strips (or, for few strips, the row panels) out over the context's threads with gemm::run_parallel.
#include "kernels/level.h"
#include "kernels/matmul/tiled.h"
#include "kernels/simd.h"

namespace wb::WB_ISA_NS::matmul {

namespace gemm = wb::matmul::gemm;

namespace {

using batch = vec::batch;

// fp32 weights and activations, FMA.
struct F32 {
    using Weight = float;
    using Activation = float;
    // kMR rows x two vectors of columns: 16 accumulators of 32 registers at AVX-512, 12 of 16 below it.
    static constexpr int kMR = batch::size == 16 ? 8 : 6;
    static constexpr int kNR = 2 * static_cast<int>(batch::size);
    static constexpr int kDepth = 1;
    static constexpr gemm::Blocking kBlocking{256, 8};
    static float weight(float w) { return w; }
    static float activation(float x) { return x; }
    static void tile(int kc, const float* A, const float* B, float* C, long ldc, bool accumulate);
    static void matvec(const float* B, long n, const float* x, float* y);
};

void F32::tile(int kc, const float* A, const float* B, float* C, long ldc, bool accumulate) {
    batch c0[kMR], c1[kMR];
    for (int r = 0; r < kMR; r++) c0[r] = c1[r] = batch(0.0f);
    for (int k = 0; k < kc; k++) {
        const batch b0 = batch::load_aligned(B + k * kNR);
        const batch b1 = batch::load_aligned(B + k * kNR + batch::size);
        for (int r = 0; r < kMR; r++) {
            const batch a(A[k * kMR + r]);
            c0[r] = vec::fmadd(a, b0, c0[r]);
            c1[r] = vec::fmadd(a, b1, c1[r]);
        }
    }
    vec::store_tile(c0, c1, C, ldc, accumulate);
}

// The strip's rows 4 KiB ahead are asked for while these are summed: the hardware prefetcher alone leaves a core
// short of the L3's bandwidth (stories15M decode on an AVX-512 Xeon, side by side: 1.04x at 2 threads, 1.06x at 1).
constexpr long kPrefetchRows = 4096 / (F32::kNR * sizeof(float));
constexpr int kLineFloats = 16;

void F32::matvec(const float* B, long n, const float* x, float* y) {
    batch a0(0.0f), a1(0.0f), b0(0.0f), b1(0.0f);  // two k-phases hide the FMA latency
    long k = 0;
    for (; k + 2 <= n; k += 2) {
        const float* ahead = B + (k + kPrefetchRows) * kNR;  // a prefetch past the strip's end never faults
        for (int line = 0; line < 2 * kNR; line += kLineFloats) vec::prefetch(ahead + line);
        const batch x0(x[k]), x1(x[k + 1]);
        a0 = vec::fmadd(x0, batch::load_aligned(B + k * kNR), a0);
        a1 = vec::fmadd(x0, batch::load_aligned(B + k * kNR + batch::size), a1);
        b0 = vec::fmadd(x1, batch::load_aligned(B + (k + 1) * kNR), b0);
        b1 = vec::fmadd(x1, batch::load_aligned(B + (k + 1) * kNR + batch::size), b1);
    }
    for (; k < n; k++) {
        const batch xk(x[k]);
        a0 = vec::fmadd(xk, batch::load_aligned(B + k * kNR), a0);
        a1 = vec::fmadd(xk, batch::load_aligned(B + k * kNR + batch::size), a1);
    }
    (a0 + b0).store_unaligned(y);
    (a1 + b1).store_unaligned(y + batch::size);
}

}  // namespace

extern const MatmulKernel tiled{
    "matmul.tiled", "BLIS-style blocked GEMM, weights packed at load into strips of two vectors of columns", 2e-6f, DType::f32,
    Holding::packs, kIsa, gemm::pack_weights<F32>, gemm::run<F32>,
};

extern const MatmulKernel tbb{
    "matmul.tbb", "matmul.tiled's strips or row panels in parallel over the TBB arena, one piece per thread", 2e-6f, DType::f32,
    Holding::packs, kIsa, gemm::pack_weights<F32>, gemm::run_parallel<F32>,
};

}  // namespace wb::WB_ISA_NS::matmul
