#include "kernels/matmul/qblocks.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/matmul/f32.h"
#include "kernels/weight_types.h"

namespace wb::matmul::qblocks {

namespace {

constexpr int kMR = 4;   // activation rows per tile: 4 rows x 2 vectors of int32 and fp32 sums stay in registers
constexpr int kKc = 16;  // blocks per depth pass when several tiles share a panel: 17 KiB of Q8 codes stay in L1

long block_stride(const Format& f) { return f.code_bytes + kScaleBytes; }

#if defined(__AVX512BW__) && defined(__F16C__)
constexpr bool kAvailable = true;

std::uint16_t to_half(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
float from_half(std::uint16_t h) { return _cvtsh_ss(h); }

// Signed codes of one block of 32 floats (zero-padded by the caller) and its fp16 scale.
void quantize_block(const Format& f, const float* x, std::int8_t* q, std::uint16_t& scale) {
    float amax = 0.0f, signed_max = 0.0f;
    for (int k = 0; k < kBlock; k++) {
        if (std::fabs(x[k]) > amax) {
            amax = std::fabs(x[k]);
            signed_max = x[k];
        }
    }
    // Q8: symmetric, +-127. Q4 (as Q4_0): the largest magnitude maps to -8, the one code with no positive twin.
    const int lo = f.bits == Bits::q8 ? -127 : -8, hi = f.bits == Bits::q8 ? 127 : 7;
    scale = to_half(f.bits == Bits::q8 ? amax / 127.0f : signed_max / -8.0f);
    const float d = from_half(scale), inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (int k = 0; k < kBlock; k++) q[k] = static_cast<std::int8_t>(std::clamp<long>(std::lrintf(x[k] * inv), lo, hi));
}

// Writes one block of one row into its panel.
void place(const Format& f, std::uint8_t* base, long G, long row, long b, const std::int8_t* q, std::uint16_t scale) {
    const long v = row % kPanelRows / kLanes, lane = row % kLanes;
    std::uint8_t* blk = base + (row / kPanelRows * G + b) * block_stride(f);
    if (f.bits == Bits::q8) {
        for (int k = 0; k < kBlock; k++) {
            blk[((k / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4] = static_cast<std::uint8_t>(q[k] + f.offset);
        }
    } else {
        for (int k = 0; k < kBlock / 2; k++) {
            const int low = q[k] + f.offset, high = q[k + kBlock / 2] + f.offset;
            blk[((k / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4] = static_cast<std::uint8_t>(low | high << 4);
        }
    }
    std::memcpy(blk + f.code_bytes + (v * kLanes + lane) * 2, &scale, 2);
}

// acc + the four-code dot products of unsigned codes u and signed activations s, per 32-bit lane.
template <Dot D, Bits B>
inline __m512i dot4(__m512i acc, __m512i u, __m512i s) {
#if defined(__AVX512VNNI__)
    if constexpr (D == Dot::vnni) return _mm512_dpbusd_epi32(acc, u, s);
#endif
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
}

inline __m512i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

struct Tile {
    const std::uint8_t* panel;  // the panel's first block
    long stride;                // bytes per block of the panel
    long G, np;                 // blocks per row; padded activation row length
    int b0, b1;                 // blocks of this depth pass
    int row0;                   // first activation row
    float* y;                   // output of the panel's first row, first activation row
    long ldy;
    int valid;                  // rows of the panel that exist (<= kPanelRows)
    bool accumulate;            // add to y (a later depth pass)
};

// M activation rows against one panel over blocks b0 .. b1. With one row, two phases of sums break the
// dependency chain through the accumulators.
template <Dot D, Bits B, int M>
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
                    for (int v = 0; v < kVecs; v++) s[ph][i][v] = dot4<D, B>(s[ph][i][v], w[v], x);
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
                        s[0][i][v] = dot4<D, B>(s[0][i][v], lo[v], xl);
                        s[kPhases - 1][i][v] = dot4<D, B>(s[kPhases - 1][i][v], hi[v], xh);
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

template <Dot D, Bits B>
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
                    case 1: tile<D, B, 1>(t, a); break;
                    case 2: tile<D, B, 2>(t, a); break;
                    case 3: tile<D, B, 3>(t, a); break;
                    default: tile<D, B, 4>(t, a); break;
                }
            }
        }
    }
}

#else
constexpr bool kAvailable = false;
#endif

}  // namespace

bool available() { return kAvailable; }

Dot best_dot() {
#if defined(__AVX512VNNI__)
    return Dot::vnni;
#else
    return Dot::widening;
#endif
}

int blocks(int n) { return (n + kBlock - 1) / kBlock; }
int panels(const PackedWeight& w) { return (w.d + kPanelRows - 1) / kPanelRows; }

#if defined(__AVX512BW__) && defined(__F16C__)

// The signed codes and fp16 scale of block b of a GGUF Q8_0 or Q4_0 row, taken as they are.
void native_block(const Format& f, const std::uint8_t* row, long b, std::int8_t* q, std::uint16_t& scale) {
    const std::uint8_t* blk = row + b * (f.bits == Bits::q8 ? 2 + kBlock : 2 + kBlock / 2);
    std::memcpy(&scale, blk, 2);
    for (int k = 0; k < kBlock; k++) {
        q[k] = f.bits == Bits::q8 ? static_cast<std::int8_t>(blk[2 + k])
                                  : static_cast<std::int8_t>((blk[2 + k % 16] >> (k < 16 ? 0 : 4) & 0x0F) - 8);
    }
}

PackedWeight pack(const WeightView& view, const Format& f, ExecContext& ctx) {
    const bool native = view.dtype == (f.bits == Bits::q8 ? DType::q8_0 : DType::q4_0);
    const PackedWeight src = native ? PackedWeight{view.data, nullptr, view.d, view.n, nullptr} : prepare_f32(view, ctx);
    const long d = src.d, n = src.n, G = blocks(src.n), P = panels(src);
    const std::size_t bytes = static_cast<std::size_t>(P * G * block_stride(f));
    std::shared_ptr<void> storage = ctx.weight_buffer(bytes);
    auto* base = static_cast<std::uint8_t*>(storage.get());
    std::memset(base, 0, bytes);
    float block[kBlock];
    std::int8_t q[kBlock];
    std::uint16_t scale;
    for (long row = 0; row < d; row++) {
        for (long b = 0; b < G; b++) {
            if (native) {
                native_block(f, static_cast<const std::uint8_t*>(view.data) + row * row_bytes(view.dtype, n), b, q, scale);
            } else {
                const long k0 = b * kBlock, len = std::min<long>(kBlock, n - k0);
                std::fill(block, block + kBlock, 0.0f);
                std::memcpy(block, static_cast<const float*>(src.data) + row * n + k0, static_cast<std::size_t>(len) * sizeof(float));
                quantize_block(f, block, q, scale);
            }
            place(f, base, G, row, b, q, scale);
        }
    }
    return owning(std::move(storage), src);
}

void unpack(const Format& f, const PackedWeight& w, float* out) {
    const long G = blocks(w.n), n = w.n;
    const auto* base = static_cast<const std::uint8_t*>(w.data);
    for (long row = 0; row < w.d; row++) {
        const long v = row % kPanelRows / kLanes, lane = row % kLanes;
        for (long b = 0; b < G; b++) {
            const std::uint8_t* blk = base + (row / kPanelRows * G + b) * block_stride(f);
            std::uint16_t half;
            std::memcpy(&half, blk + f.code_bytes + (v * kLanes + lane) * 2, 2);
            const float d = from_half(half);
            for (long k = 0; k < kBlock && b * kBlock + k < n; k++) {
                const int code = f.bits == Bits::q8
                                     ? blk[((k / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4]
                                     : blk[((k % 16 / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4] >> (k < 16 ? 0 : 4) & 0x0F;
                out[row * n + b * kBlock + k] = static_cast<float>(code - f.offset) * d;
            }
        }
    }
}

Activations quantize(const float* x, int m, int n, const Format& f, ExecContext& ctx) {
    const long G = blocks(n), np = G * kBlock;
    // scale[m*G] | bias[m*G] | q[m*np], in one scratch buffer of floats.
    float* buf = ctx.scratch(static_cast<std::size_t>(2 * m * G + (m * np + 3) / 4));
    auto* bias = reinterpret_cast<std::int32_t*>(buf + m * G);
    auto* q = reinterpret_cast<std::int8_t*>(buf + 2 * m * G);
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
            buf[r * G + b] = d;
            bias[r * G + b] = -f.offset * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        }
    }
    return {q, buf, bias};
}

void run_panels(Dot dot, const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1) {
    const bool q8 = f.bits == Bits::q8;
    if (dot == Dot::vnni && best_dot() == Dot::vnni) {
        (q8 ? panels_impl<Dot::vnni, Bits::q8> : panels_impl<Dot::vnni, Bits::q4>)(f, w, a, y, m, p0, p1);
    } else {
        (q8 ? panels_impl<Dot::widening, Bits::q8> : panels_impl<Dot::widening, Bits::q4>)(f, w, a, y, m, p0, p1);
    }
}

#else

PackedWeight pack(const WeightView&, const Format&, ExecContext&) {
    throw std::logic_error("the block-quantised kernels need AVX-512 BW and F16C");
}
void unpack(const Format&, const PackedWeight&, float*) {
    throw std::logic_error("the block-quantised kernels need AVX-512 BW and F16C");
}
Activations quantize(const float*, int, int, const Format&, ExecContext&) {
    throw std::logic_error("the block-quantised kernels need AVX-512 BW and F16C");
}
void run_panels(Dot, const Format&, const PackedWeight&, const Activations&, float*, int, int, int) {
    throw std::logic_error("the block-quantised kernels need AVX-512 BW and F16C");
}

#endif

void run(Dot dot, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_panels(dot, f, w, quantize(x, m, w.n, f, ctx), y, m, 0, panels(w));
}

void run_parallel(Dot dot, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    const Activations a = quantize(x, m, w.n, f, ctx);
    const int n_panels = panels(w);
    // A panel streams its weights once and costs its m rows of dot products (kMR rows a tile).
    const long work = static_cast<long>(blocks(w.n)) * block_stride(f) * std::max(1, m / kMR);
    ctx.parallel_for(n_panels, static_cast<double>(work), [&](int p0, int p1, int) { run_panels(dot, f, w, a, y, m, p0, p1); });
}

}  // namespace wb::matmul::qblocks
