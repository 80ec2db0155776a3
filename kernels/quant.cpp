#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/exec_context.h"
#include "kernels/matmul/f32.h"

namespace wb {

void quantize_q8_row(const float* x, int n, std::int8_t* q, float* scales) {
    for (int g0 = 0, gi = 0; g0 < n; g0 += kQ8Group, gi++) {
        const int len = std::min(kQ8Group, n - g0);
        float amax = 0.0f;
        for (int j = 0; j < len; j++) amax = std::max(amax, std::fabs(x[g0 + j]));
        const float scale = amax / 127.0f;
        const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        for (int j = 0; j < kQ8Group; j++) {
            q[g0 + j] = j < len ? static_cast<std::int8_t>(std::lrintf(x[g0 + j] * inv)) : 0;
        }
        scales[gi] = scale;
    }
}

namespace matmul {

std::shared_ptr<void> aligned_buffer(std::size_t bytes) {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == nullptr) throw std::bad_alloc();
    return {p, std::free};
}

PackedWeight owning(std::shared_ptr<void> storage, const PackedWeight& like, const float* scales) {
    PackedWeight p;
    p.data = storage.get();
    p.scales = scales;
    p.d = like.d;
    p.n = like.n;
    p.storage = std::move(storage);
    return p;
}

PackedWeight prepare_f32(const WeightView& w, ExecContext&) {
    PackedWeight p;
    p.d = w.d;
    p.n = w.n;
    if (w.dtype == DType::f32) {
        p.data = w.data;
        return p;
    }
    auto values = std::shared_ptr<float[]>(new float[static_cast<std::size_t>(w.d) * static_cast<std::size_t>(w.n)]);
    traits(w.dtype).dequantize_rows(w, 0, w.d, values.get());
    p.data = values.get();
    p.storage = std::move(values);
    return p;
}

}  // namespace matmul

}  // namespace wb
