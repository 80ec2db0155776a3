// Variants: named combinations of kernels. The table in variants.cpp is data, not code.
#pragma once

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <string_view>

#include "kernels/kernel.h"

namespace wb {

// A stored weight type and the registry name of the matmul kernel that runs it as stored.
struct TypeKernel {
    DType stored;
    const char* matmul;
};

struct Variant {
    const char* name;
    const char* matmul;     // a registry name: the kernel of every type by_type does not name
    const char* attention;  // a registry name
    const char* description;
    std::span<const TypeKernel> by_type = {};  // a family's kernels per stored type (the quant variants)
};

std::span<const Variant> variants();

// How many stored types there are: Kernels::by_type has a slot for each.
inline constexpr int kDTypes = static_cast<int>(DType::q8_v2) + 1;

// A variant with its kernels looked up under an instruction-set cap: what the forward pass holds.
struct Kernels {
    const Variant* variant;
    const MatmulKernel* matmul;  // the variant's own matmul row: every stored type without a row in by_type
    const AttentionKernel* attention;
    Isa cap = default_isa();
    // The by_type rows that run under the cap here, by stored type; null: `matmul` runs the type (converting it).
    std::array<const MatmulKernel*, kDTypes> by_type{};

    const MatmulKernel& matmul_for(DType stored) const {
        const MatmulKernel* k = by_type[static_cast<int>(stored)];
        return k != nullptr ? *k : *matmul;
    }
    // Whether a weight stored as `stored` runs with every value as stored: in that format, or repacked exactly
    // into the one its kernel streams (Q5_0 blocks as Q8_0), rather than converted at load.
    bool runs_as_stored(DType stored) const { return holds_exactly(matmul_for(stored).streams, stored); }
    bool available() const { return matmul->available(cap) && attention->available(cap); }
    bool lossy() const {
        bool any = matmul->lossy() || attention->lossy();
        for (const MatmulKernel* k : by_type) any = any || (k != nullptr && k->lossy());
        return any;
    }
    // The level the run executes at: the highest of its kernels' rows.
    Isa isa() const {
        Isa level = std::max(matmul->isa, attention->isa);
        for (const MatmulKernel* k : by_type) level = k != nullptr ? std::max(level, k->isa) : level;
        return level;
    }
};

// The rows of the variant's kernels at the best level under the cap (kernels/registry.h).
// Throws std::invalid_argument naming the known variants when name is unknown.
Kernels resolve_variant(std::string_view name, Isa cap = default_isa());

// The fastest fp32 variant this machine can run under the cap.
std::string default_variant(Isa cap = default_isa());

// The variant a model whose matrices are stored in `types` runs with when none is named: the fastest that runs
// them as stored (F32: default_variant(); BF16 and F16: tbb-bf16; Q8_0: tbb-q8; Q4_0: tbb-q4; K-quants and
// files of several quantised types: tbb-quant), and why, in words for one stderr line.
struct DefaultChoice {
    std::string variant;
    std::string reason;
};
DefaultChoice default_variant_for(std::span<const DType> types, Isa cap = default_isa());

// "naive, simd, ..." — for error messages and --help.
std::string variant_names();

}  // namespace wb
