// Attention of query rows against one kv head with xsimd batches: the pieces attention.simd,
// attention.tbb and attention.flash share. Ragged sizes (head sizes or key counts that are not a
// multiple of the batch width) finish in scalar code; nothing here reads past the last key it is given.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <xsimd/xsimd.hpp>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "kernels/simd.h"

#include "kernels/kernel.h"

namespace wb::WB_ISA_NS::attention::simd_head {

using Batch = xsimd::batch<float>;
inline constexpr int kLanes = static_cast<int>(Batch::size);

inline int round_up_to_lanes(int n) { return (n + kLanes - 1) / kLanes * kLanes; }

// How many keys ahead the loops over cache rows prefetch: a head's slice of a row is a few lines, rows (and, for
// long rows, pages) apart, where the hardware prefetcher does not reach.
inline constexpr int kAheadKeys = 32;

// 1 / sqrt(head_size), the score scale.
inline float score_scale(int head_size) { return 1.0f / std::sqrt(static_cast<float>(head_size)); }

// q . k over n floats.
inline float dot(const float* q, const float* k, int n) {
    float sum = 0.0f;
    int i = 0;
    if (n >= kLanes) {
        Batch acc(0.0f);
        for (; i + kLanes <= n; i += kLanes) {
            acc = vec::fmadd(Batch::load_unaligned(q + i), Batch::load_unaligned(k + i), acc);
        }
        sum = xsimd::hadd(acc);
    }
    for (; i < n; i++) sum += q[i] * k[i];
    return sum;
}

// Folding kLanes accumulators into one batch of their sums. Spelled out because xsimd 8.1's haddp
// permutes the lanes on AVX-512 and its zip_lo/zip_hi stay within 128-bit lanes.

// Lane masks for fold_pair: lane l's partner is l ^ Half; lanes with that bit set take y's sums.
template <unsigned Half>
struct PartnerLane {
    static constexpr unsigned get(unsigned lane, unsigned) { return lane ^ Half; }
};
template <unsigned Half>
struct UpperLane {
    static constexpr bool get(unsigned lane, unsigned) { return (lane & Half) != 0; }
};

// Lanes with bit Half clear get x[l] + x[l ^ Half], the others y[l] + y[l ^ Half]. On x86 the masks and
// permutations are immediates: xsimd 8.1 builds a constant mask through a call each time.
template <unsigned Half>
inline Batch fold_pair(const Batch& x, const Batch& y) {
#if defined(__AVX512F__)
    static_assert(kLanes == 16);
    constexpr __mmask16 upper = Half == 8 ? 0xFF00 : Half == 4 ? 0xF0F0 : Half == 2 ? 0xCCCC : 0xAAAA;
    const __m512 mine = _mm512_mask_blend_ps(upper, x, y);     // x where the bit is clear, y where set
    const __m512 theirs = _mm512_mask_blend_ps(upper, y, x);   // the other one, to be moved to the partner lane
    __m512 moved;
    if constexpr (Half == 8) moved = _mm512_shuffle_f32x4(theirs, theirs, 0x4E);
    else if constexpr (Half == 4) moved = _mm512_shuffle_f32x4(theirs, theirs, 0xB1);
    else if constexpr (Half == 2) moved = _mm512_permute_ps(theirs, 0x4E);
    else moved = _mm512_permute_ps(theirs, 0xB1);
    return _mm512_add_ps(mine, moved);
#elif defined(__AVX__)
    static_assert(kLanes == 8);
    constexpr int upper = Half == 4 ? 0xF0 : Half == 2 ? 0xCC : 0xAA;
    const __m256 mine = _mm256_blend_ps(x, y, upper);
    const __m256 theirs = _mm256_blend_ps(y, x, upper);
    __m256 moved;
    if constexpr (Half == 4) moved = _mm256_permute2f128_ps(theirs, theirs, 0x01);
    else if constexpr (Half == 2) moved = _mm256_permute_ps(theirs, 0x4E);
    else moved = _mm256_permute_ps(theirs, 0xB1);
    return _mm256_add_ps(mine, moved);
#else
    constexpr auto partner = xsimd::make_batch_constant<xsimd::batch<std::uint32_t>, PartnerLane<Half>>();
    constexpr auto upper = xsimd::make_batch_bool_constant<Batch, UpperLane<Half>>();
    return xsimd::select(upper, y, x) + xsimd::swizzle(xsimd::select(upper, x, y), partner);
#endif
}

template <unsigned Half>
inline void fold_levels(Batch* rows, int n) {
    for (int k = 0; k < n / 2; k++) rows[k] = fold_pair<Half>(rows[2 * k], rows[2 * k + 1]);
    if constexpr (Half > 1) fold_levels<Half / 2>(rows, n / 2);
}

constexpr int bit_reverse(int lane) {
    int r = 0;
    for (int bit = 1; bit < kLanes; bit <<= 1) r = (r << 1) | ((lane & bit) != 0);
    return r;
}

// Lane l of the result is the sum of the lanes of rows[bit_reverse(l)] (rows is clobbered).
inline Batch sum_each_bit_reversed(Batch (&rows)[kLanes]) {
    fold_levels<kLanes / 2>(rows, kLanes);
    return rows[0];
}

#if defined(__AVX512F__)
// Heads of half a batch (head size 8 on AVX-512, stories260K's) put two keys in each batch: lanes 0-7 key a,
// lanes 8-15 key b.
inline constexpr int kHalf = kLanes / 2;
inline bool half_batch_head(int head_size) { return head_size == kHalf; }
inline Batch two_halves(const float* a, const float* b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a)), _mm256_loadu_ps(b), 1);
}
inline Batch two_halves(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

// Bit reversal of the kHalf lanes' indices: row r of half_head_scores holds keys rev(r) and kHalf + rev(r).
constexpr int half_bit_reverse(int lane) {
    int r = 0;
    for (int bit = 1; bit < kHalf; bit <<= 1) r = (r << 1) | ((lane & bit) != 0);
    return r;
}

// scores() for half-batch heads: kHalf accumulators of two keys each fold (within each half) into kLanes scores.
inline int half_head_scores(const float* q, const float* k, long stride, int n_keys, float scale, float* out) {
    const Batch qq = two_halves(q, q);
    int t = 0;
    for (; t + kLanes <= n_keys; t += kLanes) {
        const float* kt = k + t * stride;
        Batch acc[kHalf];
#pragma GCC unroll 8
        for (int r = 0; r < kHalf; r++) {
            const int key = half_bit_reverse(r);
            acc[r] = qq * two_halves(kt + key * stride, kt + (kHalf + key) * stride);
        }
        fold_levels<kHalf / 2>(acc, kHalf);
        (acc[0] * scale).store_unaligned(out + t);
    }
    return t;
}
#else
inline bool half_batch_head(int) { return false; }
inline int half_head_scores(const float*, const float*, long, int, float, float*) { return 0; }
#endif

// scores[t] = scale * (q . k_t) for t in [0, n_keys); key t starts at k + t * stride.
// Keys go kLanes at a time, one accumulator each, folded into one batch of scores.
inline void scores(const float* q, const float* k, long stride, int n_keys, int head_size, float scale,
                   float* out) {
    const int full = head_size - head_size % kLanes;
    int t = half_batch_head(head_size) ? half_head_scores(q, k, stride, n_keys, scale, out) : 0;
    for (; t + kLanes <= n_keys && full > 0; t += kLanes) {
        const float* kt = k + t * stride;
        Batch acc[kLanes];  // acc[j] holds key bit_reverse(j), so that the fold lands key j in lane j
        for (Batch& a : acc) a = Batch(0.0f);
        for (int i = 0; i < full; i += kLanes) {
            const Batch qi = Batch::load_unaligned(q + i);
#pragma GCC unroll 16
            for (int j = 0; j < kLanes; j++) {
                acc[j] = vec::fmadd(qi, Batch::load_unaligned(kt + bit_reverse(j) * stride + i), acc[j]);
            }
        }
        Batch s = sum_each_bit_reversed(acc);
        if (full < head_size) {
            alignas(64) float tail[kLanes];
            for (int j = 0; j < kLanes; j++) tail[j] = dot(q + full, kt + j * stride + full, head_size - full);
            s += Batch::load_aligned(tail);
        }
        (s * scale).store_unaligned(out + t);
    }
    for (; t < n_keys; t++) out[t] = scale * dot(q, k + t * stride, head_size);
}

// Sets x[n .. round_up_to_lanes(n)) to -inf so whole batches can be reduced and exponentiated.
inline void pad_with_minus_infinity(float* x, int n) {
    std::fill(x + n, x + round_up_to_lanes(n), -std::numeric_limits<float>::infinity());
}

// xsimd 8 has no max reducer; once per row, a store and a scalar pass is cheap.
inline float horizontal_max(const Batch& b) {
    alignas(64) float lanes[kLanes];
    b.store_aligned(lanes);
    return *std::max_element(lanes, lanes + kLanes);
}

// Largest of x[0 .. n), n a positive multiple of kLanes.
inline float max_of(const float* x, int n) {
    Batch m = Batch::load_aligned(x);
    for (int t = kLanes; t < n; t += kLanes) m = xsimd::max(m, Batch::load_aligned(x + t));
    return horizontal_max(m);
}

// x[t] <- exp(x[t] - shift) for t in [0, n), n a multiple of kLanes; returns the sum of the new x.
inline float exp_shifted(float* x, int n, float shift) {
    const Batch s(shift);
    Batch sum(0.0f);
    for (int t = 0; t < n; t += kLanes) {
        const Batch e = xsimd::exp(Batch::load_aligned(x + t) - s);
        e.store_aligned(x + t);
        sum += e;
    }
    return xsimd::hadd(sum);
}

// Softmax weights p_r[t] of rows r and keys t, stored by rows (key_stride 1) or by keys (row_stride 1).
struct Weights {
    const float* data;
    int row_stride;
    int key_stride;

    float operator()(int r, int t) const { return data[r * row_stride + t * key_stride]; }
    Weights from_row(int r) const { return {data + r * row_stride, row_stride, key_stride}; }
};

// For Rows rows r: acc_r[0 .. Width*kLanes) <- keep[r] * acc_r + sum_t p(r, t) * v_t over t in [0, n), where
// acc_r = acc + r * acc_stride, v_t = v + t * stride. Each load of v feeds every row; the sums stay in registers.
template <int Rows, int Width>
inline void accumulate_panel(Weights p, const float* keep, const float* v, long stride, int n, float* acc,
                             int acc_stride) {
    Batch sum[Rows][Width];
    for (int r = 0; r < Rows; r++) {
        for (int b = 0; b < Width; b++) sum[r][b] = Batch::load_unaligned(acc + r * acc_stride + b * kLanes) * keep[r];
    }
    for (int t = 0; t < n; t++) {
        for (int b = 0; b < Width; b++) __builtin_prefetch(v + (t + kAheadKeys) * stride + b * kLanes);
        Batch vt[Width];
        for (int b = 0; b < Width; b++) vt[b] = Batch::load_unaligned(v + t * stride + b * kLanes);
        for (int r = 0; r < Rows; r++) {
            const Batch pr(p(r, t));
            for (int b = 0; b < Width; b++) sum[r][b] = vec::fmadd(pr, vt[b], sum[r][b]);
        }
    }
    for (int r = 0; r < Rows; r++) {
        for (int b = 0; b < Width; b++) sum[r][b].store_unaligned(acc + r * acc_stride + b * kLanes);
    }
}

#if defined(__AVX512F__)
// accumulate_values for half-batch heads: keys t and t + 1 share a batch, the halves are added at the end.
template <int Rows>
inline void accumulate_half_head(Weights p, const float* keep, const float* v, long stride, int n, float* acc,
                                 int acc_stride) {
    Batch sum[Rows];
    for (int r = 0; r < Rows; r++) sum[r] = Batch(0.0f);
    int t = 0;
    for (; t + 2 <= n; t += 2) {
        const Batch vt = two_halves(v + t * stride, v + (t + 1) * stride);
        for (int r = 0; r < Rows; r++) sum[r] = vec::fmadd(two_halves(p(r, t), p(r, t + 1)), vt, sum[r]);
    }
    for (int r = 0; r < Rows; r++) {
        alignas(64) float lanes[kLanes];
        sum[r].store_aligned(lanes);
        float* out = acc + r * acc_stride;
        for (int i = 0; i < kHalf; i++) {
            float x = keep[r] * out[i] + (lanes[i] + lanes[kHalf + i]);
            if (t < n) x += p(r, t) * v[t * stride + i];
            out[i] = x;
        }
    }
}
#endif

// The weighted sum of values for Rows rows (as accumulate_panel), over the whole head:
// acc_r[0 .. head_size) <- keep[r] * acc_r + sum_t p(r, t) * v_t for t in [0, n).
template <int Rows>
inline void accumulate_values(Weights p, const float* keep, const float* v, long stride, int n, int head_size,
                              float* acc, int acc_stride) {
#if defined(__AVX512F__)
    if (half_batch_head(head_size)) {
        accumulate_half_head<Rows>(p, keep, v, stride, n, acc, acc_stride);
        return;
    }
#endif
    constexpr int kPanel = 4;  // batches per pass over the keys
    int i = 0;
    for (; i + kPanel * kLanes <= head_size; i += kPanel * kLanes) {
        accumulate_panel<Rows, kPanel>(p, keep, v + i, stride, n, acc + i, acc_stride);
    }
    switch ((head_size - i) / kLanes) {
    case 3: accumulate_panel<Rows, 3>(p, keep, v + i, stride, n, acc + i, acc_stride); break;
    case 2: accumulate_panel<Rows, 2>(p, keep, v + i, stride, n, acc + i, acc_stride); break;
    case 1: accumulate_panel<Rows, 1>(p, keep, v + i, stride, n, acc + i, acc_stride); break;
    default: break;
    }
    for (int r = 0; r < Rows; r++) {
        for (i = head_size - head_size % kLanes; i < head_size; i++) {
            float sum = keep[r] * acc[r * acc_stride + i];
            for (int t = 0; t < n; t++) sum += p(r, t) * v[t * stride + i];
            acc[r * acc_stride + i] = sum;
        }
    }
}

// x[0 .. n) *= s
inline void scale_in_place(float* x, int n, float s) {
    int i = 0;
    for (; i + kLanes <= n; i += kLanes) (Batch::load_unaligned(x + i) * s).store_unaligned(x + i);
    for (; i < n; i++) x[i] *= s;
}

// One head, one query row against keys 0 .. n-1: out = softmax(q . k_t / sqrt(head_size)) . v.
// att: scratch of round_up_to_lanes(n) floats, 64-byte aligned.
inline void attend_row(const float* q, const float* k, const float* v, long stride, int n, int head_size,
                       float* att, float* out) {
    scores(q, k, stride, n, head_size, score_scale(head_size), att);
    pad_with_minus_infinity(att, n);
    const int padded = round_up_to_lanes(n);
    const float sum = exp_shifted(att, padded, max_of(att, padded));
    std::fill(out, out + head_size, 0.0f);
    const float keep = 1.0f;
    accumulate_values<1>({att, 0, 1}, &keep, v, stride, n, head_size, out, 0);
    scale_in_place(out, head_size, 1.0f / sum);
}

// Row i of a span, head h: the pointers attend_row needs.
inline void attend_one(const AttentionArgs& a, const AttentionSpan& span, int i, int h, float* att) {
    const int dim = a.n_heads * a.head_size;
    const long kv_dim = static_cast<long>(a.n_kv_heads) * a.head_size;
    const long kv_off = static_cast<long>(h / (a.n_heads / a.n_kv_heads)) * a.head_size;
    const long q_off = static_cast<long>(span.first_row + i) * dim + static_cast<long>(h) * a.head_size;
    attend_row(a.q + q_off, a.keys(span) + kv_off, a.values(span) + kv_off, kv_dim, span.pos + i + 1, a.head_size,
               att, a.out + q_off);
}

// Scratch floats attend_one needs for any row of a call.
inline std::size_t attend_scratch_size(const AttentionArgs& a) {
    return static_cast<std::size_t>(round_up_to_lanes(a.max_keys()));
}

}  // namespace wb::WB_ISA_NS::attention::simd_head
