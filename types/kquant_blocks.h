// GGUF's K-quant super-blocks (Q4_K, Q5_K, Q6_K: 256 weights each) as fields: the one place their byte layout is
// read and written. The weight-type table decodes and encodes through it, and the K-quant kernels
// (kernels/matmul/kquants.h) re-lay the fields out into their panels.
#pragma once

#include <cstdint>

#include "types/weight_types.h"

namespace wb::kquant {

inline constexpr int kSuper = 256;  // weights per super-block

// One super-block's fields, unpacked. Q4_K and Q5_K: weight i = d * scale[i / 32] * q[i] - dmin * min[i / 32];
// Q6_K: weight i = d * scale[i / 16] * (q[i] - 32).
struct SuperBlock {
    std::uint16_t d = 0, dmin = 0;  // fp16 bits; dmin is 0 for Q6_K
    std::uint8_t q[kSuper] = {};    // unsigned codes: Q4_K 0..15, Q5_K 0..31, Q6_K 0..63
    std::int8_t scale[16] = {};     // Q4_K, Q5_K: eight 6-bit scales (0..63); Q6_K: sixteen int8 scales
    std::uint8_t min[8] = {};       // Q4_K, Q5_K: eight 6-bit minimums (0..63)
};

// type is q4_K, q5_K or q6_K.
void read(DType type, const std::uint8_t* block, SuperBlock& out);
void write(DType type, const SuperBlock& in, std::uint8_t* block);
void dequantize(DType type, const SuperBlock& in, float* y);

// The 256 finite weights x as the type's fields: per sub-block a scale and minimum chosen by a small search for the
// least squared error, then the super-block's fp16 factors with 6-bit (Q6_K: 8-bit) sub-block scales.
void quantize(DType type, const float* x, SuperBlock& out);

}  // namespace wb::kquant
