// The registry: every kernel the build knows, by name and instruction-set level. Kernels are looked up here once,
// at load. A name has one row per level its code was compiled for; a lookup takes the best row under a cap.
#pragma once

#include <span>
#include <string_view>

#include "kernels/isa.h"
#include "kernels/kernel.h"

namespace wb {

// One level's rows: what kernels/levels/<level>.cpp lists.
struct LevelKernels {
    std::span<const MatmulKernel* const> matmul;
    std::span<const AttentionKernel* const> attention;
};

// Every row of every level compiled into this build, level by level, lowest first.
std::span<const MatmulKernel* const> matmul_kernels();
std::span<const AttentionKernel* const> attention_kernels();

// The row of that name at the highest level that runs under the cap on this CPU; when none does, the lowest
// row of the name (whose available() is false). nullptr when no kernel has that name.
const MatmulKernel* find_matmul(std::string_view name, Isa cap = default_isa());
const AttentionKernel* find_attention(std::string_view name, Isa cap = default_isa());

}  // namespace wb
