// The registry: every kernel the build knows, by name. Kernels are looked up here once, at load.
#pragma once

#include <span>
#include <string_view>

#include "kernels/kernel.h"

namespace wb {

std::span<const MatmulKernel* const> matmul_kernels();
std::span<const AttentionKernel* const> attention_kernels();

// nullptr when no kernel has that name.
const MatmulKernel* find_matmul(std::string_view name);
const AttentionKernel* find_attention(std::string_view name);

}  // namespace wb
