// matmul.tiled: cache-blocked GEMM on weights packed at load; for m = 1 a matvec over the same strips.
#include "kernels/matmul/tiled.h"

#include "kernels/simd.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels/exec_context.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul::gemm {

namespace {

using batch = wb::simd::batch;
static_assert(kNR == 2 * batch::size, "the microkernel holds a strip row in two vectors");

// C[kMR x kNR] (+)= A[kc][kMR] . B[kc][kNR]; rows/cols limit what is written back (edge tiles).
void microkernel(int kc, const float* A, const float* B, float* C, long ldc, int rows, int cols, bool accumulate) {
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
    if (rows == kMR && cols == kNR) {
        for (int r = 0; r < kMR; r++) {
            float* c = C + r * ldc;
            if (accumulate) {
                c0[r] += batch::load_unaligned(c);
                c1[r] += batch::load_unaligned(c + batch::size);
            }
            c0[r].store_unaligned(c);
            c1[r].store_unaligned(c + batch::size);
        }
        return;
    }
    alignas(64) float tile[kMR][kNR];
    for (int r = 0; r < kMR; r++) {
        c0[r].store_aligned(tile[r]);
        c1[r].store_aligned(tile[r] + batch::size);
    }
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < cols; j++) C[r * ldc + j] = accumulate ? C[r * ldc + j] + tile[r][j] : tile[r][j];
    }
}

// y[s*kNR ..] = strip s . x, for one activation row.
void matvec_strip(const float* B, long n, const float* x, float* y, int cols) {
    batch a0(0.0f), a1(0.0f), b0(0.0f), b1(0.0f);  // two k-phases hide the FMA latency
    long k = 0;
    for (; k + 2 <= n; k += 2) {
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
    a0 += b0;
    a1 += b1;
    if (cols == kNR) {
        a0.store_unaligned(y);
        a1.store_unaligned(y + batch::size);
        return;
    }
    alignas(64) float out[kNR];
    a0.store_aligned(out);
    a1.store_aligned(out + batch::size);
    std::memcpy(y, out, static_cast<std::size_t>(cols) * sizeof(float));
}

// Rows [0, rows) of src[rows x n] packed into strips of `width` rows, each [n][width], zero-padded.
void pack_strips(const float* src, long rows, long n, long width, float* dst) {
    for (long s = 0; s * width < rows; s++) {
        float* strip = dst + s * n * width;
        for (long k = 0; k < n; k++) {
            for (long j = 0; j < width; j++) {
                const long row = s * width + j;
                strip[k * width + j] = row < rows ? src[row * n + k] : 0.0f;
            }
        }
    }
}

}  // namespace

int strips(const PackedWeight& w) { return (w.d + kNR - 1) / kNR; }

PackedWeight pack_weights(const WeightView& view, ExecContext& ctx) {
    const PackedWeight src = prepare_f32(view, ctx);
    const auto* W = static_cast<const float*>(src.data);
    const long n = src.n, d = src.d, n_strips = (d + kNR - 1) / kNR;
    std::shared_ptr<void> storage = aligned_buffer(static_cast<std::size_t>(n_strips * n * kNR) * sizeof(float));
    pack_strips(W, d, n, kNR, static_cast<float*>(storage.get()));
    return owning(std::move(storage), src);
}

const float* pack_activations(const float* x, int m, int n, ExecContext& ctx) {
    if (m == 1) return nullptr;
    const long panels = (m + kMR - 1) / kMR;
    float* a = ctx.scratch(static_cast<std::size_t>(panels * n * kMR));
    pack_strips(x, m, n, kMR, a);
    return a;
}

void run_strips(const PackedWeight& w, const float* a, const float* x, float* y, int m, int s0, int s1) {
    const auto* B = static_cast<const float*>(w.data);
    const long n = w.n, d = w.d;
    if (m == 1) {
        for (long s = s0; s < s1; s++) {
            matvec_strip(B + s * n * kNR, n, x, y + s * kNR, static_cast<int>(std::min<long>(kNR, d - s * kNR)));
        }
        return;
    }
    const long panels = (m + kMR - 1) / kMR;
    for (long jc = s0; jc < s1; jc += kBlocking.nc_strips) {
        const long jc_end = std::min<long>(s1, jc + kBlocking.nc_strips);
        for (long pc = 0; pc < n; pc += kBlocking.kc) {
            const int kc = static_cast<int>(std::min<long>(kBlocking.kc, n - pc));
            for (long s = jc; s < jc_end; s++) {
                const float* Bp = B + s * n * kNR + pc * kNR;
                const int cols = static_cast<int>(std::min<long>(kNR, d - s * kNR));
                for (long p = 0; p < panels; p++) {
                    const int rows = static_cast<int>(std::min<long>(kMR, m - p * kMR));
                    microkernel(kc, a + p * n * kMR + pc * kMR, Bp, y + p * kMR * d + s * kNR, d, rows, cols, pc > 0);
                }
            }
        }
    }
}

}  // namespace wb::matmul::gemm

namespace wb::matmul {

static void run_tiled(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const float* a = gemm::pack_activations(x, m, w.n, ctx);
    gemm::run_strips(w, a, x, y, m, 0, gemm::strips(w));
}

extern const MatmulKernel tiled{
    "matmul.tiled", "BLIS-style blocked GEMM, weights packed at load into 32-column strips, 8x32 microkernel", 2e-6f, 4.0f,
    always_available, gemm::pack_weights, run_tiled,
};

}  // namespace wb::matmul
