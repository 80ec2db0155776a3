// SIMD helpers shared by the kernels, on top of xsimd. In a source compiled per level (kernels/level.h) a batch
// is that level's widest float vector: 16 lanes at AVX-512, 8 at AVX2, 4 at the SSE2 baseline.
#pragma once

#include <xsimd/xsimd.hpp>

#include "kernels/level.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wb::WB_ISA_NS::vec {

using batch = xsimd::batch<float>;

// a * b + c in one rounding where the level has FMA. xsimd 8.1 has no AVX-512 fma kernel and falls back to
// a * b + c, which the build's -ffp-contract=off keeps as two instructions; the SSE2 baseline has no FMA at all.
inline batch fmadd(const batch& a, const batch& b, const batch& c) {
#if defined(__AVX512F__)
    static_assert(batch::size == 16);
    return _mm512_fmadd_ps(a, b, c);
#elif defined(__AVX2__) && defined(__FMA__)
    static_assert(batch::size == 8);
    return _mm256_fmadd_ps(a, b, c);
#else
    return xsimd::fma(a, b, c);
#endif
}

// Asks for the cache line holding p ahead of its use.
inline void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }

// A register tile of R rows x two vectors (c0 | c1) written to C (rows ldc floats apart), added to what C holds
// when accumulating (a later depth pass of a blocked GEMM).
template <int R>
inline void store_tile(const batch (&c0)[R], const batch (&c1)[R], float* C, long ldc, bool accumulate) {
    for (int r = 0; r < R; r++) {
        float* c = C + r * ldc;
        batch lo = c0[r], hi = c1[r];
        if (accumulate) {
            lo += batch::load_unaligned(c);
            hi += batch::load_unaligned(c + batch::size);
        }
        lo.store_unaligned(c);
        hi.store_unaligned(c + batch::size);
    }
}

}  // namespace wb::WB_ISA_NS::vec
