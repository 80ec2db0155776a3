// AVX-512 BF16's kernels: bf16 strips with vdpbf16ps (bf16_dot.cpp).
#include "kernels/level.h"

namespace wb::WB_ISA_NS {

namespace matmul {
extern const MatmulKernel bf16, tbb_bf16;
}

static const MatmulKernel* const kMatmul[] = {&matmul::bf16, &matmul::tbb_bf16};

LevelKernels level_kernels() { return {kMatmul, {}}; }

}  // namespace wb::WB_ISA_NS
