// The block-quantised matmul shared by matmul.q8, matmul.q4 and their TBB forms, at every level that has them.
//
// Weights come in blocks of 32 along n with one fp16 scale per block, as GGUF's Q8_0 and Q4_0 store them,
// and are re-laid-out at load into panels of 32 rows. Within a panel, block by block, lane r of a 64-byte
// vector holds four consecutive codes of row r, so one vpdpbusd against four broadcast activation bytes
// advances 16 rows at once and no horizontal sum is ever needed (a 32-byte vector takes half of it, 8 rows).
// Codes are unsigned (Q8: value + 128, Q4: nibble = value + 8); the offset is taken off through each
// activation block's precomputed sum. Activations are quantised once per call to int8 blocks of 32 with an
// fp32 scale.
//
// A panel's blocks are one sequential stream: [block][codes][scales], the codes as
//   Q8: [step 0..7][vector 0..1][lane 0..15][4 codes]           (k = 32b + 4 step + j)
//   Q4: [pair 0..3][vector 0..1][lane 0..15][4 bytes]           (low nibble k = 32b + 4 pair + j, high k + 16)
// followed by [vector][lane] fp16 scales. Rows past d and columns past n are zero.
//
// This file and qblocks.cpp are the portable part (layout, packing, the drivers); each level's microkernel
// (qblocks_avx2.cpp, qblocks_avx512.cpp) quantises activations and multiplies panels.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace wb::matmul::qblocks {

inline constexpr int kBlock = 32;               // weights per block
inline constexpr int kLanes = 16;               // rows per 64-byte vector
inline constexpr int kVecs = 2;                 // 64-byte vectors per panel
inline constexpr int kPanelRows = kLanes * kVecs;

enum class Bits : std::uint8_t { q8, q4 };

struct Format {
    Bits bits;
    int code_bytes;  // code bytes of one block of one panel
    int offset;      // stored code minus signed value
};
inline constexpr Format kQ8{Bits::q8, kBlock * kPanelRows, 128};
inline constexpr Format kQ4{Bits::q4, kBlock * kPanelRows / 2, 8};
inline constexpr int kScaleBytes = kPanelRows * 2;

inline long block_stride(const Format& f) { return f.code_bytes + kScaleBytes; }
int blocks(int n);                  // ceil(n / kBlock)
int panels(const PackedWeight& w);  // ceil(d / kPanelRows)

// Re-lays out any weight the checkpoint holds: GGUF Q8_0, Q5_0 and Q4_0 blocks (for kQ8) and Q4_0 (for kQ4) are
// taken as they are, codes and scales unchanged; everything else is dequantised to fp32 and quantised here.
PackedWeight pack_q8(const WeightView& w, ExecContext& ctx);
PackedWeight pack_q4(const WeightView& w, ExecContext& ctx);

// out[d x n] = the weights as the panels hold them (what the kernel's results are exact against).
void unpack_q8(const PackedWeight& w, float* out);
void unpack_q4(const PackedWeight& w, float* out);

struct Activations {
    const std::int8_t* q;      // [m x blocks*kBlock]
    const float* scale;        // [m x blocks]
    const std::int32_t* bias;  // [m x blocks]: -offset * (sum of the block's codes)
};
struct ActivationBuffers {
    std::int8_t* q;
    float* scale;
    std::int32_t* bias;
};

// What a level supplies: the activations quantised (x[m x n] into blocks(n) blocks a row, the tail zero-padded),
// and y[:, rows of panels p0 .. p1) for all m activation rows.
struct Microkernel {
    void (*quantize)(const float* x, int m, int n, const Format& f, const ActivationBuffers& out);
    void (*run_panels)(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1);
};

// What a level's tile multiplies: one panel's blocks b0 .. b1 against activation rows from row0, into y.
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

// The whole product on one thread, or shared out by panels over the context's arena; activations are quantised
// once per call into the context's scratch slot 0.
void run(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx);
void run_parallel(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m,
                  ExecContext& ctx);

// The rows of panel p that hold rows of the weight (fewer than kPanelRows in the last panel).
inline int valid_rows(const PackedWeight& w, int p) { return w.d - p * kPanelRows < kPanelRows ? w.d - p * kPanelRows : kPanelRows; }

}  // namespace wb::matmul::qblocks
