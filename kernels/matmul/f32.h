// Helpers shared by the fp32 matmul kernels.
#pragma once

#include "kernels/kernel.h"

namespace wb::matmul {

// The weight as fp32 row-major [d x n]: a view of an fp32 checkpoint, a dequantised copy of a Q8_0 one.
PackedWeight prepare_f32(const WeightView& w, ExecContext& ctx);


}  // namespace wb::matmul
