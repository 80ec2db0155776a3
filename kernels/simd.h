// SIMD helpers shared by the kernels, on top of xsimd.
#pragma once

#include <immintrin.h>

#include <xsimd/xsimd.hpp>

namespace wb::simd {

using batch = xsimd::batch<float>;

// a * b + c in one rounding. xsimd 8.1 has no AVX-512 fma kernel and falls back to a * b + c,
// which the build's -ffp-contract=off keeps as two instructions.
inline batch fmadd(const batch& a, const batch& b, const batch& c) {
#if defined(__AVX512F__)
    static_assert(batch::size == 16);
    return _mm512_fmadd_ps(a, b, c);
#else
    return xsimd::fma(a, b, c);
#endif
}

}  // namespace wb::simd
