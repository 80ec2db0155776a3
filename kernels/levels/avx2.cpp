// AVX2's kernels: the vector families on 8 lanes, the block-quantised and K-quant panels with vpmaddubsw (qblocks_avx2.cpp, kquants_avx2.cpp).
#include "kernels/level.h"

namespace wb::WB_ISA_NS {

namespace matmul {
extern const MatmulKernel simd, tiled, tbb, bf16, tbb_bf16, q8, tbb_q8, q4, tbb_q4, q4_k, tbb_q4_k, q5_k, tbb_q5_k, q6_k,
    tbb_q6_k;
}
namespace attention {
extern const AttentionKernel simd, tbb, flash;
}

static const MatmulKernel* const kMatmul[] = {&matmul::simd, &matmul::tiled, &matmul::tbb, &matmul::bf16, &matmul::tbb_bf16, &matmul::q8, &matmul::tbb_q8, &matmul::q4, &matmul::tbb_q4,
                                              &matmul::q4_k, &matmul::tbb_q4_k, &matmul::q5_k, &matmul::tbb_q5_k, &matmul::q6_k, &matmul::tbb_q6_k};
static const AttentionKernel* const kAttention[] = {&attention::simd, &attention::tbb, &attention::flash};

LevelKernels level_kernels() { return {kMatmul, kAttention}; }

}  // namespace wb::WB_ISA_NS
