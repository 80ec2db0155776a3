// matmul.tiled: the fp32 microkernel family of the blocked GEMM driver (tiled.h); for m = 1 a matvec
// over the same strips.
#include "kernels/matmul/tiled.h"

#include "kernels/simd.h"

namespace wb::matmul::gemm {

using batch = wb::simd::batch;
static_assert(F32::kNR == 2 * batch::size, "the microkernel holds a strip row in two vectors");

void F32::tile(int kc, const float* A, const float* B, float* C, long ldc, bool accumulate) {
    batch c0[kMR], c1[kMR];
    for (int r = 0; r < kMR; r++) c0[r] = c1[r] = batch(0.0f);
    for (int k = 0; k < kc; k++) {
        const batch b0 = batch::load_aligned(B + k * kNR);
        const batch b1 = batch::load_aligned(B + k * kNR + batch::size);
        for (int r = 0; r < kMR; r++) {
            const batch a(A[k * kMR + r]);
            c0[r] = wb::simd::fmadd(a, b0, c0[r]);
            c1[r] = wb::simd::fmadd(a, b1, c1[r]);
        }
    }
    for (int r = 0; r < kMR; r++) {
        float* c = C + r * ldc;
        if (accumulate) {
            c0[r] += batch::load_unaligned(c);
            c1[r] += batch::load_unaligned(c + batch::size);
        }
        c0[r].store_unaligned(c);
        c1[r].store_unaligned(c + batch::size);
    }
}

// The strip's rows this far ahead (4 KiB) are asked for while these are summed: the hardware prefetcher alone
// leaves a core short of the L3's bandwidth (stories15M decode, side by side: 1.04x at 2 threads, 1.06x at 1).
constexpr long kPrefetchRows = 32;

void F32::matvec(const float* B, long n, const float* x, float* y) {
    batch a0(0.0f), a1(0.0f), b0(0.0f), b1(0.0f);  // two k-phases hide the FMA latency
    long k = 0;
    for (; k + 2 <= n; k += 2) {
        const float* ahead = B + (k + kPrefetchRows) * kNR;  // a prefetch past the strip's end never faults
        for (int line = 0; line < 2 * kNR; line += 16) _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
        const batch x0(x[k]), x1(x[k + 1]);
        a0 = wb::simd::fmadd(x0, batch::load_aligned(B + k * kNR), a0);
        a1 = wb::simd::fmadd(x0, batch::load_aligned(B + k * kNR + batch::size), a1);
        b0 = wb::simd::fmadd(x1, batch::load_aligned(B + (k + 1) * kNR), b0);
        b1 = wb::simd::fmadd(x1, batch::load_aligned(B + (k + 1) * kNR + batch::size), b1);
    }
    for (; k < n; k++) {
        const batch xk(x[k]);
        a0 = wb::simd::fmadd(xk, batch::load_aligned(B + k * kNR), a0);
        a1 = wb::simd::fmadd(xk, batch::load_aligned(B + k * kNR + batch::size), a1);
    }
    (a0 + b0).store_unaligned(y);
    (a1 + b1).store_unaligned(y + batch::size);
}

}  // namespace wb::matmul::gemm

namespace wb::matmul {

extern const MatmulKernel tiled{
    "matmul.tiled", "BLIS-style blocked GEMM, weights packed at load into 32-column strips, 8x32 microkernel", 2e-6f, 4.0f,
    always_available, gemm::pack_weights<gemm::F32>, gemm::run<gemm::F32>,
};

}  // namespace wb::matmul
