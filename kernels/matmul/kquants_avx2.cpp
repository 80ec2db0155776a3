// matmul.q4_k, q5_k, q6_k and their TBB forms at the 256-bit levels: kquants.h's panels taken 8 rows a 32-byte
// vector (a quarter of a panel's block step). Compiled twice: at avx-vnni the four-code dot products are AVX-VNNI's
// vpdpbusd; at avx2 vpmaddubsw + vpmaddwd, whose int16 pair sums cannot saturate with codes below 64.
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

constexpr int kVec = 8;                       // panel rows per 32-byte vector
constexpr int kQuarters = kPanelRows / kVec;  // 32-byte vectors across a panel
constexpr int kKc = 2;                        // super-blocks per depth pass when several tiles share a panel
constexpr long kPrefetchBytes = 8192;         // as at AVX-512 (kquants_avx512.cpp says what it measured)

enum class Kind { q4, q5, q6 };

inline __m256i dot4(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

inline __m256i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Bit `from` of every byte of h moved to bit 4 (the bits beside it move too; the caller masks).
inline __m256i to_bit4(__m256i h, int from) {
    switch (from) {
        case 0: return _mm256_slli_epi16(h, 4);
        case 1: return _mm256_slli_epi16(h, 3);
        case 2: return _mm256_slli_epi16(h, 2);
        case 3: return _mm256_slli_epi16(h, 1);
        case 4: return h;
        case 5: return _mm256_srli_epi16(h, 1);
        case 6: return _mm256_srli_epi16(h, 2);
        default: return _mm256_srli_epi16(h, 3);
    }
}

// Sub-block factors of 8 rows: d * (scale bytes), from 8 unsigned or signed bytes.
inline __m256 factors(const std::uint8_t* bytes, __m256 d, bool is_signed) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b)), d);
}

inline int hsum(__m256i v) {
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i t = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1)));
}

// M activation rows against W quarters (8 rows each, from u0) of one panel's super-block s; acc[i][w] holds row
// i's 8 outputs of quarter u0 + w. Q4_K and Q5_K sum a block's two halves together (one scale), Q6_K keeps them
// apart (a scale each).
template <Kind K, int M, int W>
inline void quarters(const Tile& t, const Activations& a, const std::uint8_t* super, int s, int u0, __m256 (&acc)[M][W]) {
    constexpr int kChains = K == Kind::q6 ? 2 : 1;
    constexpr Format f = K == Kind::q4 ? kQ4K : K == Kind::q5 ? kQ5K : kQ6K;
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i high = _mm256_set1_epi8(K == Kind::q6 ? 0x30 : 0x10);
    const std::uint8_t* header = super + kBlocks * f.block_bytes();
    __m256 d[W], dmin[W];
    for (int w = 0; w < W; w++) {
        d[w] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(header + 2 * kVec * (u0 + w))));
        dmin[w] = K == Kind::q6 ? _mm256_setzero_ps()
                                : _mm256_cvtph_ps(_mm_load_si128(
                                      reinterpret_cast<const __m128i*>(header + kHeaderDmin + 2 * kVec * (u0 + w))));
    }
    for (int j = 0; j < kBlocks; j++) {
        const std::uint8_t* blk = super + j * f.block_bytes();
        const long b = static_cast<long>(s) * kBlocks + j;
        __m256i sum[kChains][M][W];
        for (int i = 0; i < M; i++) {
            const long at = (t.row0 + i) * t.G + b;
            for (int c = 0; c < kChains; c++) {
                // Q6_K's codes are the values + 32: their offset comes off through the half-block's code sums.
                const __m256i start = K == Kind::q6 ? _mm256_set1_epi32(-32 * a.sums[2 * at + c]) : _mm256_setzero_si256();
                for (int w = 0; w < W; w++) sum[c][i][w] = start;
            }
        }
        for (int pair = 0; pair < 4; pair++) {
            __m256i xl[M], xh[M];
            for (int i = 0; i < M; i++) {
                const std::int8_t* xq = a.q + (t.row0 + i) * t.np + b * kBlock;
                xl[i] = broadcast4(xq + 4 * pair);
                xh[i] = broadcast4(xq + kBlock / 2 + 4 * pair);
            }
            for (int w = 0; w < W; w++) {
                const int u = u0 + w;
                const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + pair * kVecs * 64 + u * 32));
                __m256i lo = _mm256_and_si256(raw, nibble);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
                if constexpr (K != Kind::q4) {
                    const auto* planes = reinterpret_cast<const __m256i*>(blk + kNibbleBytes + u * 32);
                    const __m256i p0 = _mm256_load_si256(planes);
                    if constexpr (K == Kind::q5) {
                        lo = _mm256_or_si256(lo, _mm256_and_si256(to_bit4(p0, pair), high));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(to_bit4(p0, 4 + pair), high));
                    } else {
                        const __m256i p1 = _mm256_load_si256(planes + kPlaneBytes / 32);
                        lo = _mm256_or_si256(lo, _mm256_and_si256(to_bit4(p0, 2 * pair), high));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(to_bit4(p1, 2 * pair), high));
                    }
                }
                for (int i = 0; i < M; i++) {
                    sum[0][i][w] = dot4(sum[0][i][w], lo, xl[i]);
                    sum[kChains - 1][i][w] = dot4(sum[kChains - 1][i][w], hi, xh[i]);
                }
            }
        }
        for (int w = 0; w < W; w++) {
            const int u = u0 + w;
            if constexpr (K == Kind::q6) {
                const __m256 f0 = factors(header + kHeaderScale6 + (2 * j) * kPanelRows + u * kVec, d[w], true);
                const __m256 f1 = factors(header + kHeaderScale6 + (2 * j + 1) * kPanelRows + u * kVec, d[w], true);
                for (int i = 0; i < M; i++) {
                    const __m256 dx = _mm256_set1_ps(a.scale[(t.row0 + i) * t.G + b]);
                    acc[i][w] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[0][i][w]), _mm256_mul_ps(f0, dx), acc[i][w]);
                    acc[i][w] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[1][i][w]), _mm256_mul_ps(f1, dx), acc[i][w]);
                }
            } else {
                const __m256 scale = factors(header + kHeaderScale + j * kPanelRows + u * kVec, d[w], false);
                const __m256 min = factors(header + kHeaderMin + j * kPanelRows + u * kVec, dmin[w], false);
                for (int i = 0; i < M; i++) {
                    const long at = (t.row0 + i) * t.G + b;
                    const float x_scale = a.scale[at];
                    // The minimum is taken off through the block's code sum: sum_k (-dmin m) dx q_k.
                    const __m256 dx_sum = _mm256_set1_ps(x_scale * static_cast<float>(a.sums[2 * at] + a.sums[2 * at + 1]));
                    acc[i][w] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[0][i][w]), _mm256_mul_ps(scale, _mm256_set1_ps(x_scale)),
                                                acc[i][w]);
                    acc[i][w] = _mm256_fnmadd_ps(min, dx_sum, acc[i][w]);
                }
            }
        }
    }
}

// M activation rows against one panel over super-blocks s0 .. s1, W quarters of the panel's rows at a time (as many
// as 16 registers hold the sums of: all four for one row, one for four); the outputs wait in L1 between passes.
// Quarters past the panel's valid rows multiply its zero rows and are not written.
template <Kind K, int M>
void tile(const Tile& t, const Activations& a) {
    constexpr int W = M == 1 ? (K == Kind::q6 ? 2 : 4) : M == 2 ? 2 : 1;
    alignas(32) float out[M][kPanelRows];
    for (int i = 0; i < M; i++) {
        for (int r = 0; r < kPanelRows; r++) out[i][r] = t.accumulate && r < t.valid ? t.y[i * t.ldy + r] : 0.0f;
    }
    for (int s = t.s0; s < t.s1; s++) {
        const std::uint8_t* super = t.panel + s * t.stride;
        // The stream kPrefetchBytes ahead is asked for while this super-block is multiplied.
        for (long line = 0; line < t.stride; line += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(super + kPrefetchBytes + line), _MM_HINT_T0);
        }
        for (int u0 = 0; u0 < kQuarters; u0 += W) {
            __m256 acc[M][W];
            for (int i = 0; i < M; i++) {
                for (int w = 0; w < W; w++) acc[i][w] = _mm256_load_ps(out[i] + (u0 + w) * kVec);
            }
            quarters<K, M, W>(t, a, super, s, u0, acc);
            for (int i = 0; i < M; i++) {
                for (int w = 0; w < W; w++) _mm256_store_ps(out[i] + (u0 + w) * kVec, acc[i][w]);
            }
        }
    }
    for (int i = 0; i < M; i++) std::memcpy(t.y + i * t.ldy, out[i], static_cast<std::size_t>(t.valid) * sizeof(float));
}

template <Kind K>
constexpr TileFn kTiles[kTileRows] = {tile<K, 1>, tile<K, 2>, tile<K, 3>, tile<K, 4>};

// Per super-block of 256 (ggml's Q8_K): one scale, amax / 127, shared by its eight blocks of 32; per block the
// int8 codes and the code sums of its two halves. Rounded as the AVX-512 levels round (to nearest even).
void quantize(const float* x, int m, int n, const ActivationBuffers& out) {
    const long S = supers(n), G = S * kBlocks, np = G * kBlock;
    const __m256 sign_off = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    alignas(32) float padded[kSuper];
    for (long r = 0; r < m; r++) {
        for (long s = 0; s < S; s++) {
            const long k0 = s * kSuper, len = std::clamp<long>(n - k0, 0, kSuper);
            const float* src = x + r * n + k0;
            if (len < kSuper) {  // the row's tail: zero-padded to a whole super-block
                std::fill(padded, padded + kSuper, 0.0f);
                std::copy(x + r * n + std::min<long>(k0, n), x + r * n + std::min<long>(k0, n) + len, padded);
                src = padded;
            }
            __m256 amax = _mm256_setzero_ps();
            for (int k = 0; k < kSuper; k += kVec) amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_loadu_ps(src + k), sign_off));
            const __m128 half = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            const __m128 quad = _mm_max_ps(half, _mm_movehl_ps(half, half));
            const float top = _mm_cvtss_f32(_mm_max_ss(quad, _mm_shuffle_ps(quad, quad, 1)));
            const __m256 inv = _mm256_set1_ps(top != 0.0f ? 127.0f / top : 0.0f);
            for (long j = 0; j < kBlocks; j++) {
                const long b = s * kBlocks + j;
                __m256i q[4];
                for (int v = 0; v < 4; v++) q[v] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + j * kBlock + v * kVec), inv));
                const __m256i bytes = _mm256_permutevar8x32_epi32(
                    _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3])), order);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q + r * np + b * kBlock), bytes);
                out.scale[r * G + b] = top / 127.0f;
                out.sums[2 * (r * G + b)] = hsum(_mm256_add_epi32(q[0], q[1]));
                out.sums[2 * (r * G + b) + 1] = hsum(_mm256_add_epi32(q[2], q[3]));
            }
        }
    }
}

void run_panels(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    const TileFn(&tiles)[kTileRows] = f.type == DType::q4_K ? kTiles<Kind::q4> : f.type == DType::q5_K ? kTiles<Kind::q5> : kTiles<Kind::q6>;
    for_each_tile(f, w, a, y, m, p0, p1, kKc, tiles);
}

constexpr Microkernel kMicrokernel{quantize, run_panels};

#if defined(__AVXVNNI__)
#define WB_DOT "AVX-VNNI vpdpbusd"
#else
#define WB_DOT "AVX2 vpmaddubsw"
#endif

}  // namespace

}  // namespace wb::WB_ISA_NS::matmul

#include "kernels/matmul/kquants_rows.h"
