#include "variants/variants.h"

#include <stdexcept>

#include "kernels/registry.h"

namespace wb {

// Ordered slowest to fastest; default_variant() takes the last available fp32 row.
static const Variant kVariants[] = {
    {"naive", "matmul.naive", "attention.naive", "plain loops, the reference every other variant is tested against"},
    {"blas", "matmul.blas", "attention.simd", "OpenBLAS sgemv/sgemm"},
    {"simd", "matmul.simd", "attention.simd", "xsimd FMA matvec over rows interleaved at load"},
    {"tiled", "matmul.tiled", "attention.flash", "BLIS-style packed GEMM and flash attention, strongest for batched prefill"},
    {"bf16", "matmul.bf16", "attention.flash", "bfloat16 weights: half the bytes, vdpbf16ps GEMM / matvec where the CPU has AVX512-BF16, widened to fp32 elsewhere"},
    {"tbb", "matmul.tbb", "attention.flash", "packed GEMM / matvec strips and flash attention blocks in parallel over TBB"},
    {"tbb-bf16", "matmul.tbb-bf16", "attention.flash", "bfloat16 GEMM / matvec strips and flash attention blocks in parallel over TBB"},
    {"q8", "matmul.q8", "attention.flash", "Q8_0 int8 weights and activations (blocks of 32), VNNI or vpmaddubsw dot products"},
    {"tbb-q8", "matmul.tbb-q8", "attention.flash", "Q8_0 int8 panels and flash attention blocks in parallel over TBB"},
    {"q4", "matmul.q4", "attention.flash", "Q4_0 4-bit weights unpacked in registers, int8 activations, VNNI or vpmaddubsw dot products"},
    {"tbb-q4", "matmul.tbb-q4", "attention.flash", "Q4_0 4-bit panels and flash attention blocks in parallel over TBB"},
};

// Variants whose matmul drops precision on purpose (int8, bf16); never chosen as the default.
static bool is_lossy(const Variant& v) { return find_matmul(v.matmul)->lossy(); }

std::span<const Variant> variants() { return kVariants; }

std::string variant_names() {
    std::string names;
    for (const Variant& v : kVariants) {
        if (!names.empty()) names += ", ";
        names += v.name;
    }
    return names;
}

Kernels resolve_variant(std::string_view name, Isa cap) {
    for (const Variant& v : kVariants) {
        if (name != v.name) continue;
        Kernels k{&v, find_matmul(v.matmul, cap), find_attention(v.attention, cap), cap};
        if (k.matmul == nullptr || k.attention == nullptr) {
            throw std::logic_error("variant " + std::string(v.name) + " names a kernel the registry lacks");
        }
        return k;
    }
    throw std::invalid_argument("unknown variant '" + std::string(name) + "' (known: " + variant_names() + ")");
}

std::string default_variant(Isa cap) {
    std::string best = "naive";
    for (const Variant& v : kVariants) {
        if (!is_lossy(v) && resolve_variant(v.name, cap).available()) best = v.name;
    }
    return best;
}

}  // namespace wb
