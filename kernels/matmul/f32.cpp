#include "kernels/matmul/f32.h"

#include <cstdlib>
#include <memory>
#include <new>

namespace wb::matmul {

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

}  // namespace wb::matmul
