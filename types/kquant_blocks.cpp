// GGUF's K-quant super-blocks (ggml's block_q4_K, block_q5_K, block_q6_K; little-endian, no padding).
#include "types/kquant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace wb::kquant {

namespace {

using Byte = std::uint8_t;

std::uint16_t u16(const Byte* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
void put_u16(Byte* p, std::uint16_t v) {
    p[0] = static_cast<Byte>(v);
    p[1] = static_cast<Byte>(v >> 8);
}

// Q4_K and Q5_K: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, then (Q5_K) qh[32] and the nibbles.
// Sub-block s < 4: scale and min in the low six bits of bytes s and s + 4; s >= 4: in the nibbles of byte s + 4,
// their top two bits in the top bits of bytes s - 4 (scale) and s (min).
void read_scales(const Byte* p, SuperBlock& out) {
    for (int s = 0; s < 8; s++) {
        if (s < 4) {
            out.scale[s] = static_cast<std::int8_t>(p[s] & 63);
            out.min[s] = static_cast<Byte>(p[s + 4] & 63);
        } else {
            out.scale[s] = static_cast<std::int8_t>((p[s + 4] & 0xF) | (p[s - 4] >> 6) << 4);
            out.min[s] = static_cast<Byte>((p[s + 4] >> 4) | (p[s] >> 6) << 4);
        }
    }
}

void write_scales(const SuperBlock& in, Byte* p) {
    for (int s = 0; s < 4; s++) {
        const int sc = in.scale[s], mn = in.min[s], sc_hi = in.scale[s + 4], mn_hi = in.min[s + 4];
        p[s] = static_cast<Byte>(sc | (sc_hi >> 4) << 6);
        p[s + 4] = static_cast<Byte>(mn | (mn_hi >> 4) << 6);
        p[s + 8] = static_cast<Byte>((sc_hi & 0xF) | (mn_hi & 0xF) << 4);
    }
}

// The nibbles of Q4_K and Q5_K: 32-byte group g holds sub-block 2g in its low nibbles, 2g + 1 in its high ones.
int nibble_at(int i) { return 32 * (i / 64) + i % 32; }
bool high_nibble(int i) { return i % 64 >= 32; }

// Q6_K: ql[128], qh[64], int8 scales[16], fp16 d. Half h of 128 weights, quarter k, value l: the low nibble (k < 2)
// or high nibble (k >= 2) of ql[64 h + l + 32 (k % 2)], and bits 2k, 2k + 1 of qh[32 h + l].
struct Q6Place {
    int ql, ql_shift, qh, qh_shift;
};
Q6Place q6_place(int i) {
    const int h = i / 128, k = i % 128 / 32, l = i % 32;
    return {64 * h + l + 32 * (k % 2), k < 2 ? 0 : 4, 128 + 32 * h + l, 2 * k};
}

// The least-squares a, b of x ~ a L + b over n weights (b = 0 without an offset, else held at 0 or below);
// returns the squared error.
float fit(const float* x, const int* L, int n, bool with_offset, float& a, float& b) {
    double sl = 0, sll = 0, sx = 0, sxl = 0;
    for (int i = 0; i < n; i++) {
        sl += L[i];
        sll += static_cast<double>(L[i]) * L[i];
        sx += x[i];
        sxl += static_cast<double>(x[i]) * L[i];
    }
    a = 0.0f;
    b = 0.0f;
    const double det = n * sll - sl * sl;
    if (with_offset && det > 0) {
        a = static_cast<float>((n * sxl - sl * sx) / det);
        b = static_cast<float>((sll * sx - sl * sxl) / det);
    }
    if (!with_offset || det <= 0 || b > 0) {
        b = with_offset ? std::min(0.0f, b) : 0.0f;
        if (b == 0.0f && sll > 0) a = static_cast<float>(sxl / sll);
    }
    float err = 0;
    for (int i = 0; i < n; i++) err += (a * L[i] + b - x[i]) * (a * L[i] + b - x[i]);
    return err;
}

// One 32-weight sub-block as scale * L - min with L in 0 .. nmax and min >= 0: grids of slightly different
// steps over [min(x, 0), max(x)], each refitted by least squares, the best kept.
void fit_asymmetric(const float* x, int nmax, float& scale, float& min) {
    float lo = 0.0f, hi = x[0];
    for (int i = 0; i < 32; i++) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    scale = 0.0f;
    min = -lo;
    if (hi <= lo) return;
    float best = INFINITY;
    int L[32];
    for (int step = -6; step <= 6; step++) {
        const float inv = (static_cast<float>(nmax) + 0.15f * static_cast<float>(step)) / (hi - lo);
        for (int i = 0; i < 32; i++) L[i] = std::clamp(static_cast<int>(std::lrintf((x[i] - lo) * inv)), 0, nmax);
        float a, b;
        const float err = fit(x, L, 32, true, a, b);
        if (err < best && a > 0) {
            best = err;
            scale = a;
            min = -b;
        }
    }
}

// One 16-weight sub-block of Q6_K as scale * L with L in -32 .. 31 (scale may be negative).
float fit_symmetric(const float* x) {
    float extreme = 0.0f;
    for (int i = 0; i < 16; i++) {
        if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
    }
    if (extreme == 0.0f) return 0.0f;
    float best = INFINITY, scale = extreme / -32.0f;
    int L[16];
    for (int step = -6; step <= 6; step++) {
        const float inv = -(32.0f + 0.15f * static_cast<float>(step)) / extreme;
        for (int i = 0; i < 16; i++) L[i] = std::clamp(static_cast<int>(std::lrintf(x[i] * inv)), -32, 31);
        float a, b;
        const float err = fit(x, L, 16, false, a, b);
        if (err < best) {
            best = err;
            scale = a;
        }
    }
    return scale;
}

// The fp16 super-block factor that makes the largest of `values` `top` times it.
std::uint16_t factor(const float* values, int count, int top, float& f) {
    float largest = 0.0f;
    for (int i = 0; i < count; i++) largest = std::max(largest, std::fabs(values[i]));
    const std::uint16_t bits = f32_to_fp16(largest / static_cast<float>(top));
    f = fp16_to_f32(bits);
    return bits;
}

int multiple(float value, float f, int lo, int hi) {
    return f != 0.0f ? std::clamp(static_cast<int>(std::lrintf(value / f)), lo, hi) : 0;
}

}  // namespace

void read(DType type, const Byte* b, SuperBlock& out) {
    if (type == DType::q6_K) {
        for (int i = 0; i < kSuper; i++) {
            const Q6Place p = q6_place(i);
            out.q[i] = static_cast<Byte>((b[p.ql] >> p.ql_shift & 0xF) | (b[p.qh] >> p.qh_shift & 3) << 4);
        }
        std::memcpy(out.scale, b + 192, 16);
        out.d = u16(b + 208);
        out.dmin = 0;
        return;
    }
    out.d = u16(b);
    out.dmin = u16(b + 2);
    read_scales(b + 4, out);
    const Byte* qs = b + (type == DType::q5_K ? 48 : 16);
    for (int i = 0; i < kSuper; i++) {
        const Byte byte = qs[nibble_at(i)];
        out.q[i] = static_cast<Byte>(high_nibble(i) ? byte >> 4 : byte & 0xF);
        if (type == DType::q5_K) out.q[i] |= static_cast<Byte>((b[16 + i % 32] >> (i / 32) & 1) << 4);
    }
}

void write(DType type, const SuperBlock& in, Byte* b) {
    if (type == DType::q6_K) {
        std::memset(b, 0, 192);
        for (int i = 0; i < kSuper; i++) {
            const Q6Place p = q6_place(i);
            b[p.ql] |= static_cast<Byte>((in.q[i] & 0xF) << p.ql_shift);
            b[p.qh] |= static_cast<Byte>((in.q[i] >> 4) << p.qh_shift);
        }
        std::memcpy(b + 192, in.scale, 16);
        put_u16(b + 208, in.d);
        return;
    }
    put_u16(b, in.d);
    put_u16(b + 2, in.dmin);
    write_scales(in, b + 4);
    const bool five = type == DType::q5_K;
    Byte* qs = b + (five ? 48 : 16);
    std::memset(b + 16, 0, five ? 160 : 128);
    for (int i = 0; i < kSuper; i++) {
        qs[nibble_at(i)] |= static_cast<Byte>((in.q[i] & 0xF) << (high_nibble(i) ? 4 : 0));
        if (five) b[16 + i % 32] |= static_cast<Byte>((in.q[i] >> 4) << (i / 32));
    }
}

void dequantize(DType type, const SuperBlock& in, float* y) {
    const float d = fp16_to_f32(in.d), dmin = fp16_to_f32(in.dmin);
    for (int i = 0; i < kSuper; i++) {
        y[i] = type == DType::q6_K ? d * static_cast<float>(in.scale[i / 16]) * static_cast<float>(in.q[i] - 32)
                                   : d * static_cast<float>(in.scale[i / 32]) * static_cast<float>(in.q[i]) -
                                         dmin * static_cast<float>(in.min[i / 32]);
    }
}

void quantize(DType type, const float* x, SuperBlock& out) {
    if (type == DType::q6_K) {
        float scales[16];
        for (int s = 0; s < 16; s++) scales[s] = fit_symmetric(x + 16 * s);
        float d;
        out.d = factor(scales, 16, 127, d);
        out.dmin = 0;
        for (int s = 0; s < 16; s++) {
            out.scale[s] = static_cast<std::int8_t>(multiple(scales[s], d, -127, 127));
            const float step = d * static_cast<float>(out.scale[s]);
            for (int i = 16 * s; i < 16 * s + 16; i++) out.q[i] = static_cast<Byte>(multiple(x[i], step, -32, 31) + 32);
        }
        return;
    }
    const int nmax = type == DType::q5_K ? 31 : 15;
    float scales[8], mins[8];
    for (int s = 0; s < 8; s++) fit_asymmetric(x + 32 * s, nmax, scales[s], mins[s]);
    float d, dmin;
    out.d = factor(scales, 8, 63, d);
    out.dmin = factor(mins, 8, 63, dmin);
    for (int s = 0; s < 8; s++) {
        out.scale[s] = static_cast<std::int8_t>(multiple(scales[s], d, 0, 63));
        out.min[s] = static_cast<Byte>(multiple(mins[s], dmin, 0, 63));
        const float step = d * static_cast<float>(out.scale[s]), offset = dmin * static_cast<float>(out.min[s]);
        for (int i = 32 * s; i < 32 * s + 32; i++) out.q[i] = static_cast<Byte>(multiple(x[i] + offset, step, 0, nmax));
    }
}

}  // namespace wb::kquant
