// Reading a KV cache row as fp32, whatever type it is stored in (f32, f16, bf16, or Q8_0 blocks of 32 along the
// row). Attention kernels that read every cache type convert keys and values through this as they use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__F16C__) || defined(__AVX2__) || defined(__AVX512F__)
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
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return wb::fp16_to_f32(h);
#endif
}

// out[0 .. n) = scale * codes[0 .. n), the widest vectors the level has first.
inline void scaled_codes(const std::int8_t* codes, float scale, int n, float* out) {
    int i = 0;
#if defined(__AVX512F__)
    const __m512 s16 = _mm512_set1_ps(scale);
    for (; i + 16 <= n; i += 16) {
        const __m512i c = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(s16, _mm512_cvtepi32_ps(c)));
    }
#endif
#if defined(__AVX2__)
    const __m256 s8 = _mm256_set1_ps(scale);
    for (; i + 8 <= n; i += 8) {
        const __m256i c = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(s8, _mm256_cvtepi32_ps(c)));
    }
#endif
    for (; i < n; i++) out[i] = scale * static_cast<float>(codes[i]);
}

inline void read_f32(const std::byte* row, int first, int n, float* out) {
    const float* p = reinterpret_cast<const float*>(row) + first;
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_loadu_ps(p + i));  // a call to memcpy costs more
#endif
    for (; i < n; i++) out[i] = p[i];
}

inline void read_f16(const std::byte* row, int first, int n, float* out) {
    const std::byte* p = row + first * 2;
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i * 2))));
    }
#endif
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * 2))));
    }
#endif
    for (; i < n; i++) out[i] = half(p + i * 2);
}

inline void read_bf16(const std::byte* row, int first, int n, float* out) {
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + (first + i) * 2));
        _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16)));
    }
#endif
#if defined(__AVX2__)
    for (; i + 8 <= n; i += 8) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + (first + i) * 2));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16)));
    }
#endif
    for (; i < n; i++) {
        std::uint16_t b;
        std::memcpy(&b, row + (first + i) * 2, sizeof b);
        const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
        std::memcpy(out + i, &bits, sizeof bits);
    }
}

inline void read_q8_0(const std::byte* row, int first, int n, float* out) {
    constexpr int kBlock = 32, kBlockBytes = 34;
    if (first % kBlock == 0 && n % kBlock == 0) {  // whole blocks (head sizes of 32, 64, 128)
        const std::byte* block = row + static_cast<std::size_t>(first / kBlock) * kBlockBytes;
        for (int i = 0; i < n; i += kBlock, block += kBlockBytes) {
            scaled_codes(reinterpret_cast<const std::int8_t*>(block + 2), half(block), kBlock, out + i);
        }
        return;
    }
    for (int i = 0; i < n;) {
        const int e = first + i;
        const std::byte* block = row + static_cast<std::size_t>(e / kBlock) * kBlockBytes;
        const int end = n < i + kBlock - e % kBlock ? n : i + kBlock - e % kBlock;  // to the block's end
        scaled_codes(reinterpret_cast<const std::int8_t*>(block + 2) + e % kBlock, half(block), end - i, out + i);
        i = end;
    }
}

// out[0 .. n) = elements first .. first+n-1 of a cache row stored as `type`.
inline void read(DType type, const std::byte* row, int first, int n, float* out) {
    switch (type) {
    case DType::f32: read_f32(row, first, n, out); return;
    case DType::f16: read_f16(row, first, n, out); return;
    case DType::bf16: read_bf16(row, first, n, out); return;
    case DType::q8_0: read_q8_0(row, first, n, out); return;
    default: return;  // the forward pass holds no other cache type (kKvTypes)
    }
}

// dst[t * n ..] = elements first .. first+n-1 of rows t in [0, count) (row_bytes apart), one switch for them all;
// the slice `ahead` rows on (its bytes from slice_offset) is prefetched as each row is read.
inline void read_rows(DType type, const std::byte* rows, std::size_t row_bytes, int first, int n, int count,
                      std::size_t slice_offset, int ahead, float* dst) {
    auto each = [&](auto read_one) {
        for (int t = 0; t < count; t++) {
            const std::byte* next = rows + slice_offset + static_cast<std::size_t>(t + ahead) * row_bytes;
            __builtin_prefetch(next);
            __builtin_prefetch(next + 64);
            read_one(rows + static_cast<std::size_t>(t) * row_bytes, first, n, dst + static_cast<std::size_t>(t) * n);
        }
    };
    switch (type) {
    case DType::f32: each(read_f32); return;
    case DType::f16: each(read_f16); return;
    case DType::bf16: each(read_bf16); return;
    case DType::q8_0: each(read_q8_0); return;
    default: return;
    }
}

}  // namespace wb::kv (or wb::WB_ISA_NS::kv)
