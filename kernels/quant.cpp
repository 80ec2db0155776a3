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

void dequantize_q8(const std::int8_t* q, const float* scales, std::int64_t count, int group_size, float* out) {
    for (std::int64_t g = 0; g * group_size < count; g++) {
        float scale;  // a v2 file's scales need not be 4-byte aligned
        std::memcpy(&scale, reinterpret_cast<const std::byte*>(scales) + g * sizeof(float), sizeof scale);
        const std::int64_t end = std::min(count, (g + 1) * group_size);
        for (std::int64_t i = g * group_size; i < end; i++) out[i] = static_cast<float>(q[i]) * scale;
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
    const std::int64_t count = static_cast<std::int64_t>(w.d) * w.n;
    auto values = std::shared_ptr<float[]>(new float[static_cast<std::size_t>(count)]);
    dequantize_q8(static_cast<const std::int8_t*>(w.data), w.scales, count, w.group_size, values.get());
    p.data = values.get();
    p.storage = std::move(values);
    return p;
}

}  // namespace matmul

}  // namespace wb
