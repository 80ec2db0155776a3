#include "kernels/matmul/qblocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/matmul/f32.h"
#include "types/weight_types.h"

namespace wb::matmul::qblocks {

namespace {

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
    scale = f32_to_fp16(f.bits == Bits::q8 ? amax / 127.0f : signed_max / -8.0f);
    const float d = fp16_to_f32(scale), inv = d != 0.0f ? 1.0f / d : 0.0f;
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

PackedWeight pack(const WeightView& view, const Format& f, ExecContext& ctx) {
    // Blocks whose codes fit the format (Q8_0, Q5_0 and Q4_0 for Q8; Q4_0 for Q4) keep their codes and scale.
    const TypeTraits& stored = traits(view.dtype);
    const bool native = holds_exactly(f.bits == Bits::q8 ? DType::q8_0 : DType::q4_0, view.dtype);
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
                const std::uint8_t* blk = static_cast<const std::uint8_t*>(view.data) + row * row_bytes(view.dtype, n) +
                                          b * stored.block_bytes;
                std::memcpy(&scale, blk, 2);
                stored.codes(blk, q);
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
            const float d = fp16_to_f32(half);
            for (long k = 0; k < kBlock && b * kBlock + k < n; k++) {
                const int code = f.bits == Bits::q8
                                     ? blk[((k / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4]
                                     : blk[((k % 16 / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4] >> (k < 16 ? 0 : 4) & 0x0F;
                out[row * n + b * kBlock + k] = static_cast<float>(code - f.offset) * d;
            }
        }
    }
}

// Quantised into the context's scratch slot 0 (one call's lifetime).
Activations quantize(const Microkernel& k, const float* x, int m, int n, const Format& f, ExecContext& ctx) {
    const long G = blocks(n), np = G * kBlock;
    // scale[m*G] | bias[m*G] | q[m*np], in one scratch buffer of floats.
    float* buf = ctx.scratch(static_cast<std::size_t>(2 * m * G + (m * np + 3) / 4));
    const ActivationBuffers out{reinterpret_cast<std::int8_t*>(buf + 2 * m * G), buf,
                                reinterpret_cast<std::int32_t*>(buf + m * G)};
    k.quantize(x, m, n, f, out);
    return {out.q, out.scale, out.bias};
}

}  // namespace

int blocks(int n) { return (n + kBlock - 1) / kBlock; }
int panels(const PackedWeight& w) { return (w.d + kPanelRows - 1) / kPanelRows; }

PackedWeight pack_q8(const WeightView& w, ExecContext& ctx) { return pack(w, kQ8, ctx); }
PackedWeight pack_q4(const WeightView& w, ExecContext& ctx) { return pack(w, kQ4, ctx); }
void unpack_q8(const PackedWeight& w, float* out) { unpack(kQ8, w, out); }
void unpack_q4(const PackedWeight& w, float* out) { unpack(kQ4, w, out); }

void run(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    k.run_panels(f, w, quantize(k, x, m, w.n, f, ctx), y, m, 0, panels(w));
}

void run_parallel(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m,
                  ExecContext& ctx) {
    const Activations a = quantize(k, x, m, w.n, f, ctx);
    const int n_panels = panels(w);
    // A panel streams its weights once and costs its m rows of dot products (4 rows a tile).
    const long work = static_cast<long>(blocks(w.n)) * block_stride(f) * std::max(1, m / 4);
    ctx.parallel_for(n_panels, static_cast<double>(work),
                     [&](int p0, int p1, int) { k.run_panels(f, w, a, y, m, p0, p1); });
}

}  // namespace wb::matmul::qblocks
