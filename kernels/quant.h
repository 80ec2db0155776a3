// Q8_0 quantisation (llama2.c runq / export.py v2): int8 values in groups along a row, one fp32
// scale per group, scale = max|w| / 127. Shared by the loader and the int8 kernels.
#pragma once

#include <cstdint>

namespace wb {

inline constexpr int kQ8Group = 64;

// Quantises n values (a row) into q[round_up(n, kQ8Group)] (zero-padded) and ceil(n / kQ8Group) scales.
// An all-zero group gets scale 0 and zero values: nothing divides by zero.
void quantize_q8_row(const float* x, int n, std::int8_t* q, float* scales);

}  // namespace wb
