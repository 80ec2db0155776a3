// matmul.q8, matmul.tbb-q8, matmul.q4 and matmul.tbb-q4 at the 256-bit levels: qblocks.h's panels taken 8 rows
// a 32-byte vector (half of the layout's 64-byte vector). Compiled twice: at avx-vnni the four-code dot products
// are AVX-VNNI's vpdpbusd; at avx2 they are vpmaddubsw + vpmaddwd. There, Q8's unsigned codes (value + 128) would
// saturate vpmaddubsw's int16 pair sums, so they are turned back into signed values and the product is taken as
// |w| times x with w's sign (each pair then sums to at most 2 * 128 * 127); Q4's nibbles cannot saturate.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/level.h"
#include "kernels/matmul/qblocks.h"

namespace wb::WB_ISA_NS::matmul {

namespace {

using namespace wb::matmul::qblocks;

constexpr int kVec = 8;   // panel rows per 32-byte vector
constexpr int kKc = 16;   // blocks per depth pass when several tiles share a panel: they stay in L1
constexpr int kStep = kVecs * kLanes * 4;  // bytes of one step (Q8) or pair (Q4) of a panel's block

#if defined(__AVXVNNI__)
constexpr bool kVnni = true;
#else
constexpr bool kVnni = false;
#endif

// The GEMM tile: activation rows x 32-byte vectors of the panel (8 rows each), sized so the int32 sums and what
// feeds them fit the 16 registers: vpdpbusd needs only the weights and one broadcast beside its 4 x 2 sums, the
// vpmaddubsw forms also |w| and temporaries (GCC spills 4 x 2 sums there; tiles from 2 x 2 to 6 x 1 measured alike).
constexpr int kGemmRows = kVnni ? 4 : 3;
constexpr int kGemmVecs = 2;

inline __m256i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Whether a block's int32 sums start from the offset correction. Without VNNI, Q8's products come out of signed
// values, so its sums must not include it.
template <Bits B>
constexpr bool kBiased = kVnni || B == Bits::q4;

// s[i][v] = the dot products of one block's codes (vectors v0 .. v0+W of the panel) with activation row i's codes
// xq[i], without the offset correction. Q8 without VNNI takes |w| times x with w's sign; Q4 without VNNI adds its
// eight vpmaddubsw results per block in int16 (each at most 2 * 15 * 127, so eight fit) and widens once.
template <Bits B, int M, int W>
inline void block_dots(const std::uint8_t* blk, const std::int8_t* const* xq, int v0, __m256i (&s)[M][W]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < W; v++) s[i][v] = _mm256_setzero_si256();
    }
    if constexpr (B == Bits::q8) {
        for (int step = 0; step < 8; step++) {
            __m256i w[W], aw[W];
            for (int v = 0; v < W; v++) {
                w[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + step * kStep + (v0 + v) * 32));
                if constexpr (!kVnni) {
                    w[v] = _mm256_xor_si256(w[v], _mm256_set1_epi8(static_cast<char>(0x80)));  // the signed value
                    aw[v] = _mm256_abs_epi8(w[v]);
                }
            }
            for (int i = 0; i < M; i++) {
                const __m256i x = broadcast4(xq[i] + 4 * step);
                for (int v = 0; v < W; v++) {
#if defined(__AVXVNNI__)
                    s[i][v] = _mm256_dpbusd_avx_epi32(s[i][v], w[v], x);
#else
                    s[i][v] = _mm256_add_epi32(s[i][v], _mm256_madd_epi16(_mm256_maddubs_epi16(aw[v], _mm256_sign_epi8(x, w[v])), ones));
#endif
                }
            }
        }
    } else {
        const __m256i nibble = _mm256_set1_epi8(0x0F);
        for (int pair = 0; pair < 4; pair++) {
            __m256i lo[W], hi[W];
            for (int v = 0; v < W; v++) {
                const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + pair * kStep + (v0 + v) * 32));
                lo[v] = _mm256_and_si256(raw, nibble);
                hi[v] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
            }
            for (int i = 0; i < M; i++) {
                const __m256i xl = broadcast4(xq[i] + 4 * pair), xh = broadcast4(xq[i] + kBlock / 2 + 4 * pair);
                for (int v = 0; v < W; v++) {
#if defined(__AVXVNNI__)
                    s[i][v] = _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(s[i][v], lo[v], xl), hi[v], xh);
#else
                    s[i][v] = _mm256_add_epi16(s[i][v], _mm256_add_epi16(_mm256_maddubs_epi16(lo[v], xl), _mm256_maddubs_epi16(hi[v], xh)));
#endif
                }
            }
        }
        if constexpr (!kVnni) {
            for (int i = 0; i < M; i++) {
                for (int v = 0; v < W; v++) s[i][v] = _mm256_madd_epi16(s[i][v], ones);
            }
        }
    }
}

// M activation rows against W 32-byte vectors (8 panel rows each) of one panel, vectors v0 .. v0+W, over blocks
// b0 .. b1. The fp32 sums live in acc, which the compiler keeps in registers when the int32 sums leave room and
// in L1 otherwise; they are touched once per block.
template <Bits B, int M, int W>
void tile(const Tile& t, const Activations& a, int v0) {
    __m256i mask[W];
    for (int v = 0; v < W; v++) {
        mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(t.valid - (v0 + v) * kVec), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    __m256 acc[M][W];
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < W; v++) {
            acc[i][v] = t.accumulate ? _mm256_maskload_ps(t.y + i * t.ldy + (v0 + v) * kVec, mask[v]) : _mm256_setzero_ps();
        }
    }
    for (int b = t.b0; b < t.b1; b++) {
        const std::uint8_t* blk = t.panel + b * t.stride;
        const std::int8_t* xq[M];
        for (int i = 0; i < M; i++) xq[i] = a.q + (t.row0 + i) * t.np + b * kBlock;
        __m256i s[M][W];
        block_dots<B, M, W>(blk, xq, v0, s);
        const std::uint8_t* scales = blk + (B == Bits::q8 ? kQ8 : kQ4).code_bytes;
        __m256 dw[W];
        for (int v = 0; v < W; v++) dw[v] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(scales + (v0 + v) * 16)));
        for (int i = 0; i < M; i++) {
            const long at = (t.row0 + i) * t.G + b;
            const __m256 dx = _mm256_set1_ps(a.scale[at]);
            const __m256i bias = _mm256_set1_epi32(kBiased<B> ? a.bias[at] : 0);
            for (int v = 0; v < W; v++) {
                acc[i][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[i][v], bias)), _mm256_mul_ps(dw[v], dx), acc[i][v]);
            }
        }
    }
    for (int i = 0; i < M; i++) {
        for (int v = 0; v < W; v++) _mm256_maskstore_ps(t.y + i * t.ldy + (v0 + v) * kVec, mask[v], acc[i][v]);
    }
}

// A tile of `rows` activation rows (at most MR).
template <Bits B, int MR, int W>
void tile_rows(const Tile& t, const Activations& a, int v0, int rows) {
    if constexpr (MR > 1) {
        if (rows < MR) return tile_rows<B, MR - 1, W>(t, a, v0, rows);
    }
    tile<B, MR, W>(t, a, v0);
}

// One activation row streams each panel once, all four vectors at a time; more rows go kGemmRows at a time against
// kGemmVecs vectors, in depth passes that stay in L1.
template <Bits B>
void panels_impl(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    const long G = blocks(w.n), stride = block_stride(f);
    const int kc = m == 1 ? static_cast<int>(G) : kKc;
    for (int p = p0; p < p1; p++) {
        Tile t{static_cast<const std::uint8_t*>(w.data) + p * G * stride, stride, G, G * kBlock, 0, 0, 0,
               nullptr, w.d, valid_rows(w, p), false};
        for (long b0 = 0; b0 < G; b0 += kc) {
            t.b0 = static_cast<int>(b0);
            t.b1 = static_cast<int>(std::min(G, b0 + kc));
            t.accumulate = b0 > 0;
            if (m == 1) {
                t.y = y + static_cast<long>(p) * kPanelRows;
                tile<B, 1, 4>(t, a, 0);
                continue;
            }
            for (int r = 0; r < m; r += kGemmRows) {
                t.row0 = r;
                t.y = y + static_cast<long>(r) * w.d + static_cast<long>(p) * kPanelRows;
                for (int v0 = 0; v0 < 4 && v0 * kVec < t.valid; v0 += kGemmVecs) {
                    tile_rows<B, kGemmRows, kGemmVecs>(t, a, v0, std::min(kGemmRows, m - r));
                }
            }
        }
    }
}

// Each row's blocks of 32: scale amax / 127, codes rounded to nearest, bias -offset * (sum of the codes).
void quantize(const float* x, int m, int n, const Format& f, const ActivationBuffers& out) {
    const long G = blocks(n), np = G * kBlock;
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undoes the packs' lane interleave
    alignas(32) float padded[kBlock];
    for (long r = 0; r < m; r++) {
        for (long b = 0; b < G; b++) {
            const long k0 = b * kBlock, len = std::min<long>(kBlock, n - k0);
            const float* src = x + r * n + k0;
            if (len < kBlock) {
                std::fill(padded, padded + kBlock, 0.0f);
                std::copy_n(src, len, padded);
                src = padded;
            }
            __m256 v[4];
            __m256 amax = _mm256_setzero_ps();
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_loadu_ps(src + 8 * j);
                amax = _mm256_max_ps(amax, _mm256_and_ps(v[j], magnitude));
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
            const float d = _mm_cvtss_f32(m4) / 127.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
            __m256i q[4];
            for (int j = 0; j < 4; j++) q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], _mm256_set1_ps(inv)));
            const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q + r * np + k0), _mm256_permutevar8x32_epi32(packed, order));
            const __m256i sum8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
            out.scale[r * G + b] = d;
            out.bias[r * G + b] = -f.offset * _mm_cvtsi128_si32(s4);
        }
    }
}

void run_panels(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    (f.bits == Bits::q8 ? panels_impl<Bits::q8> : panels_impl<Bits::q4>)(f, w, a, y, m, p0, p1);
}

constexpr Microkernel kMicrokernel{quantize, run_panels};

#if defined(__AVXVNNI__)
#define WB_DOT "AVX-VNNI vpdpbusd"
#else
#define WB_DOT "AVX2 vpmaddubsw"
#endif

}  // namespace

}  // namespace wb::WB_ISA_NS::matmul

#include "kernels/matmul/qblocks_rows.h"
