#include "variants/variants.h"

#include <stdexcept>

#include "kernels/registry.h"

namespace wb {

// The quantised family: every stored type that has a kernel runs in it; the rest (F32, F16, Q5_0, ...) as Q8_0.
static const TypeKernel kQuant[] = {
    {DType::q4_0, "matmul.q4"}, {DType::q4_K, "matmul.q4_k"}, {DType::q5_K, "matmul.q5_k"}, {DType::q6_K, "matmul.q6_k"}};
static const TypeKernel kTbbQuant[] = {{DType::q4_0, "matmul.tbb-q4"},
                                       {DType::q4_K, "matmul.tbb-q4_k"},
                                       {DType::q5_K, "matmul.tbb-q5_k"},
                                       {DType::q6_K, "matmul.tbb-q6_k"}};

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
    {"quant", "matmul.q8", "attention.flash",
     "each weight in its stored quantised type (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; others as Q8_0): Q4_K_M files as stored",
     kQuant},
    {"tbb-quant", "matmul.tbb-q8", "attention.flash", "the quant family's kernels and flash attention in parallel over TBB",
     kTbbQuant},
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
        for (const TypeKernel& t : v.by_type) {
            // A build without the kernel's levels (the x86-64-v3 tree has no AVX-512 K kernels) runs the type as fallback.
            const MatmulKernel* row = find_matmul(t.matmul, cap);
            if (row != nullptr && row->available(cap)) k.by_type[static_cast<int>(t.stored)] = row;
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

DefaultChoice default_variant_for(std::span<const DType> types, Isa cap) {
    std::string names;
    bool floats_only = true, has_f32 = false;
    for (DType t : types) {
        names += (names.empty() ? "" : ", ") + std::string(traits(t).name);
        floats_only = floats_only && (t == DType::f32 || t == DType::f16 || t == DType::bf16);
        has_f32 = has_f32 || t == DType::f32;
    }
    if (types.empty()) return {default_variant(cap), "no stored matrices"};
    // The fastest row that runs every type as stored, streaming each in its own format before repacking some
    // exactly into a wider one; a single-kernel row before a family's when both do.
    for (bool repacks : {false, true}) {
        for (bool family : {false, true}) {
            const Variant* best = nullptr;
            for (const Variant& v : kVariants) {
                if (v.by_type.empty() == family) continue;
                const Kernels k = resolve_variant(v.name, cap);
                bool native = k.available();
                for (DType t : types) {
                    native = native && (repacks ? k.runs_as_stored(t) : k.matmul_for(t).streams == t);
                }
                if (native) best = &v;
            }
            if (best != nullptr) return {best->name, "the fastest variant that runs the model's " + names + " as stored"};
        }
    }
    // Nothing runs them all as stored: the family that keeps the most precision converts the rest.
    std::string fallback = floats_only ? (has_f32 ? default_variant(cap) : std::string("tbb-bf16")) : "tbb-quant";
    if (!resolve_variant(fallback, cap).available()) fallback = default_variant(cap);
    std::string converted;
    const Kernels k = resolve_variant(fallback, cap);
    for (DType t : types) {
        if (k.runs_as_stored(t)) continue;
        converted += (converted.empty() ? "" : ", ") + std::string(traits(t).name) + " as " +
                     traits(k.matmul_for(t).streams).name;
    }
    return {fallback, "no variant runs the model's " + names + " as stored at this level; runs " + converted};
}

}  // namespace wb
