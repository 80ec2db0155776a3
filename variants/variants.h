// Variants: named combinations of kernels. The table in variants.cpp is data, not code.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>

#include "kernels/kernel.h"

namespace wb {

struct Variant {
    const char* name;
    const char* matmul;     // a registry name
    const char* attention;  // a registry name
    const char* description;
};

std::span<const Variant> variants();

// A variant with its kernels looked up under an instruction-set cap: what the forward pass holds.
struct Kernels {
    const Variant* variant;
    const MatmulKernel* matmul;
    const AttentionKernel* attention;
    Isa cap = default_isa();
    bool available() const { return matmul->available(cap) && attention->available(cap); }
    bool lossy() const { return matmul->lossy() || attention->lossy(); }
    // The level the run executes at: the higher of its two kernels' rows.
    Isa isa() const { return std::max(matmul->isa, attention->isa); }
};

// The rows of the variant's kernels at the best level under the cap (kernels/registry.h).
// Throws std::invalid_argument naming the known variants when name is unknown.
Kernels resolve_variant(std::string_view name, Isa cap = default_isa());

// The fastest fp32 variant this machine can run under the cap.
std::string default_variant(Isa cap = default_isa());

// "naive, simd, ..." — for error messages and --help.
std::string variant_names();

}  // namespace wb
