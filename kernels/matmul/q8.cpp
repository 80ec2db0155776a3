// matmul.q8, matmul.q8-widening, matmul.tbb-q8: Q8_0 weights (blocks of 32, fp16 scales, as GGUF stores
// them) against int8 activations, on the block-quantised panels of qblocks.h. The widening row forces
// AVX-512BW's multiply-add instead of VNNI, so the path for CPUs without VNNI is tested everywhere.
#include "kernels/matmul/qblocks.h"

namespace wb::matmul {

namespace {

using namespace qblocks;

PackedWeight pack_q8(const WeightView& w, ExecContext& ctx) { return pack(w, kQ8, ctx); }
void unpack_q8(const PackedWeight& w, float* out) { unpack(kQ8, w, out); }

void run_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) { run(best_dot(), kQ8, w, x, y, m, ctx); }
void run_q8_widening(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run(Dot::widening, kQ8, w, x, y, m, ctx);
}
void run_tbb_q8(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_parallel(best_dot(), kQ8, w, x, y, m, ctx);
}

}  // namespace

extern const MatmulKernel q8_kernel{
    "matmul.q8", "Q8_0 weights (blocks of 32, fp16 scales) in 32-row panels, int8 activations, AVX-512 VNNI vpdpbusd",
    2e-2f, 1.0625f, available, pack_q8, run_q8, unpack_q8,
};

extern const MatmulKernel q8_widening{
    "matmul.q8-widening", "matmul.q8 with AVX-512BW's widening multiply-add instead of VNNI (the fallback path)",
    2e-2f, 1.0625f, available, pack_q8, run_q8_widening, unpack_q8,
};

extern const MatmulKernel tbb_q8{
    "matmul.tbb-q8", "matmul.q8's panels in parallel over the TBB arena", 2e-2f, 1.0625f,
    available, pack_q8, run_tbb_q8, unpack_q8,
};

}  // namespace wb::matmul
