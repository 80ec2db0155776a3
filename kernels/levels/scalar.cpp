// The baseline level's kernels: the vector families (*.vec.cpp) on the architecture's baseline vector.
#include "kernels/level.h"

namespace wb::WB_ISA_NS {

namespace matmul {
extern const MatmulKernel simd, tiled, tbb, bf16, tbb_bf16;
}
namespace attention {
extern const AttentionKernel simd, tbb, flash;
}

static const MatmulKernel* const kMatmul[] = {&matmul::simd, &matmul::tiled, &matmul::tbb, &matmul::bf16, &matmul::tbb_bf16};
static const AttentionKernel* const kAttention[] = {&attention::simd, &attention::tbb, &attention::flash};

LevelKernels level_kernels() { return {kMatmul, kAttention}; }

}  // namespace wb::WB_ISA_NS
