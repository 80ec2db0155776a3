// matmul.bf16 and matmul.tbb-bf16 on any vector level: weights stored as bfloat16 at load (half the bytes of fp32),
// packed into the blocked GEMM driver's strips (tiled.h) with pairs of consecutive k side by side in each 32-bit
// lane, as the AVX512-BF16 rows (bf16_dot.cpp) take them. Here a lane's low half (even k) and high half (odd k)
// are widened to fp32 in registers (a bf16 is the top half of a float) against fp32 activations with FMA.
#include <cstdint>

#include "kernels/level.h"
#include "kernels/matmul/tiled.h"
#include "kernels/simd.h"

namespace wb::WB_ISA_NS::matmul {

namespace gemm = wb::matmul::gemm;

namespace {

using batch = vec::batch;
using words = xsimd::batch<std::uint32_t>;

float identity(float x) { return x; }

// The even-k and odd-k weights of one step's lanes.
inline batch even_k(const words& v) { return xsimd::bitwise_cast<batch>(v << 16); }
inline batch odd_k(const words& v) { return xsimd::bitwise_cast<batch>(v & words(0xFFFF0000u)); }
inline words step(const std::uint16_t* p) { return words::load_aligned(reinterpret_cast<const std::uint32_t*>(p)); }

struct Bf16Widening {
    using Weight = std::uint16_t;
    using Activation = float;
    static constexpr int kMR = batch::size == 16 ? 8 : 4;  // 4 rows x 2 vectors below AVX-512: 8 of 16 registers
    static constexpr int kNR = 2 * static_cast<int>(batch::size);
    static constexpr int kDepth = 2;
    static constexpr gemm::Blocking kBlocking{256, 8};
    static constexpr auto weight = f32_to_bf16;
    static constexpr auto activation = identity;

    static void tile(int kc, const float* A, const std::uint16_t* B, float* C, long ldc, bool accumulate) {
        batch c0[kMR], c1[kMR];
        for (int r = 0; r < kMR; r++) c0[r] = c1[r] = batch(0.0f);
        for (int k = 0; k < kc; k += 2) {
            const words v0 = step(B + k * kNR), v1 = step(B + k * kNR + kNR);
            const batch even0 = even_k(v0), odd0 = odd_k(v0), even1 = even_k(v1), odd1 = odd_k(v1);
            for (int r = 0; r < kMR; r++) {
                const batch xe(A[k * kMR + 2 * r]), xo(A[k * kMR + 2 * r + 1]);
                c0[r] = vec::fmadd(xo, odd0, vec::fmadd(xe, even0, c0[r]));
                c1[r] = vec::fmadd(xo, odd1, vec::fmadd(xe, even1, c1[r]));
            }
        }
        vec::store_tile(c0, c1, C, ldc, accumulate);
    }

    static void matvec(const std::uint16_t* B, long n, const float* x, float* y) {
        batch a0(0.0f), a1(0.0f), b0(0.0f), b1(0.0f);  // even and odd k accumulate apart
        for (long k = 0; k < n; k += 2) {
            const words v0 = step(B + k * kNR), v1 = step(B + k * kNR + kNR);
            const batch xe(x[k]), xo(x[k + 1]);
            a0 = vec::fmadd(xe, even_k(v0), a0);
            a1 = vec::fmadd(xe, even_k(v1), a1);
            b0 = vec::fmadd(xo, odd_k(v0), b0);
            b1 = vec::fmadd(xo, odd_k(v1), b1);
        }
        (a0 + b0).store_unaligned(y);
        (a1 + b1).store_unaligned(y + batch::size);
    }
};

}  // namespace

extern const MatmulKernel bf16{
    "matmul.bf16", "bfloat16 weights in strips of k pairs, widened to fp32 in registers, fp32 activations and FMA", 5e-3f,
    DType::bf16, Holding::packs, kIsa, gemm::pack_weights<Bf16Widening>, gemm::run<Bf16Widening>,
};

extern const MatmulKernel tbb_bf16{
    "matmul.tbb-bf16", "matmul.bf16's strips or row panels in parallel over the TBB arena, one piece per thread", 5e-3f,
    DType::bf16, Holding::packs, kIsa, gemm::pack_weights<Bf16Widening>, gemm::run_parallel<Bf16Widening>,
};

}  // namespace wb::WB_ISA_NS::matmul
