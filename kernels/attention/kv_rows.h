// Reading a KV cache row as fp32, whatever type it is stored in (f32, f16, bf16, or Q8_0 blocks of 32 along the
// row). Attention kernels that read every cache type convert keys and values through this as they use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "types/weight_types.h"

// Compiled per level (kernels/level.h) inside the level's namespace, so copies built with F16C and without never
// share a symbol.
#if defined(WB_ISA_NS)
namespace wb::WB_ISA_NS::kv {
#else
namespace wb::kv {
#endif

inline float half(const std::byte* p) {
    std::uint16_t h;
    std::memcpy(&h, p, sizeof h);
    return wb::fp16_to_f32(h);
}

// out[0 .. n) = elements first .. first+n-1 of a cache row stored as `type`.
inline void read(DType type, const std::byte* row, int first, int n, float* out) {
    switch (type) {
    case DType::f32: std::memcpy(out, row + first * sizeof(float), n * sizeof(float)); return;
    case DType::f16: {
        const std::byte* p = row + first * 2;
        int i = 0;
#if defined(__F16C__)
        for (; i + 8 <= n; i += 8) {
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * 2))));
        }
#endif
        for (; i < n; i++) out[i] = half(p + i * 2);
        return;
    }
    case DType::bf16:
        for (int i = 0; i < n; i++) {
            std::uint16_t b;
            std::memcpy(&b, row + (first + i) * 2, sizeof b);
            const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
            std::memcpy(out + i, &bits, sizeof bits);
        }
        return;
    case DType::q8_0: {
        constexpr int kBlock = 32, kBlockBytes = 34;
        for (int i = 0; i < n;) {
            const int e = first + i;
            const std::byte* block = row + static_cast<std::size_t>(e / kBlock) * kBlockBytes;
            const float scale = half(block);
            const int end = n < i + kBlock - e % kBlock ? n : i + kBlock - e % kBlock;  // to the block's end
            const auto* codes = reinterpret_cast<const std::int8_t*>(block + 2) + e % kBlock - i;
            for (; i < end; i++) out[i] = scale * static_cast<float>(codes[i]);
        }
        return;
    }
    default: return;  // the forward pass holds no other cache type (kKvTypes)
    }
}

}  // namespace wb::kv (or wb::WB_ISA_NS::kv)
