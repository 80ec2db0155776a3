#include "model/stack_rows.h"

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wb {

StackedWeight stack_rows(std::span<const WeightView> parts) {
    if (parts.empty()) throw std::invalid_argument("stack_rows needs at least one weight");
    const WeightView& first = parts.front();
    bool same_type = true;
    std::int64_t d = 0;
    for (const WeightView& p : parts) {
        if (p.n != first.n) {
            throw std::invalid_argument("cannot stack weights of " + std::to_string(first.n) + " and " +
                                        std::to_string(p.n) + " columns");
        }
        d += p.d;
        same_type = same_type && p.dtype == first.dtype &&
                    (p.dtype != DType::q8_v2 ||
                     (p.group_size == first.group_size && static_cast<std::int64_t>(p.d) * p.n % p.group_size == 0));
    }
    StackedWeight s;
    s.view = WeightView{nullptr, nullptr, static_cast<int>(d), first.n, same_type ? first.dtype : DType::f32,
                        same_type ? first.group_size : 0};
    auto allocate = [&s](std::size_t bytes) {
        auto buffer = std::shared_ptr<std::byte[]>(new std::byte[bytes]);
        s.storage = buffer;
        return buffer.get();
    };
    if (!same_type) {
        auto* out = reinterpret_cast<float*>(allocate(static_cast<std::size_t>(d) * first.n * sizeof(float)));
        s.view.data = out;
        for (const WeightView& p : parts) {
            traits(p.dtype).dequantize_rows(p, 0, p.d, out);
            out += static_cast<std::int64_t>(p.d) * p.n;
        }
        return s;
    }
    if (first.dtype == DType::q8_v2) {  // all values, then all scales: each part's groups follow the last's
        const std::size_t values = static_cast<std::size_t>(d) * first.n, scales = values / first.group_size;
        std::byte* out = allocate(values + scales * sizeof(float));
        std::byte* scale_out = out + values;
        s.view.data = out;
        s.view.scales = reinterpret_cast<const float*>(scale_out);
        for (const WeightView& p : parts) {
            const std::size_t n = static_cast<std::size_t>(p.d) * p.n;
            std::memcpy(out, p.data, n);
            std::memcpy(scale_out, p.scales, n / p.group_size * sizeof(float));
            out += n;
            scale_out += n / p.group_size * sizeof(float);
        }
        return s;
    }
    const std::uint64_t row = row_bytes(first.dtype, first.n);
    std::byte* out = allocate(static_cast<std::size_t>(row * static_cast<std::uint64_t>(d)));
    s.view.data = out;
    for (const WeightView& p : parts) {
        std::memcpy(out, p.data, static_cast<std::size_t>(row * static_cast<std::uint64_t>(p.d)));
        out += row * static_cast<std::uint64_t>(p.d);
    }
    return s;
}

}  // namespace wb
