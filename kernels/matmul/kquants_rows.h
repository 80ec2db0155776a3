// The registry rows of the K-quant kernels at one level, included at the end of that level's microkernel file
// (kquants_avx2.cpp, kquants_avx512.cpp), which defines kMicrokernel and WB_DOT (its dot product, in words).
#pragma once

namespace wb::WB_ISA_NS::matmul {

namespace {

template <const Format& F>
PackedWeight pack_k(const WeightView& w, ExecContext& ctx) {
    return pack(F, w, ctx);
}
template <const Format& F>
void unpack_k(const PackedWeight& w, float* out) {
    unpack(F, w, out);
}
template <const Format& F>
void run_k(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run(kMicrokernel, F, w, x, y, m, ctx);
}
template <const Format& F>
void run_tbb_k(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_parallel(kMicrokernel, F, w, x, y, m, ctx);
}

}  // namespace

extern const MatmulKernel q4_k{
    "matmul.q4_k", "Q4_K (4-bit codes, 6-bit scales and minimums per 32) super-blocks of 256 as stored, in 32-row panels, int8 activations, " WB_DOT, 2e-2f,
    kQ4K.type, Holding::packs, kIsa, pack_k<kQ4K>, run_k<kQ4K>, unpack_k<kQ4K>,
};
extern const MatmulKernel tbb_q4_k{
    "matmul.tbb-q4_k", "matmul.q4_k's panels in parallel over the TBB arena, " WB_DOT, 2e-2f, kQ4K.type, Holding::packs,
    kIsa, pack_k<kQ4K>, run_tbb_k<kQ4K>, unpack_k<kQ4K>,
};
extern const MatmulKernel q5_k{
    "matmul.q5_k", "Q5_K (5-bit codes, 6-bit scales and minimums per 32) super-blocks of 256 as stored, in 32-row panels, int8 activations, " WB_DOT, 2e-2f,
    kQ5K.type, Holding::packs, kIsa, pack_k<kQ5K>, run_k<kQ5K>, unpack_k<kQ5K>,
};
extern const MatmulKernel tbb_q5_k{
    "matmul.tbb-q5_k", "matmul.q5_k's panels in parallel over the TBB arena, " WB_DOT, 2e-2f, kQ5K.type, Holding::packs,
    kIsa, pack_k<kQ5K>, run_tbb_k<kQ5K>, unpack_k<kQ5K>,
};
extern const MatmulKernel q6_k{
    "matmul.q6_k", "Q6_K (6-bit codes, int8 scales per 16) super-blocks of 256 as stored, in 32-row panels, int8 activations, " WB_DOT, 2e-2f,
    kQ6K.type, Holding::packs, kIsa, pack_k<kQ6K>, run_k<kQ6K>, unpack_k<kQ6K>,
};
extern const MatmulKernel tbb_q6_k{
    "matmul.tbb-q6_k", "matmul.q6_k's panels in parallel over the TBB arena, " WB_DOT, 2e-2f, kQ6K.type, Holding::packs,
    kIsa, pack_k<kQ6K>, run_tbb_k<kQ6K>, unpack_k<kQ6K>,
};

}  // namespace wb::WB_ISA_NS::matmul
