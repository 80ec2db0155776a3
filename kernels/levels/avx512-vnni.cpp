// AVX-512 VNNI's kernels: the block-quantised panels with 512-bit vpdpbusd (qblocks_avx512.cpp).
#include "kernels/level.h"

namespace wb::WB_ISA_NS {

namespace matmul {
extern const MatmulKernel q8, tbb_q8, q4, tbb_q4;
}

static const MatmulKernel* const kMatmul[] = {&matmul::q8, &matmul::tbb_q8, &matmul::q4, &matmul::tbb_q4};

LevelKernels level_kernels() { return {kMatmul, {}}; }

}  // namespace wb::WB_ISA_NS
