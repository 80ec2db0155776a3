// matmul.bf16 and matmul.tbb-bf16 at the AVX512-BF16 level: weights stored as bfloat16 at load, packed into the
// blocked GEMM driver's strips (tiled.h) with pairs of consecutive k side by side, as vdpbf16ps takes them:
// each 32-bit lane holds one output column's two weights. Activations are converted to bf16 once per call.
// Below this level the same kernels widen the weights in registers instead (bf16.vec.cpp).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernel.h"
#include "kernels/level.h"
#include "kernels/matmul/tiled.h"

namespace wb::WB_ISA_NS::matmul {

namespace gemm = wb::matmul::gemm;

namespace {

// The two bf16 values at p as one 32-bit lane, for a broadcast.
int pair(const std::uint16_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// vdpbf16ps on bf16 activations: lane c of a step accumulates x[k] w[c][k] + x[k+1] w[c][k+1].
struct Bf16Dot {
    using Weight = std::uint16_t;
    using Activation = std::uint16_t;
    static constexpr int kMR = 8;  // 8 rows x 2 vectors of 16 columns: 16 accumulators
    static constexpr int kNR = 32;
    static constexpr int kDepth = 2;
    static constexpr gemm::Blocking kBlocking{256, 8};  // a 256 x 32 bf16 micro-panel is 16 KiB, half of L1
    static constexpr auto weight = f32_to_bf16;
    static constexpr auto activation = f32_to_bf16;

    static void tile(int kc, const std::uint16_t* A, const std::uint16_t* B,
                                                           float* C, long ldc, bool accumulate) {
        __m512 c0[kMR], c1[kMR];
        for (int r = 0; r < kMR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
        for (int k = 0; k < kc; k += 2) {
            const auto b0 = (__m512bh)_mm512_load_si512(B + k * kNR);
            const auto b1 = (__m512bh)_mm512_load_si512(B + k * kNR + 32);
            for (int r = 0; r < kMR; r++) {
                const auto a = (__m512bh)_mm512_set1_epi32(pair(A + k * kMR + 2 * r));
                c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
                c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
            }
        }
        for (int r = 0; r < kMR; r++) {
            float* c = C + r * ldc;
            if (accumulate) {
                c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(c));
                c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(c + 16));
            }
            _mm512_storeu_ps(c, c0[r]);
            _mm512_storeu_ps(c + 16, c1[r]);
        }
    }

    static void matvec(const std::uint16_t* B, long n, const std::uint16_t* x,
                                                             float* y) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;  // two pair-phases hide the latency
        long k = 0;
        for (; k + 4 <= n; k += 4) {
            const auto x0 = (__m512bh)_mm512_set1_epi32(pair(x + k)), x1 = (__m512bh)_mm512_set1_epi32(pair(x + k + 2));
            a0 = _mm512_dpbf16_ps(a0, x0, (__m512bh)_mm512_load_si512(B + k * kNR));
            a1 = _mm512_dpbf16_ps(a1, x0, (__m512bh)_mm512_load_si512(B + k * kNR + 32));
            b0 = _mm512_dpbf16_ps(b0, x1, (__m512bh)_mm512_load_si512(B + (k + 2) * kNR));
            b1 = _mm512_dpbf16_ps(b1, x1, (__m512bh)_mm512_load_si512(B + (k + 2) * kNR + 32));
        }
        for (; k < n; k += 2) {
            const auto xk = (__m512bh)_mm512_set1_epi32(pair(x + k));
            a0 = _mm512_dpbf16_ps(a0, xk, (__m512bh)_mm512_load_si512(B + k * kNR));
            a1 = _mm512_dpbf16_ps(a1, xk, (__m512bh)_mm512_load_si512(B + k * kNR + 32));
        }
        _mm512_storeu_ps(y, _mm512_add_ps(a0, b0));
        _mm512_storeu_ps(y + 16, _mm512_add_ps(a1, b1));
    }
};

}  // namespace

extern const MatmulKernel bf16{
    "matmul.bf16", "bfloat16 weights packed for vdpbf16ps (pairs of k per lane), activations converted once per call", 1e-2f, DType::bf16,
    Holding::packs, kIsa, gemm::pack_weights<Bf16Dot>, gemm::run<Bf16Dot>,
};

extern const MatmulKernel tbb_bf16{
    "matmul.tbb-bf16", "matmul.bf16's strips or row panels in parallel over the TBB arena, one piece per thread", 1e-2f, DType::bf16,
    Holding::packs, kIsa, gemm::pack_weights<Bf16Dot>, gemm::run_parallel<Bf16Dot>,
};

}  // namespace wb::WB_ISA_NS::matmul
