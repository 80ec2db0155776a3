// matmul.simd: a dot-product matvec. Weights are repacked at load so each group of four rows is one
// sequential stream ([chunk of one batch of columns][4 rows][batch]), zero-padded, so the loop has no ragged
// tail. For m > 1 it runs row by row. Compiled once per vector level (kernels/level.h).
#include <cstdlib>
#include <memory>
#include <new>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"
#include "kernels/level.h"
#include "kernels/matmul/f32.h"
#include "kernels/simd.h"

namespace wb::WB_ISA_NS::matmul {

using wb::matmul::owning;
using wb::matmul::prepare_f32;

namespace {

using batch = vec::batch;
constexpr long kLanes = batch::size;
constexpr long kRows = 4;  // rows sharing each load of x

long padded_n(long n) { return (n + kLanes - 1) / kLanes * kLanes; }

PackedWeight pack_simd(const WeightView& view, ExecContext& ctx) {
    const PackedWeight src = prepare_f32(view, ctx);
    const auto* W = static_cast<const float*>(src.data);
    const long d = src.d, n = src.n, np = padded_n(n), groups = (d + kRows - 1) / kRows;
    std::shared_ptr<void> storage = ctx.weight_buffer(static_cast<std::size_t>(groups * kRows * np) * sizeof(float));
    auto* buf = static_cast<float*>(storage.get());
    for (long g = 0; g < groups; g++) {
        for (long c = 0; c < np; c += kLanes) {
            float* dst = buf + (g * np + c) * kRows;
            for (long r = 0; r < kRows; r++) {
                const long row = g * kRows + r;
                for (long j = 0; j < kLanes; j++) {
                    dst[r * kLanes + j] = row < d && c + j < n ? W[row * n + c + j] : 0.0f;
                }
            }
        }
    }
    return owning(std::move(storage), src);
}

void run_simd(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const auto* P = static_cast<const float*>(w.data);
    const long d = w.d, n = w.n, np = padded_n(n), groups = (d + kRows - 1) / kRows;
    float* xp = ctx.scratch(static_cast<std::size_t>(np));
    for (int r = 0; r < m; r++) {
        for (long j = 0; j < np; j++) xp[j] = j < n ? x[r * n + j] : 0.0f;
        float* yr = y + r * d;
        for (long g = 0; g < groups; g++) {
            const float* p = P + g * np * kRows;
            batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
            for (long c = 0; c < np; c += kLanes, p += kRows * kLanes) {
                const batch xv = batch::load_aligned(xp + c);
                a0 = vec::fmadd(batch::load_aligned(p), xv, a0);
                a1 = vec::fmadd(batch::load_aligned(p + kLanes), xv, a1);
                a2 = vec::fmadd(batch::load_aligned(p + 2 * kLanes), xv, a2);
                a3 = vec::fmadd(batch::load_aligned(p + 3 * kLanes), xv, a3);
            }
            const float sums[kRows] = {xsimd::hadd(a0), xsimd::hadd(a1), xsimd::hadd(a2), xsimd::hadd(a3)};
            for (long k = 0; k < kRows && g * kRows + k < d; k++) yr[g * kRows + k] = sums[k];
        }
    }
}

}  // namespace

extern const MatmulKernel simd{
    "matmul.simd", "xsimd FMA dot products, 4 rows interleaved at load into one stream; row by row for m > 1", 2e-6f,
    DType::f32, Holding::packs, kIsa, pack_simd, run_simd,
};

}  // namespace wb::WB_ISA_NS::matmul
