// Variants: named combinations of kernels. The table in variants.cpp is data, not code.
#pragma once

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

// A variant with its kernels looked up: what the forward pass holds.
struct Kernels {
    const Variant* variant;
    const MatmulKernel* matmul;
    const AttentionKernel* attention;
    bool available() const { return matmul->available() && attention->available(); }
};

// Throws std::invalid_argument naming the known variants when name is unknown.
Kernels resolve_variant(std::string_view name);

// The fastest fp32 variant this machine can run.
std::string default_variant();

// "naive, simd, ..." — for error messages and --help.
std::string variant_names();

}  // namespace wb
