// The BLIS-style GEMM driver shared by the packed kernels (matmul.tiled, matmul.tbb, the bf16 ones, at every level):
// weights packed once into strips of kNR output columns, activations packed per call into strips of
// kMR rows, a kMR x kNR register-blocked microkernel, and a blocking loop whose block sizes are data.
// The driver is generic over a microkernel family, a struct of types, sizes and two functions:
//   Weight, Activation             the packed element types
//   kMR, kNR                       the register tile: activation rows x output columns
//   kDepth                         consecutive k values side by side in a strip (2 for vdpbf16ps' pairs)
//   kBlocking                      the block sizes
//   weight(float), activation(float)  one element converted for packing
//   tile(kc, A, B, C, ldc, accumulate)   C[kMR x kNR] (+)= A[kc][kMR] . B[kc][kNR], kc a multiple of kDepth
//   matvec(B, n, x, y)             y[kNR] = x[n] . one whole strip of n (padded) rows
// A strip of `width` rows over n (padded to kDepth) is laid out [n / kDepth][width][kDepth].
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul::gemm {

struct Blocking {
    int kc;         // depth of one pass: a kc x kNR weight micro-panel stays in L1
    int nc_strips;  // strips per column block: their C tiles stay in L2 across the depth passes
};

template <class M>
long depth(long n) {
    return (n + M::kDepth - 1) / M::kDepth * M::kDepth;
}

template <class M>
int strips(const PackedWeight& w) {
    return (w.d + M::kNR - 1) / M::kNR;
}

// Rows [0, rows) of src[rows x n] converted and packed into strips of `width` rows, zero-padded.
template <class M, auto convert, class T>
void pack_strips(const float* src, long rows, long n, long width, T* dst) {
    constexpr long D = M::kDepth;
    const long np = depth<M>(n);
    for (long s = 0; s * width < rows; s++) {
        T* strip = dst + s * np * width;
        const long valid = std::min(width, rows - s * width);
        if (valid < width || np > n) std::fill_n(strip, np * width, T{});
        for (long j = 0; j < valid; j++) {
            const float* row = src + (s * width + j) * n;
            T* out = strip + j * D;
            long k = 0;
            for (; k + D <= n; k += D, out += width * D) {
                for (long t = 0; t < D; t++) out[t] = convert(row[k + t]);
            }
            for (long t = 0; k + t < n; t++) out[t] = convert(row[k + t]);
        }
    }
}

template <class M>
PackedWeight pack_weights(const WeightView& view, ExecContext& ctx) {
    const PackedWeight src = prepare_f32(view, ctx);
    const long d = src.d, n_strips = strips<M>(src);
    std::shared_ptr<void> storage =
        ctx.weight_buffer(static_cast<std::size_t>(n_strips * M::kNR * depth<M>(src.n)) * sizeof(typename M::Weight));
    pack_strips<M, M::weight>(static_cast<const float*>(src.data), d, src.n, M::kNR,
                              static_cast<typename M::Weight*>(storage.get()));
    return owning(std::move(storage), src);
}

// Up to this many rows run as one matvec per row over each strip: the strip comes from memory once and
// from cache for the other rows, where a register tile would spend kMR rows of work on each (batched decode).
constexpr int kMatvecRows = 4;

// x[m x n] in the microkernel's layout, once per call (scratch slot 0): ceil(m / kMR) strips of kMR rows,
// or for m <= kMatvecRows the rows themselves, each padded to depth (x when they need no conversion or padding).
template <class M>
const typename M::Activation* pack_activations(const float* x, int m, int n, ExecContext& ctx) {
    using A = typename M::Activation;
    if constexpr (std::is_same_v<A, float>) {
        if (m <= kMatvecRows && n % M::kDepth == 0) return x;
    }
    const long width = m <= kMatvecRows ? 1 : M::kMR, count = (m + width - 1) / width * width * depth<M>(n);
    auto* a = reinterpret_cast<A*>(ctx.scratch((static_cast<std::size_t>(count) * sizeof(A) + 3) / 4));
    pack_strips<M, M::activation>(x, m, n, width, a);
    return a;
}

// y[:, columns of strips s0 .. s1) for all m rows; a is pack_activations' result.
template <class M>
void run_strips(const PackedWeight& w, const typename M::Activation* a, float* y, int m, int s0, int s1) {
    constexpr int MR = M::kMR, NR = M::kNR;
    const auto* B = static_cast<const typename M::Weight*>(w.data);
    const long n = depth<M>(w.n), d = w.d;
    alignas(64) float edge[MR * NR];  // an edge tile's result before its valid part is written back
    if (m <= kMatvecRows) {
        for (long s = s0; s < s1; s++) {
            const long cols = std::min<long>(NR, d - s * NR);
            for (long r = 0; r < m; r++) {
                float* out = y + r * d + s * NR;
                M::matvec(B + s * n * NR, n, a + r * n, cols == NR ? out : edge);
                if (cols < NR) std::copy_n(edge, cols, out);
            }
        }
        return;
    }
    const long panels = (m + MR - 1) / MR;
    for (long jc = s0; jc < s1; jc += M::kBlocking.nc_strips) {
        const long jc_end = std::min<long>(s1, jc + M::kBlocking.nc_strips);
        for (long pc = 0; pc < n; pc += M::kBlocking.kc) {
            const int kc = static_cast<int>(std::min<long>(M::kBlocking.kc, n - pc));
            for (long s = jc; s < jc_end; s++) {
                const auto* Bp = B + s * n * NR + pc * NR;
                const long cols = std::min<long>(NR, d - s * NR);
                for (long p = 0; p < panels; p++) {
                    const long rows = std::min<long>(MR, m - p * MR);
                    const auto* Ap = a + p * n * MR + pc * MR;
                    float* C = y + p * MR * d + s * NR;
                    if (rows == MR && cols == NR) {
                        M::tile(kc, Ap, Bp, C, d, pc > 0);
                        continue;
                    }
                    M::tile(kc, Ap, Bp, edge, NR, false);
                    for (long r = 0; r < rows; r++) {
                        for (long j = 0; j < cols; j++) C[r * d + j] = pc > 0 ? C[r * d + j] + edge[r * NR + j] : edge[r * NR + j];
                    }
                }
            }
        }
    }
}

template <class M>
void run(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_strips<M>(w, pack_activations<M>(x, m, w.n, ctx), y, m, 0, strips<M>(w));
}

// run<M> over the context's threads; activations are packed once, before. Work is shared out by strips, or,
// for a GEMM of few strips (9 strips split 5 and 4 over two threads), by row panels times strips: each thread
// then takes its panels' rows against every strip, which the other thread's reads bring into the shared cache.
template <class M>
void run_parallel(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const typename M::Activation* a = pack_activations<M>(x, m, w.n, ctx);
    const int n_strips = strips<M>(w);
    const long n = depth<M>(w.n), panels = m <= kMatvecRows ? 1 : (m + M::kMR - 1) / M::kMR;
    int groups = n_strips < 8 * ctx.threads() && panels >= ctx.threads() ? ctx.threads() : 1;
    auto first_panel = [&](int g) { return g * panels / groups; };
    auto first_row = [&](int g) { return g == groups ? m : static_cast<int>(first_panel(g) * M::kMR); };
    // A group of a few rows would take run_strips' matvec path on rows packed as panels.
    for (int g = 0; g < groups; g++) {
        if (first_row(g + 1) - first_row(g) <= kMatvecRows) groups = 1;
    }
    // A strip streams its weights once and costs its group's rows of multiply-adds (kMR rows a tile).
    const long strip_bytes =
        n * M::kNR * static_cast<long>(sizeof(typename M::Weight)) * std::max<long>(1, panels / groups);
    ctx.parallel_for(groups * n_strips, static_cast<double>(strip_bytes), [&](int begin, int end, int) {
        for (int i = begin; i < end;) {
            const int g = i / n_strips, s0 = i % n_strips, s1 = std::min(n_strips, s0 + (end - i));
            const int r0 = first_row(g);
            run_strips<M>(w, a + first_panel(g) * n * M::kMR, y + static_cast<long>(r0) * w.d, first_row(g + 1) - r0,
                          s0, s1);
            i += s1 - s0;
        }
    });
}

}  // namespace wb::matmul::gemm
