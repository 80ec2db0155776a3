// The registry rows of the block-quantised kernels at one level, included at the end of that level's microkernel
// file (qblocks_avx2.cpp, qblocks_avx512.cpp), which defines kMicrokernel and WB_DOT (its dot product, in words).
#pragma once

namespace wb::WB_ISA_NS::matmul {

namespace {

void run_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) { run(kMicrokernel, kQ8, w, x, y, m, ctx); }
void run_q4(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) { run(kMicrokernel, kQ4, w, x, y, m, ctx); }
void run_tbb_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_parallel(kMicrokernel, kQ8, w, x, y, m, ctx);
}
void run_tbb_q4(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_parallel(kMicrokernel, kQ4, w, x, y, m, ctx);
}

}  // namespace

extern const MatmulKernel q8{
    "matmul.q8", "Q8_0 weights (blocks of 32, fp16 scales) in 32-row panels, int8 activations, " WB_DOT, 2e-2f, DType::q8_0, Holding::packs,
    kIsa, pack_q8, run_q8, unpack_q8,
};
extern const MatmulKernel tbb_q8{
    "matmul.tbb-q8", "matmul.q8's panels in parallel over the TBB arena, " WB_DOT, 2e-2f, DType::q8_0, Holding::packs,
    kIsa, pack_q8, run_tbb_q8, unpack_q8,
};
extern const MatmulKernel q4{
    "matmul.q4", "Q4_0 weights (32 nibbles + fp16 scale per block) in 32-row panels, int8 activations, " WB_DOT, 2e-2f,
    DType::q4_0, Holding::packs, kIsa, pack_q4, run_q4, unpack_q4,
};
extern const MatmulKernel tbb_q4{
    "matmul.tbb-q4", "matmul.q4's panels in parallel over the TBB arena, " WB_DOT, 2e-2f, DType::q4_0, Holding::packs,
    kIsa, pack_q4, run_tbb_q4, unpack_q4,
};

}  // namespace wb::WB_ISA_NS::matmul
