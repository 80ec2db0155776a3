// matmul.q4, matmul.q4-widening, matmul.tbb-q4: Q4_0 weights (blocks of 32 nibbles, fp16 scales, as GGUF
// stores them) unpacked in registers and dotted against int8 activations, on the panels of qblocks.h.
#include "kernels/matmul/qblocks.h"

namespace wb::matmul {

namespace {

using namespace qblocks;

PackedWeight pack_q4(const WeightView& w, ExecContext& ctx) { return pack(w, kQ4, ctx); }
void unpack_q4(const PackedWeight& w, float* out) { unpack(kQ4, w, out); }

void run_q4(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) { run(best_dot(), kQ4, w, x, y, m, ctx); }
void run_q4_widening(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run(Dot::widening, kQ4, w, x, y, m, ctx);
}
void run_tbb_q4(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx) {
    run_parallel(best_dot(), kQ4, w, x, y, m, ctx);
}

}  // namespace

extern const MatmulKernel q4{
    "matmul.q4", "Q4_0 weights (32 nibbles + fp16 scale per block) in 32-row panels, int8 activations, VNNI",
    2e-2f, 0.5625f, available, pack_q4, run_q4, unpack_q4,
};

extern const MatmulKernel q4_widening{
    "matmul.q4-widening", "matmul.q4 with AVX-512BW's widening multiply-add instead of VNNI (the fallback path)",
    2e-2f, 0.5625f, available, pack_q4, run_q4_widening, unpack_q4,
};

extern const MatmulKernel tbb_q4{
    "matmul.tbb-q4", "matmul.q4's panels in parallel over the TBB arena", 2e-2f, 0.5625f,
    available, pack_q4, run_tbb_q4, unpack_q4,
};

}  // namespace wb::matmul
