// Q8_0 matmul shared by matmul.q8, matmul.q8-widening and matmul.tbb-q8: weights quantised at load
// (groups of kQ8Group along n, rows zero-padded to whole groups), activations quantised per call,
// int32 dot products per group, fp32 accumulation of scaled group sums.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"
#include "kernels/quant.h"

namespace wb::matmul::q8 {

// Rows are taken four at a time, interleaved at load so a block is one sequential stream:
// PackedWeight.data: int8 [blocks][groups][4][kQ8Group]; .scales: float [blocks][groups][4] followed by
// int32 [blocks][groups][4] group sums of the weights (the VNNI path's offset correction).
// Rows past d are zero.
inline constexpr int kRows = 4;
PackedWeight pack_weights(const WeightView& w, ExecContext& ctx);

struct Activations {
    const std::int8_t* q;  // [m x padded_n]
    const float* scales;   // [m x groups]
};
Activations quantize_activations(const float* x, int m, int n, ExecContext& ctx);

enum class Dot { vnni, widening };

// y[:, rows begin .. end) for all m activation rows; begin is a multiple of kRows.
void run_rows(Dot dot, const PackedWeight& w, const Activations& a, float* y, int m, int begin, int end);

bool has_avx2();
Dot best_dot();  // vnni where the build targets it, else widening

}  // namespace wb::matmul::q8
