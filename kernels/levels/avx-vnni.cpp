// AVX-VNNI's kernels: the block-quantised and K-quant panels with 256-bit vpdpbusd (qblocks_avx2.cpp, kquants_avx2.cpp).
#include "kernels/level.h"

namespace wb::WB_ISA_NS {

namespace matmul {
extern const MatmulKernel q8, tbb_q8, q4, tbb_q4, q4_k, tbb_q4_k, q5_k, tbb_q5_k, q6_k, tbb_q6_k;
}

static const MatmulKernel* const kMatmul[] = {&matmul::q8,   &matmul::tbb_q8,   &matmul::q4,   &matmul::tbb_q4,
                                              &matmul::q4_k, &matmul::tbb_q4_k, &matmul::q5_k, &matmul::tbb_q5_k,
                                              &matmul::q6_k, &matmul::tbb_q6_k};

LevelKernels level_kernels() { return {kMatmul, {}}; }

}  // namespace wb::WB_ISA_NS
