// matmul.q4_k, q5_k, q6_k and their TBB forms at the AVX-512 levels: kquants.h's panels taken 16 rows a 64-byte
// vector. Compiled twice: at avx512-vnni the four-code dot products are vpdpbusd; at avx512 (AVX-512BW without
// VNNI) the widening multiply-add, whose int16 pair sums cannot saturate with codes below 64.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/level.h"
#include "kernels/matmul/kquants.h"

namespace wb::WB_ISA_NS::matmul {

namespace {

using namespace wb::matmul::kquants;
using wb::matmul::kquants::Activations;
using wb::matmul::kquants::Microkernel;
using wb::matmul::kquants::Tile;

constexpr int kKc = 2;  // super-blocks per depth pass when several tiles share a panel (at most 13 KiB, in L1)
// Measured on a Zen 5 EPYC, one thread, TinyLlama's classifier from DRAM: q4_k 1.74-1.84 ms without, 0.81-0.87
// with 8 KiB (4 and 6 KiB: 0.75-1.12), q6_k 2.7-3.0 against 1.27-1.34; L3-resident shapes within noise.
constexpr long kPrefetchBytes = 8192;

inline const float* x_row(const float* x, long r, int n, long k0) { return x + r * n + std::min<long>(k0, n); }

enum class Kind { q4, q5, q6 };

inline __m512i dot4(__m512i acc, __m512i u, __m512i s) {
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

inline __m512i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// Bit `from` of every byte of h moved to bit 4 (the bits beside it move too; the caller masks).
inline __m512i to_bit4(__m512i h, int from) {
    switch (from) {
        case 0: return _mm512_slli_epi16(h, 4);
        case 1: return _mm512_slli_epi16(h, 3);
        case 2: return _mm512_slli_epi16(h, 2);
        case 3: return _mm512_slli_epi16(h, 1);
        case 4: return h;
        case 5: return _mm512_srli_epi16(h, 1);
        case 6: return _mm512_srli_epi16(h, 2);
        default: return _mm512_srli_epi16(h, 3);
    }
}

// Sub-block factors of 16 rows: d * (scale bytes), from 16 unsigned or signed bytes.
inline __m512 factors(const std::uint8_t* bytes, __m512 d, bool is_signed) {
    const __m128i b = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b)), d);
}

// M activation rows against one panel over super-blocks s0 .. s1. Q4_K and Q5_K sum a block's two halves together
// (one scale); Q6_K keeps them apart (a scale each), as does a single row, whose two chains break the dependency
// through the accumulators.
template <Kind K, int M>
void tile(const Tile& t, const Activations& a) {
    constexpr bool kSplit = K == Kind::q6 || M == 1;
    constexpr int kChains = kSplit ? 2 : 1;
    constexpr Format f = K == Kind::q4 ? kQ4K : K == Kind::q5 ? kQ5K : kQ6K;
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
    const __m512i high = _mm512_set1_epi8(K == Kind::q6 ? 0x30 : 0x10);
    for (int s = t.s0; s < t.s1; s++) {
        const std::uint8_t* super = t.panel + s * t.stride;
        // The stream kPrefetchBytes ahead is asked for while this super-block is multiplied: from DRAM the hardware
        // prefetcher alone leaves the core waiting (a prefetch past the panels' end never faults).
        for (long line = 0; line < t.stride; line += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(super + kPrefetchBytes + line), _MM_HINT_T0);
        }
        const std::uint8_t* header = super + kBlocks * f.block_bytes();
        const auto* halves = reinterpret_cast<const __m256i*>(header);
        __m512 d[kVecs], dmin[kVecs];
        for (int v = 0; v < kVecs; v++) {
            d[v] = _mm512_cvtph_ps(_mm256_load_si256(halves + v));
            if constexpr (K != Kind::q6) dmin[v] = _mm512_cvtph_ps(_mm256_load_si256(halves + kVecs + v));
        }
        for (int j = 0; j < kBlocks; j++) {
            const std::uint8_t* blk = super + j * f.block_bytes();
            const long b = static_cast<long>(s) * kBlocks + j;
            const std::int8_t* xq[M];
            __m512i sum[kChains][M][kVecs];
            for (int i = 0; i < M; i++) {
                const long at = (t.row0 + i) * t.G + b;
                xq[i] = a.q + (t.row0 + i) * t.np + b * kBlock;
                for (int v = 0; v < kVecs; v++) {
                    // Q6_K's codes are the values + 32: their offset comes off through the half-block's code sums.
                    for (int c = 0; c < kChains; c++) {
                        sum[c][i][v] = K == Kind::q6 ? _mm512_set1_epi32(-32 * a.sums[2 * at + c]) : _mm512_setzero_si512();
                    }
                }
            }
            __m512i plane[2][kVecs];
            for (int p = 0; p < f.planes; p++) {
                for (int v = 0; v < kVecs; v++) plane[p][v] = _mm512_load_si512(blk + kNibbleBytes + p * kPlaneBytes + v * 64);
            }
            for (int pair = 0; pair < 4; pair++) {
                __m512i lo[kVecs], hi[kVecs];
                for (int v = 0; v < kVecs; v++) {
                    const __m512i raw = _mm512_load_si512(blk + (pair * kVecs + v) * 64);
                    lo[v] = _mm512_and_si512(raw, nibble);
                    hi[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
                    if constexpr (K == Kind::q5) {
                        lo[v] = _mm512_or_si512(lo[v], _mm512_and_si512(to_bit4(plane[0][v], pair), high));
                        hi[v] = _mm512_or_si512(hi[v], _mm512_and_si512(to_bit4(plane[0][v], 4 + pair), high));
                    } else if constexpr (K == Kind::q6) {
                        lo[v] = _mm512_or_si512(lo[v], _mm512_and_si512(to_bit4(plane[0][v], 2 * pair), high));
                        hi[v] = _mm512_or_si512(hi[v], _mm512_and_si512(to_bit4(plane[1][v], 2 * pair), high));
                    }
                }
                for (int i = 0; i < M; i++) {
                    const __m512i xl = broadcast4(xq[i] + 4 * pair), xh = broadcast4(xq[i] + kBlock / 2 + 4 * pair);
                    for (int v = 0; v < kVecs; v++) {
                        sum[0][i][v] = dot4(sum[0][i][v], lo[v], xl);
                        sum[kChains - 1][i][v] = dot4(sum[kChains - 1][i][v], hi[v], xh);
                    }
                }
            }
            if constexpr (K == Kind::q6) {
                __m512 f0[kVecs], f1[kVecs];
                for (int v = 0; v < kVecs; v++) {
                    f0[v] = factors(header + kHeaderScale6 + (2 * j) * kPanelRows + v * kLanes, d[v], true);
                    f1[v] = factors(header + kHeaderScale6 + (2 * j + 1) * kPanelRows + v * kLanes, d[v], true);
                }
                for (int i = 0; i < M; i++) {
                    const __m512 dx = _mm512_set1_ps(a.scale[(t.row0 + i) * t.G + b]);
                    for (int v = 0; v < kVecs; v++) {
                        acc[i][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[0][i][v]), _mm512_mul_ps(f0[v], dx), acc[i][v]);
                        acc[i][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[1][i][v]), _mm512_mul_ps(f1[v], dx), acc[i][v]);
                    }
                }
            } else {
                __m512 scale[kVecs], min[kVecs];
                for (int v = 0; v < kVecs; v++) {
                    scale[v] = factors(header + kHeaderScale + j * kPanelRows + v * kLanes, d[v], false);
                    min[v] = factors(header + kHeaderMin + j * kPanelRows + v * kLanes, dmin[v], false);
                }
                for (int i = 0; i < M; i++) {
                    const long at = (t.row0 + i) * t.G + b;
                    const float x_scale = a.scale[at];
                    const __m512 dx = _mm512_set1_ps(x_scale);
                    // The minimum is taken off through the block's code sum: sum_k (-dmin m) dx q_k.
                    const __m512 dx_sum = _mm512_set1_ps(x_scale * static_cast<float>(a.sums[2 * at] + a.sums[2 * at + 1]));
                    for (int v = 0; v < kVecs; v++) {
                        __m512i total = sum[0][i][v];
                        if constexpr (kChains > 1) total = _mm512_add_epi32(total, sum[1][i][v]);
                        acc[i][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(scale[v], dx), acc[i][v]);
                        acc[i][v] = _mm512_fnmadd_ps(min[v], dx_sum, acc[i][v]);
                    }
                }
            }
        }
    }
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < kVecs; v++) _mm512_mask_storeu_ps(t.y + i * t.ldy + v * kLanes, mask[v], acc[i][v]);
    }
}

template <Kind K>
constexpr TileFn kTiles[kTileRows] = {tile<K, 1>, tile<K, 2>, tile<K, 3>, tile<K, 4>};

// Per super-block of 256 (ggml's Q8_K): one scale, amax / 127, shared by its eight blocks of 32; per block the
// int8 codes and the code sums of its two halves.
void quantize(const float* x, int m, int n, const ActivationBuffers& out) {
    const long S = supers(n), G = S * kBlocks, np = G * kBlock;
    const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (long r = 0; r < m; r++) {
        for (long s = 0; s < S; s++) {
            __m512 v[kBlocks][2];
            __m512 amax = _mm512_setzero_ps();
            for (long j = 0; j < kBlocks; j++) {
                const long k0 = (s * kBlocks + j) * kBlock, len = std::clamp<long>(n - k0, 0, kBlock);
                const __mmask16 m0 = static_cast<__mmask16>(len >= 16 ? 0xFFFF : (1u << len) - 1);
                const __mmask16 m1 = static_cast<__mmask16>(len <= 16 ? 0 : len >= 32 ? 0xFFFF : (1u << (len - 16)) - 1);
                const float* row = x_row(x, r, n, k0);
                v[j][0] = _mm512_maskz_loadu_ps(m0, row);
                v[j][1] = _mm512_maskz_loadu_ps(m1, row + 16);
                amax = _mm512_max_ps(amax, _mm512_max_ps(_mm512_and_ps(v[j][0], sign_off), _mm512_and_ps(v[j][1], sign_off)));
            }
            const float top = _mm512_reduce_max_ps(amax);
            const float d = top / 127.0f;
            const __m512 inv = _mm512_set1_ps(top != 0.0f ? 127.0f / top : 0.0f);
            for (long j = 0; j < kBlocks; j++) {
                const long b = s * kBlocks + j, k0 = b * kBlock;
                const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v[j][0], inv));
                const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v[j][1], inv));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out.q + r * np + k0), _mm512_cvtsepi32_epi8(q0));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out.q + r * np + k0 + 16), _mm512_cvtsepi32_epi8(q1));
                out.scale[r * G + b] = d;
                out.sums[2 * (r * G + b)] = _mm512_reduce_add_epi32(q0);
                out.sums[2 * (r * G + b) + 1] = _mm512_reduce_add_epi32(q1);
            }
        }
    }
}

void run_panels(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    const TileFn(&tiles)[kTileRows] = f.type == DType::q4_K ? kTiles<Kind::q4> : f.type == DType::q5_K ? kTiles<Kind::q5> : kTiles<Kind::q6>;
    for_each_tile(f, w, a, y, m, p0, p1, kKc, tiles);
}

constexpr Microkernel kMicrokernel{quantize, run_panels};

#if defined(__AVX512VNNI__)
#define WB_DOT "AVX-512 VNNI vpdpbusd"
#else
#define WB_DOT "AVX-512BW widening multiply-add"
#endif

}  // namespace

}  // namespace wb::WB_ISA_NS::matmul

#include "kernels/matmul/kquants_rows.h"
