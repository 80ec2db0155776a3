#include "kernels/matmul/kquants.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/exec_context.h"
#include "types/kquant_blocks.h"
#include "kernels/matmul/f32.h"

namespace wb::matmul::kquants {

namespace {

// Where row r's pieces of super-block s sit in the panel stream.
struct Spot {
    long super;   // byte offset of the super-block in r's panel
    int v, lane;  // vector and lane of r
    int row;      // r within the panel
};

Spot spot(const Format& f, long S, long r, long s) {
    const int row = static_cast<int>(r % kPanelRows);
    return {(r / kPanelRows * S + s) * f.super_stride(), row / kLanes, row % kLanes, row};
}

// Byte offsets in a block of code k (0 .. 31) of lane (v, lane): its nibble in the [pair][vector][lane][4] order,
// its high bits in the plane's [vector][lane][4] order, and their bit there.
long code_byte(int k, int v, int lane) { return ((k % 16 / 4 * kVecs + v) * kLanes + lane) * 4 + k % 4; }
long plane_byte(const Format& f, int k, int v, int lane) {
    return kNibbleBytes + (f.planes == 2 && k >= 16 ? kPlaneBytes : 0) + (v * kLanes + lane) * 4 + k % 4;
}
int plane_bit(const Format& f, int k) { return f.planes == 1 ? k % 16 / 4 + (k < 16 ? 0 : 4) : 2 * (k % 16 / 4); }

void place(const Format& f, std::uint8_t* base, const Spot& at, const kquant::SuperBlock& sb) {
    std::uint8_t* super = base + at.super;
    std::uint8_t* header = super + kBlocks * f.block_bytes();
    std::memcpy(header + 2 * at.row, &sb.d, 2);
    for (int j = 0; j < kBlocks; j++) {
        std::uint8_t* blk = super + j * f.block_bytes();
        for (int k = 0; k < kBlock; k++) {
            const int code = sb.q[j * kBlock + k];
            blk[code_byte(k, at.v, at.lane)] |= static_cast<std::uint8_t>((code & 0xF) << (k < 16 ? 0 : 4));
            if (f.planes > 0) blk[plane_byte(f, k, at.v, at.lane)] |= static_cast<std::uint8_t>((code >> 4) << plane_bit(f, k));
        }
    }
    if (f.type == DType::q6_K) {
        for (int h = 0; h < 2 * kBlocks; h++) header[kHeaderScale6 + h * kPanelRows + at.row] = static_cast<std::uint8_t>(sb.scale[h]);
        return;
    }
    std::memcpy(header + kHeaderDmin + 2 * at.row, &sb.dmin, 2);
    for (int j = 0; j < kBlocks; j++) {
        header[kHeaderScale + j * kPanelRows + at.row] = static_cast<std::uint8_t>(sb.scale[j]);
        header[kHeaderMin + j * kPanelRows + at.row] = sb.min[j];
    }
}

void take(const Format& f, const std::uint8_t* base, const Spot& at, kquant::SuperBlock& sb) {
    const std::uint8_t* super = base + at.super;
    const std::uint8_t* header = super + kBlocks * f.block_bytes();
    std::memcpy(&sb.d, header + 2 * at.row, 2);
    for (int j = 0; j < kBlocks; j++) {
        const std::uint8_t* blk = super + j * f.block_bytes();
        for (int k = 0; k < kBlock; k++) {
            int code = blk[code_byte(k, at.v, at.lane)] >> (k < 16 ? 0 : 4) & 0xF;
            if (f.planes > 0) code |= (blk[plane_byte(f, k, at.v, at.lane)] >> plane_bit(f, k) & (f.planes == 1 ? 1 : 3)) << 4;
            sb.q[j * kBlock + k] = static_cast<std::uint8_t>(code);
        }
    }
    if (f.type == DType::q6_K) {
        for (int h = 0; h < 2 * kBlocks; h++) sb.scale[h] = static_cast<std::int8_t>(header[kHeaderScale6 + h * kPanelRows + at.row]);
        return;
    }
    std::memcpy(&sb.dmin, header + kHeaderDmin + 2 * at.row, 2);
    for (int j = 0; j < kBlocks; j++) {
        sb.scale[j] = static_cast<std::int8_t>(header[kHeaderScale + j * kPanelRows + at.row]);
        sb.min[j] = header[kHeaderMin + j * kPanelRows + at.row];
    }
}

// Quantised into the context's scratch slot 0 (one call's lifetime).
Activations quantize(const Microkernel& k, const float* x, int m, int n, ExecContext& ctx) {
    const long G = static_cast<long>(supers(n)) * kBlocks, np = G * kBlock;
    // scale[m*G] | sums[m*G*2] | q[m*np], in one scratch buffer of floats.
    float* buf = ctx.scratch(static_cast<std::size_t>(3 * m * G + (m * np + 3) / 4));
    const ActivationBuffers out{reinterpret_cast<std::int8_t*>(buf + 3 * m * G), buf,
                                reinterpret_cast<std::int32_t*>(buf + m * G)};
    k.quantize(x, m, n, out);
    return {out.q, out.scale, out.sums};
}

}  // namespace

int supers(int n) { return (n + kSuper - 1) / kSuper; }

PackedWeight pack(const Format& f, const WeightView& view, ExecContext& ctx) {
    const bool native = view.dtype == f.type;
    const PackedWeight src = native ? PackedWeight{view.data, nullptr, view.d, view.n, nullptr} : prepare_f32(view, ctx);
    const long d = src.d, n = src.n, S = supers(src.n), P = qblocks::panels(src);
    const std::size_t bytes = static_cast<std::size_t>(P * S * f.super_stride());
    std::shared_ptr<void> storage = ctx.weight_buffer(bytes);
    auto* base = static_cast<std::uint8_t*>(storage.get());
    std::memset(base, 0, bytes);
    const std::uint64_t stored_row = row_bytes(f.type, S * kSuper);
    std::vector<std::uint8_t> converted(native ? 0 : stored_row);
    std::vector<float> padded(native ? 0 : static_cast<std::size_t>(S * kSuper), 0.0f);
    kquant::SuperBlock sb;
    for (long r = 0; r < d; r++) {
        if (!native) {  // one row at a time into the format's GGUF blocks, then taken as if the file held them
            std::memcpy(padded.data(), static_cast<const float*>(src.data) + r * n, static_cast<std::size_t>(n) * sizeof(float));
            traits(f.type).quantize_row(padded.data(), converted.data(), S * kSuper);
        }
        const std::uint8_t* row = native ? static_cast<const std::uint8_t*>(view.data) + r * stored_row : converted.data();
        for (long s = 0; s < S; s++) {
            kquant::read(f.type, row + s * traits(f.type).block_bytes, sb);
            place(f, base, spot(f, S, r, s), sb);
        }
    }
    return owning(std::move(storage), src);
}

void unpack(const Format& f, const PackedWeight& w, float* out) {
    const long S = supers(w.n), n = w.n;
    const auto* base = static_cast<const std::uint8_t*>(w.data);
    kquant::SuperBlock sb;
    float values[kSuper];
    for (long r = 0; r < w.d; r++) {
        for (long s = 0; s < S; s++) {
            take(f, base, spot(f, S, r, s), sb);
            kquant::dequantize(f.type, sb, values);
            std::copy(values, values + std::min<long>(kSuper, n - s * kSuper), out + r * n + s * kSuper);
        }
    }
}

void run(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    k.run_panels(f, w, quantize(k, x, m, w.n, ctx), y, m, 0, qblocks::panels(w));
}

void run_parallel(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m,
                  ExecContext& ctx) {
    const Activations a = quantize(k, x, m, w.n, ctx);
    // A panel streams its weights once and costs its m rows of dot products (4 rows a tile).
    const long work = static_cast<long>(supers(w.n)) * f.super_stride() * std::max(1, m / 4);
    ctx.parallel_for(qblocks::panels(w), static_cast<double>(work),
                     [&](int p0, int p1, int) { k.run_panels(f, w, a, y, m, p0, p1); });
}

}  // namespace wb::matmul::kquants
