// The BLIS-style GEMM shared by matmul.tiled and matmul.tbb: weights packed once into strips of
// kNR output columns ([n][kNR], zero-padded), activations packed per call into strips of kMR rows,
// an kMR x kNR register-blocked microkernel, and a blocking driver whose block sizes are data.
#pragma once

#include "kernels/kernel.h"

namespace wb::matmul::gemm {

inline constexpr int kMR = 8;   // activation rows per microkernel call
inline constexpr int kNR = 32;  // output columns per microkernel call (two AVX-512 vectors)

struct Blocking {
    int kc;          // depth of one pass: a kc x kNR weight micro-panel stays in L1
    int nc_strips;   // strips per column block: their C tiles stay in L2 across the depth passes
};
inline constexpr Blocking kBlocking{256, 8};

int strips(const PackedWeight& w);  // ceil(d / kNR)

PackedWeight pack_weights(const WeightView& w, ExecContext& ctx);

// Activations x[m x n] packed into ceil(m / kMR) strips of [n][kMR] (scratch slot 0); null when m == 1.
const float* pack_activations(const float* x, int m, int n, ExecContext& ctx);

// y[:, columns of strips s0 .. s1) for all m rows; a is pack_activations' result (x is used when m == 1).
void run_strips(const PackedWeight& w, const float* a, const float* x, float* y, int m, int s0, int s1);

}  // namespace wb::matmul::gemm
