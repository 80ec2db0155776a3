// matmul.simd: row-major weights as stored; four output rows share each load of x, so four
// independent sequential streams keep the prefetchers busy. Built for decode (m = 1).
#include <xsimd/xsimd.hpp>

#include "kernels/kernel.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul {

namespace {

using batch = xsimd::batch<float>;
constexpr long kLanes = batch::size;

// y[i] = W[i,:] . x for rows [begin, end); n columns, any n.
void rows(const float* W, long n, const float* x, float* y, long begin, long end) {
    const long body = n - n % kLanes;
    long i = begin;
    for (; i + 4 <= end; i += 4) {
        const float* w0 = W + i * n;
        const float* w1 = w0 + n;
        const float* w2 = w1 + n;
        const float* w3 = w2 + n;
        batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
        for (long j = 0; j < body; j += kLanes) {
            const batch xv = batch::load_unaligned(x + j);
            a0 = xsimd::fma(batch::load_unaligned(w0 + j), xv, a0);
            a1 = xsimd::fma(batch::load_unaligned(w1 + j), xv, a1);
            a2 = xsimd::fma(batch::load_unaligned(w2 + j), xv, a2);
            a3 = xsimd::fma(batch::load_unaligned(w3 + j), xv, a3);
        }
        y[i] = xsimd::hadd(a0) + dot_tail(w0, x, body, n);
        y[i + 1] = xsimd::hadd(a1) + dot_tail(w1, x, body, n);
        y[i + 2] = xsimd::hadd(a2) + dot_tail(w2, x, body, n);
        y[i + 3] = xsimd::hadd(a3) + dot_tail(w3, x, body, n);
    }
    for (; i < end; i++) {
        const float* w = W + i * n;
        batch a(0.0f);
        for (long j = 0; j < body; j += kLanes) a = xsimd::fma(batch::load_unaligned(w + j), batch::load_unaligned(x + j), a);
        y[i] = xsimd::hadd(a) + dot_tail(w, x, body, n);
    }
}

void run_simd(const PackedWeight& w, const float* x, float* y, int m, ExecContext&) {
    const auto* W = static_cast<const float*>(w.data);
    for (int r = 0; r < m; r++) rows(W, w.n, x + static_cast<long>(r) * w.n, y + static_cast<long>(r) * w.d, 0, w.d);
}

}  // namespace

extern const MatmulKernel simd{
    "matmul.simd", "xsimd FMA over stored rows, 4 rows per pass sharing x; row by row for m > 1", 2e-6f, 4.0f,
    always_available, prepare_f32, run_simd,
};

}  // namespace wb::matmul
