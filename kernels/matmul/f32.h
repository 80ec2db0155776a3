// Helpers shared by the fp32 matmul kernels.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/kernel.h"

namespace wb::matmul {

// The weight as fp32 row-major [d x n]: a view of an fp32 weight, a copy through its type's dequantize_rows otherwise.
PackedWeight prepare_f32(const WeightView& w, ExecContext& ctx);

// The PackedWeight of a re-laid-out copy of `like`'s d x n weight, owning it.
PackedWeight owning(std::shared_ptr<void> storage, const PackedWeight& like, const float* scales = nullptr);


}  // namespace wb::matmul
