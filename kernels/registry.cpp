#include "kernels/registry.h"

namespace wb {

namespace matmul {
extern const MatmulKernel naive, simd, tiled, blas, tbb, q8_kernel, q8_widening, tbb_q8, q4, q4_widening, tbb_q4, bf16,
    bf16_widening, tbb_bf16;
}
namespace attention {
extern const AttentionKernel naive, simd, tbb, flash;
}

// One row per kernel. Adding a kernel: its file under kernels/<op>/, its name in these lists.
static const MatmulKernel* const kMatmulKernels[] = {
    &matmul::naive, &matmul::simd,      &matmul::tiled, &matmul::blas,
    &matmul::tbb,   &matmul::q8_kernel, &matmul::q8_widening, &matmul::tbb_q8,
    &matmul::q4,    &matmul::q4_widening, &matmul::tbb_q4,
    &matmul::bf16,  &matmul::bf16_widening, &matmul::tbb_bf16,
};
static const AttentionKernel* const kAttentionKernels[] = {
    &attention::naive,
    &attention::simd,
    &attention::tbb,
    &attention::flash,
};

std::span<const MatmulKernel* const> matmul_kernels() { return kMatmulKernels; }
std::span<const AttentionKernel* const> attention_kernels() { return kAttentionKernels; }

template <class K>
static const K* find_by_name(std::span<const K* const> all, std::string_view name) {
    for (const K* k : all) {
        if (name == k->name) return k;
    }
    return nullptr;
}

const MatmulKernel* find_matmul(std::string_view name) { return find_by_name(matmul_kernels(), name); }
const AttentionKernel* find_attention(std::string_view name) { return find_by_name(attention_kernels(), name); }

bool always_available() { return true; }

}  // namespace wb
