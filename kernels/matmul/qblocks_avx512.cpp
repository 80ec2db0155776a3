// matmul.q8, matmul.tbb-q8, matmul.q4 and matmul.tbb-q4 at the AVX-512 levels: qblocks.h's panels taken
// 16 rows a 64-byte vector. Compiled twice: at avx512-vnni the four-code dot products are vpdpbusd; at avx512
// (AVX-512BW without VNNI) they are the widening multiply-add.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/level.h"
#include "kernels/matmul/qblocks.h"

namespace wb::WB_ISA_NS::matmul {

namespace {

using namespace wb::matmul::qblocks;

constexpr int kMR = 4;   // activation rows per tile: 4 rows x 2 vectors of int32 and fp32 sums stay in registers
constexpr int kKc = 16;  // blocks per depth pass when several tiles share a panel: 17 KiB of Q8 codes stay in L1

// acc + the four-code dot products of unsigned codes u and signed activations s, per 32-bit lane.
template <Bits B>
inline __m512i dot4(__m512i acc, __m512i u, __m512i s) {
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    const __m512i ones = _mm512_set1_epi16(1);
    if constexpr (B == Bits::q4) {  // codes <= 15: the int16 pair sums cannot saturate
        return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), ones));
    } else {  // codes up to 255: split off the top bit so each half's pair sums fit int16 exactly
        const __m512i low7 = _mm512_set1_epi8(0x7F);
        const __m512i lo = _mm512_and_si512(u, low7), hi = _mm512_andnot_si512(low7, u);
        const __m512i p = _mm512_add_epi32(_mm512_madd_epi16(_mm512_maddubs_epi16(lo, s), ones),
                                           _mm512_madd_epi16(_mm512_maddubs_epi16(hi, s), ones));
        return _mm512_add_epi32(acc, p);
    }
#endif
}

inline __m512i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// M activation rows against one panel over blocks b0 .. b1. With one row, two phases of sums break the
// dependency chain through the accumulators.
template <Bits B, int M>
void tile(const Tile& t, const Activations& a) {
    constexpr int kPhases = M == 1 ? 2 : 1;
    const __mmask16 mask[kVecs] = {
        static_cast<__mmask16>(t.valid >= kLanes ? 0xFFFF : (1u << t.valid) - 1),
        static_cast<__mmask16>(t.valid <= kLanes ? 0 : t.valid >= kPanelRows ? 0xFFFF : (1u << (t.valid - kLanes)) - 1)};
    __m512 acc[M][kVecs];
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < kVecs; v++) {
            acc[i][v] = t.accumulate ? _mm512_maskz_loadu_ps(mask[v], t.y + i * t.ldy + v * kLanes) : _mm512_setzero_ps();
        }
    }
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int b = t.b0; b < t.b1; b++) {
        const std::uint8_t* blk = t.panel + b * t.stride;
        const std::int8_t* xq[M];
        __m512i s[kPhases][M][kVecs];
        for (int i = 0; i < M; i++) {
            const long at = (t.row0 + i) * t.G + b;
            xq[i] = a.q + (t.row0 + i) * t.np + b * kBlock;
            for (int v = 0; v < kVecs; v++) {
                s[0][i][v] = _mm512_set1_epi32(a.bias[at]);
                if constexpr (kPhases > 1) s[1][i][v] = _mm512_setzero_si512();
            }
        }
        if constexpr (B == Bits::q8) {
            for (int step = 0; step < 8; step++) {
                const int ph = step % kPhases;
                __m512i w[kVecs];
                for (int v = 0; v < kVecs; v++) w[v] = _mm512_load_si512(blk + (step * kVecs + v) * 64);
                for (int i = 0; i < M; i++) {
                    const __m512i x = broadcast4(xq[i] + 4 * step);
                    for (int v = 0; v < kVecs; v++) s[ph][i][v] = dot4<B>(s[ph][i][v], w[v], x);
                }
            }
        } else {
            for (int pair = 0; pair < 4; pair++) {
                __m512i lo[kVecs], hi[kVecs];
                for (int v = 0; v < kVecs; v++) {
                    const __m512i raw = _mm512_load_si512(blk + (pair * kVecs + v) * 64);
                    lo[v] = _mm512_and_si512(raw, nibble);
                    hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
                }
                for (int i = 0; i < M; i++) {
                    const __m512i xl = broadcast4(xq[i] + 4 * pair), xh = broadcast4(xq[i] + kBlock / 2 + 4 * pair);
                    for (int v = 0; v < kVecs; v++) {
                        s[0][i][v] = dot4<B>(s[0][i][v], lo[v], xl);
                        s[kPhases - 1][i][v] = dot4<B>(s[kPhases - 1][i][v], hi[v], xh);
                    }
                }
            }
        }
        const auto* scales = reinterpret_cast<const __m256i*>(blk + (B == Bits::q8 ? kQ8 : kQ4).code_bytes);
        __m512 dw[kVecs];
        for (int v = 0; v < kVecs; v++) dw[v] = _mm512_cvtph_ps(_mm256_load_si256(scales + v));
        for (int i = 0; i < M; i++) {
            const __m512 dx = _mm512_set1_ps(a.scale[(t.row0 + i) * t.G + b]);
            for (int v = 0; v < kVecs; v++) {
                __m512i sum = s[0][i][v];
                if constexpr (kPhases > 1) sum = _mm512_add_epi32(sum, s[1][i][v]);
                acc[i][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw[v], dx), acc[i][v]);
            }
        }
    }
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < kVecs; v++) _mm512_mask_storeu_ps(t.y + i * t.ldy + v * kLanes, mask[v], acc[i][v]);
    }
}

template <Bits B>
void panels_impl(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    const long G = blocks(w.n), stride = block_stride(f);
    // One tile of rows streams each panel once; more tiles take it in depth passes that stay in L1.
    const int kc = m <= kMR ? static_cast<int>(G) : kKc;
    for (int p = p0; p < p1; p++) {
        Tile t{static_cast<const std::uint8_t*>(w.data) + p * G * stride, stride, G, G * kBlock, 0, 0, 0,
               nullptr, w.d, std::min(kPanelRows, w.d - p * kPanelRows), false};
        for (long b0 = 0; b0 < G; b0 += kc) {
            t.b0 = static_cast<int>(b0);
            t.b1 = static_cast<int>(std::min(G, b0 + kc));
            t.accumulate = b0 > 0;
            for (int r = 0; r < m; r += kMR) {
                t.row0 = r;
                t.y = y + static_cast<long>(r) * w.d + static_cast<long>(p) * kPanelRows;
                switch (std::min(kMR, m - r)) {
                    case 1: tile<B, 1>(t, a); break;
                    case 2: tile<B, 2>(t, a); break;
                    case 3: tile<B, 3>(t, a); break;
                    default: tile<B, 4>(t, a); break;
                }
            }
        }
    }
}


void quantize(const float* x, int m, int n, const Format& f, const ActivationBuffers& out) {
    const long G = blocks(n), np = G * kBlock;
    float* scale = out.scale;
    std::int32_t* bias = out.bias;
    std::int8_t* q = out.q;
    const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (long r = 0; r < m; r++) {
        for (long b = 0; b < G; b++) {
            const long k0 = b * kBlock, len = std::min<long>(kBlock, n - k0);
            const __mmask16 m0 = static_cast<__mmask16>(len >= 16 ? 0xFFFF : (1u << len) - 1);
            const __mmask16 m1 = static_cast<__mmask16>(len <= 16 ? 0 : len >= 32 ? 0xFFFF : (1u << (len - 16)) - 1);
            const __m512 x0 = _mm512_maskz_loadu_ps(m0, x + r * n + k0), x1 = _mm512_maskz_loadu_ps(m1, x + r * n + k0 + 16);
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x0, sign_off), _mm512_and_ps(x1, sign_off)));
            const float d = amax / 127.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
            const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(inv)));
            const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(inv)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q + r * np + k0), _mm512_cvtsepi32_epi8(q0));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q + r * np + k0 + 16), _mm512_cvtsepi32_epi8(q1));
            scale[r * G + b] = d;
            bias[r * G + b] = -f.offset * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        }
    }
}


void run_panels(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    (f.bits == Bits::q8 ? panels_impl<Bits::q8> : panels_impl<Bits::q4>)(f, w, a, y, m, p0, p1);
}

constexpr Microkernel kMicrokernel{quantize, run_panels};

#if defined(__AVX512VNNI__)
#define WB_DOT "AVX-512 VNNI vpdpbusd"
#else
#define WB_DOT "AVX-512BW widening multiply-add"
#endif

}  // namespace

}  // namespace wb::WB_ISA_NS::matmul

#include "kernels/matmul/qblocks_rows.h"
