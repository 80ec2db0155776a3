// matmul.q8: Q8_0 weights and activations, AVX-512 VNNI vpdpbusd where available, else the
// AVX2 widening multiply-add. matmul.q8-widening forces the latter (for tests and comparison).
#include "kernels/matmul/q8.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>
#include <algorithm>

#include "kernels/exec_context.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul::q8 {

namespace {

int groups(int n) { return (n + kQ8Group - 1) / kQ8Group; }

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
constexpr bool kVnni = true;
// out[r] = sum over groups of xs*ws * (x . w_r); x is signed, so dpbusd sees x + 128 and the
// 128 * sum(w) it adds is taken off once per group through the precomputed sums.
void dot_vnni(const std::int8_t* w, const float* ws, const std::int32_t* sums, const std::int8_t* xq, const float* xs,
              int G, float* out) {
    __m512 acc[kRows];
    float corr[kRows];
    for (int r = 0; r < kRows; r++) {
        acc[r] = _mm512_setzero_ps();
        corr[r] = 0.0f;
    }
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int g = 0; g < G; g++, w += kRows * kQ8Group, ws += kRows, sums += kRows) {
        const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(xq + g * kQ8Group), flip);
        for (int r = 0; r < kRows; r++) {
            const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_load_si512(w + r * kQ8Group));
            const float s = xs[g] * ws[r];
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_set1_ps(s), acc[r]);
            corr[r] += s * static_cast<float>(sums[r]);
        }
    }
    for (int r = 0; r < kRows; r++) out[r] = _mm512_reduce_add_ps(acc[r]) - 128.0f * corr[r];
}
#else
constexpr bool kVnni = false;
#endif

#if defined(__AVX2__)
constexpr bool kAvx2 = true;
// |x| times w carrying x's sign fits maddubs' signed 16-bit pairs without saturating (|q| <= 127).
void dot_widening(const std::int8_t* w, const float* ws, const std::int32_t*, const std::int8_t* xq, const float* xs,
                  int G, float* out) {
    __m256 acc[kRows];
    for (int r = 0; r < kRows; r++) acc[r] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int g = 0; g < G; g++, w += kRows * kQ8Group, ws += kRows) {
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kQ8Group));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kQ8Group + 32));
        const __m256i ax0 = _mm256_sign_epi8(x0, x0), ax1 = _mm256_sign_epi8(x1, x1);
        for (int r = 0; r < kRows; r++) {
            const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + r * kQ8Group));
            const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + r * kQ8Group + 32));
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax0, _mm256_sign_epi8(w0, x0)), ones);
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax1, _mm256_sign_epi8(w1, x1)), ones);
            const __m256 s = _mm256_set1_ps(xs[g] * ws[r]);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(p0, p1)), s, acc[r]);
        }
    }
    for (int r = 0; r < kRows; r++) {
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
        const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
        out[r] = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
    }
}
#else
constexpr bool kAvx2 = false;
#endif

// A block of kRows weight rows (from row i) against every activation row; the block stays in L1
// across the m activation rows.
template <auto dot>
void rows(const PackedWeight& w, const Activations& a, float* y, int m, int begin, int end) {
    const long G = groups(w.n), np = G * kQ8Group, blocks = (w.d + kRows - 1) / kRows;
    const auto* q = static_cast<const std::int8_t*>(w.data);
    const auto* sums = reinterpret_cast<const std::int32_t*>(w.scales + blocks * G * kRows);
    float out[kRows];
    for (long i = begin; i < end; i += kRows) {
        const long b = i / kRows;
        for (long row = 0; row < m; row++) {
            dot(q + b * G * kRows * kQ8Group, w.scales + b * G * kRows, sums + b * G * kRows, a.q + row * np,
                a.scales + row * G, static_cast<int>(G), out);
            for (long r = 0; r < kRows && i + r < end; r++) y[row * w.d + i + r] = out[r];
        }
    }
}

}  // namespace

bool has_avx2() { return kAvx2; }
Dot best_dot() { return kVnni ? Dot::vnni : Dot::widening; }

PackedWeight pack_weights(const WeightView& view, ExecContext& ctx) {
    const PackedWeight src = prepare_f32(view, ctx);
    const auto* W = static_cast<const float*>(src.data);
    const long d = src.d, G = groups(src.n), np = G * kQ8Group, blocks = (d + kRows - 1) / kRows;
    const long rows_padded = blocks * kRows;
    const std::size_t bytes = static_cast<std::size_t>(rows_padded * np + rows_padded * G * 4 * 2);
    std::shared_ptr<void> storage = aligned_buffer(bytes);
    auto* buf = static_cast<std::byte*>(storage.get());
    auto* q = reinterpret_cast<std::int8_t*>(buf);
    auto* scales = reinterpret_cast<float*>(buf + rows_padded * np);
    auto* sums = reinterpret_cast<std::int32_t*>(scales + rows_padded * G);
    std::vector<std::int8_t> row_q(static_cast<std::size_t>(np));
    std::vector<float> row_s(static_cast<std::size_t>(G));
    for (long i = 0; i < rows_padded; i++) {
        std::fill(row_q.begin(), row_q.end(), 0);
        std::fill(row_s.begin(), row_s.end(), 0.0f);
        if (i < d) quantize_q8_row(W + i * src.n, src.n, row_q.data(), row_s.data());
        const long b = i / kRows, r = i % kRows;
        for (long g = 0; g < G; g++) {
            const long at = (b * G + g) * kRows + r;
            std::memcpy(q + at * kQ8Group, row_q.data() + g * kQ8Group, kQ8Group);
            scales[at] = row_s[static_cast<std::size_t>(g)];
            std::int32_t s = 0;
            for (int j = 0; j < kQ8Group; j++) s += row_q[static_cast<std::size_t>(g * kQ8Group + j)];
            sums[at] = s;
        }
    }
    return owning(std::move(storage), src, scales);
}

Activations quantize_activations(const float* x, int m, int n, ExecContext& ctx) {
    const long G = groups(n), np = G * kQ8Group;
    float* buf = ctx.scratch(static_cast<std::size_t>(m * G + (m * np + 3) / 4));
    auto* q = reinterpret_cast<std::int8_t*>(buf + m * G);
    for (long r = 0; r < m; r++) quantize_q8_row(x + r * n, n, q + r * np, buf + r * G);
    return {q, buf};
}

void run_rows(Dot dot, const PackedWeight& w, const Activations& a, float* y, int m, int begin, int end) {
    if (dot == Dot::vnni) {
        if constexpr (kVnni) rows<dot_vnni>(w, a, y, m, begin, end);
    } else {
        if constexpr (kAvx2) rows<dot_widening>(w, a, y, m, begin, end);
    }
}

}  // namespace wb::matmul::q8

namespace wb::matmul {

static void run_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    q8::run_rows(q8::best_dot(), w, q8::quantize_activations(x, m, w.n, ctx), y, m, 0, w.d);
}

static void run_q8_widening(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    q8::run_rows(q8::Dot::widening, w, q8::quantize_activations(x, m, w.n, ctx), y, m, 0, w.d);
}

extern const MatmulKernel q8_kernel{
    "matmul.q8", "Q8_0 weights (groups of 64) and activations, int32 dots with AVX-512 VNNI vpdpbusd", 3e-2f, 1.125f,
    q8::has_avx2, q8::pack_weights, run_q8,
};

extern const MatmulKernel q8_widening{
    "matmul.q8-widening", "matmul.q8 with the AVX2 widening multiply-add instead of VNNI (the fallback path)", 3e-2f, 1.125f,
    q8::has_avx2, q8::pack_weights, run_q8_widening,
};

}  // namespace wb::matmul
