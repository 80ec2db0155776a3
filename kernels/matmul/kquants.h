// The K-quant matmul shared by matmul.q4_k, matmul.q5_k, matmul.q6_k and their TBB forms: GGUF's Q4_K, Q5_K and
// Q6_K super-blocks of 256 run as stored, their codes and sub-block scales unchanged, re-laid-out at load into
// qblocks.h's panels of 32 rows so that one four-code dot product advances 16 rows at once.
//
// A panel's super-blocks are one sequential stream. Super-block s holds its eight 32-column blocks, then a header:
//   block j: nibbles [pair 0..3][vector 0..1][lane 0..15][4 bytes] (low nibble k = 32j + 4 pair + i, high k + 16),
//            then the high bits: Q5_K one plane [vector][lane][4 bytes] whose byte i holds the fifth bit of code
//            4 pair + i at bit `pair` and of code 16 + 4 pair + i at bit 4 + pair; Q6_K two such planes (codes
//            0..15, then 16..31), two bits a code at bits 2 pair, 2 pair + 1.
//   header:  Q4_K, Q5_K: fp16 d[32 rows], fp16 dmin[32], u8 scale[8 blocks][32], u8 min[8][32];
//            Q6_K: fp16 d[32], int8 scale[16 half-blocks][32].
// Rows past d are zero, columns past n are zero codes in zero-scaled sub-blocks. Bits read per weight: 4.625
// (Q4_K), 5.625 (Q5_K), 6.5625 (Q6_K), against 4.5, 5.5 and 6.5625 in the file (scales as bytes, not 6 bits).
//
// Activations are quantised once per call to int8 with one fp32 scale per super-block of 256 (amax / 127, as
// ggml's Q8_K that llama.cpp and ik_llama.cpp pair with K-quants; on llama.cpp's own Q4_K_M file of synthetic
// stories110M its greedy text followed llama-cli's a little longer than blocks of 32 did, 1015 against 930
// characters over four prompts), stored per block of 32 with the code sums of each half-block: a sub-block's
// minimum (Q4_K, Q5_K) and Q6_K's code offset of 32 are taken off through those sums.
//
// This file and kquants.cpp are the portable part; each level's microkernel (kquants_avx2.cpp at avx2 and avx-vnni,
// kquants_avx512.cpp at avx512 and avx512-vnni) quantises activations and multiplies panels.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"
#include "kernels/matmul/qblocks.h"

namespace wb::matmul::kquants {

using qblocks::kBlock;
using qblocks::kLanes;
using qblocks::kPanelRows;
using qblocks::kVecs;

inline constexpr int kSuper = 256;                   // weights per super-block
inline constexpr int kBlocks = kSuper / kBlock;      // 32-column blocks per super-block
inline constexpr int kNibbleBytes = kBlock * kPanelRows / 2;
inline constexpr int kPlaneBytes = kBlock * kPanelRows / 8;  // one bit a code

struct Format {
    DType type;        // q4_K, q5_K or q6_K
    int planes;        // high-bit planes per block: 0, 1 or 2
    int header_bytes;  // per super-block of a panel

    int block_bytes() const { return kNibbleBytes + planes * kPlaneBytes; }
    long super_stride() const { return static_cast<long>(kBlocks) * block_bytes() + header_bytes; }
};
inline constexpr Format kQ4K{DType::q4_K, 0, 64 + 64 + 2 * kBlocks * kPanelRows};
inline constexpr Format kQ5K{DType::q5_K, 1, 64 + 64 + 2 * kBlocks * kPanelRows};
inline constexpr Format kQ6K{DType::q6_K, 2, 64 + 2 * kBlocks * kPanelRows};

// Offsets into a super-block's header.
inline constexpr int kHeaderDmin = 2 * kPanelRows;                   // Q4_K, Q5_K
inline constexpr int kHeaderScale = 4 * kPanelRows;                  // Q4_K, Q5_K: [block][row]
inline constexpr int kHeaderMin = kHeaderScale + kBlocks * kPanelRows;
inline constexpr int kHeaderScale6 = 2 * kPanelRows;                 // Q6_K: [half-block][row]

int supers(int n);  // ceil(n / kSuper)

// Re-lays out any weight: the format's own GGUF type as stored; everything else dequantised to fp32 and quantised
// to the format with types/kquant_blocks.h's quantiser (the columns zero-padded to whole super-blocks).
PackedWeight pack(const Format& f, const WeightView& w, ExecContext& ctx);
// out[d x n] = the weights as the panels hold them (what the kernel's results are exact against).
void unpack(const Format& f, const PackedWeight& w, float* out);

struct Activations {
    const std::int8_t* q;      // [m x blocks*kBlock], blocks = supers(n) * kBlocks
    const float* scale;        // [m x blocks]
    const std::int32_t* sums;  // [m x blocks x 2]: the codes' sum over each half of the block
};
struct ActivationBuffers {
    std::int8_t* q;
    float* scale;
    std::int32_t* sums;
};

// One panel's super-blocks s0 .. s1 against activation rows from row0, into y.
struct Tile {
    const std::uint8_t* panel;  // the panel's first super-block
    long stride;                // bytes per super-block of the panel
    long G, np;                 // 32-column blocks per activation row; padded activation row length
    int s0, s1;                 // super-blocks of this depth pass
    int row0;
    float* y;
    long ldy;
    int valid;                  // rows of the panel that exist
    bool accumulate;            // add to y (a later depth pass)
};

// What a level supplies: x[m x n] quantised into supers(n) * kBlocks blocks a row (the tail zero), and
// y[:, rows of panels p0 .. p1) for all m activation rows.
struct Microkernel {
    void (*quantize)(const float* x, int m, int n, const ActivationBuffers& out);
    void (*run_panels)(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1);
};

// A level's tile for M activation rows: one panel's super-blocks t.s0 .. t.s1 against rows t.row0 .. t.row0 + M.
using TileFn = void (*)(const Tile& t, const Activations& a);
inline constexpr int kTileRows = 4;  // the most activation rows a tile takes

// The panel loop every level shares: y[:, rows of panels p0 .. p1) through tiles[M - 1] for M = 1 .. kTileRows rows.
// One tile of rows streams each panel once in a single depth pass; more tiles take it kc super-blocks at a time,
// so the part they share stays in L1.
inline void for_each_tile(const Format& f, const PackedWeight& w, const Activations& a, float* y, int m, int p0, int p1,
                          int kc, const TileFn (&tiles)[kTileRows]) {
    const long S = supers(w.n), G = S * kBlocks, stride = f.super_stride();
    const long depth = m <= kTileRows ? S : kc;
    for (int p = p0; p < p1; p++) {
        Tile t{static_cast<const std::uint8_t*>(w.data) + p * S * stride, stride, G, G * kBlock, 0, 0, 0,
               nullptr, w.d, w.d - p * kPanelRows < kPanelRows ? w.d - p * kPanelRows : kPanelRows, false};
        for (long s0 = 0; s0 < S; s0 += depth) {
            t.s0 = static_cast<int>(s0);
            t.s1 = static_cast<int>(s0 + depth < S ? s0 + depth : S);
            t.accumulate = s0 > 0;
            for (int r = 0; r < m; r += kTileRows) {
                t.row0 = r;
                t.y = y + static_cast<long>(r) * w.d + static_cast<long>(p) * kPanelRows;
                tiles[(m - r < kTileRows ? m - r : kTileRows) - 1](t, a);
            }
        }
    }
}

void run(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx);
void run_parallel(const Microkernel& k, const Format& f, const PackedWeight& w, const float* x, float* y, int m,
                  ExecContext& ctx);

}  // namespace wb::matmul::kquants
