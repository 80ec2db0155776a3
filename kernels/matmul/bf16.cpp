// matmul.bf16: weights stored as bfloat16 at load (half the bytes of fp32). AVX512-BF16 vdpbf16ps on
// bf16 activations where the CPU has it; matmul.bf16-widening widens the weights to fp32 in registers
// and keeps fp32 activations.
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul {

namespace {

constexpr int kPad = 32;  // rows padded with zeros to whole 32-element vectors

#if defined(__AVX512F__)
constexpr bool kAvx512 = true;
#else
constexpr bool kAvx512 = false;
#endif

bool has_avx512() { return kAvx512; }

long padded(long n) { return (n + kPad - 1) / kPad * kPad; }

std::uint16_t to_bf16(float f) {  // round to nearest even
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    return static_cast<std::uint16_t>(u >> 16);
}

PackedWeight pack_bf16(const WeightView& view, ExecContext& ctx) {
    const PackedWeight src = prepare_f32(view, ctx);
    const auto* W = static_cast<const float*>(src.data);
    const long d = src.d, n = src.n, np = padded(n);
    std::shared_ptr<void> storage = aligned_buffer(static_cast<std::size_t>(d * np) * sizeof(std::uint16_t));
    auto* buf = static_cast<std::uint16_t*>(storage.get());
    for (long i = 0; i < d; i++) {
        for (long j = 0; j < np; j++) buf[i * np + j] = j < n ? to_bf16(W[i * n + j]) : 0;
    }
    return owning(std::move(storage), src);
}

#if defined(__AVX512BF16__)
void run_dpbf16(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const long n = w.n, np = padded(n), d = w.d;
    const auto* W = static_cast<const std::uint16_t*>(w.data);
    auto* xb = reinterpret_cast<std::uint16_t*>(ctx.scratch(static_cast<std::size_t>(np / 2)));
    for (int r = 0; r < m; r++) {
        for (long j = 0; j < np; j++) xb[j] = j < n ? to_bf16(x[r * n + j]) : 0;
        float* yr = y + r * d;
        long i = 0;
        for (; i + 4 <= d; i += 4) {
            __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
            for (long j = 0; j < np; j += kPad) {
                const __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + j);
                for (int k = 0; k < 4; k++) {
                    acc[k] = _mm512_dpbf16_ps(acc[k], xv, (__m512bh)_mm512_loadu_si512(W + (i + k) * np + j));
                }
            }
            for (int k = 0; k < 4; k++) yr[i + k] = _mm512_reduce_add_ps(acc[k]);
        }
        for (; i < d; i++) {
            __m512 acc = _mm512_setzero_ps();
            for (long j = 0; j < np; j += kPad) {
                acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(xb + j), (__m512bh)_mm512_loadu_si512(W + i * np + j));
            }
            yr[i] = _mm512_reduce_add_ps(acc);
        }
    }
}
#endif

#if defined(__AVX512F__)
__m512 widen(const std::uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

void run_widening(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const long n = w.n, np = padded(n), d = w.d;
    const auto* W = static_cast<const std::uint16_t*>(w.data);
    float* xp = ctx.scratch(static_cast<std::size_t>(np));
    for (int r = 0; r < m; r++) {
        for (long j = 0; j < np; j++) xp[j] = j < n ? x[r * n + j] : 0.0f;
        float* yr = y + r * d;
        for (long i = 0; i < d; i++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            for (long j = 0; j < np; j += kPad) {
                a0 = _mm512_fmadd_ps(widen(W + i * np + j), _mm512_loadu_ps(xp + j), a0);
                a1 = _mm512_fmadd_ps(widen(W + i * np + j + 16), _mm512_loadu_ps(xp + j + 16), a1);
            }
            yr[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        }
    }
}
#endif

void run_bf16(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
#if defined(__AVX512BF16__)
    run_dpbf16(w, x, y, m, ctx);
#elif defined(__AVX512F__)
    run_widening(w, x, y, m, ctx);
#endif
}

void run_bf16_widening(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
#if defined(__AVX512F__)
    run_widening(w, x, y, m, ctx);
#endif
}

}  // namespace

extern const MatmulKernel bf16{
    "matmul.bf16", "bfloat16 weights, AVX512-BF16 vdpbf16ps dot products on bf16 activations", 1e-2f, 2.0f,
    has_avx512, pack_bf16, run_bf16,
};

extern const MatmulKernel bf16_widening{
    "matmul.bf16-widening", "bfloat16 weights widened to fp32 in registers, fp32 activations and FMA", 5e-3f, 2.0f,
    has_avx512, pack_bf16, run_bf16_widening,
};

}  // namespace wb::matmul
