// Helpers shared by the fp32 matmul kernels.
#pragma once

#include "kernels/kernel.h"

namespace wb::matmul {

// The weight as fp32 row-major [d x n]: a view of an fp32 checkpoint, a dequantised copy of a Q8_0 one.
PackedWeight prepare_f32(const WeightView& w, ExecContext& ctx);

// The scalar end of a row: sum of w[j] * x[j] for j in [from, n).
inline float dot_tail(const float* w, const float* x, long from, long n) {
    float s = 0.0f;
    for (long j = from; j < n; j++) s += w[j] * x[j];
    return s;
}

}  // namespace wb::matmul
