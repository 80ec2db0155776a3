// The weight-type table. Block layouts are GGUF's (ggml's block_* structs, little-endian, no padding);
// each decoder below says in one line where its fields sit.
#include "types/weight_types.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "types/kquant_blocks.h"

namespace wb {

float fp16_to_f32(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | mantissa << 13);  // Inf, NaN
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in fp32
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    return std::bit_cast<float>(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

std::uint16_t f32_to_fp16(float x) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000);
    const std::uint32_t a = u & 0x7FFFFFFF;
    if (a > 0x7F800000) return sign | 0x7E00 | ((a >> 13) & 0x3FF);  // NaN, quieted, top payload bits kept
    if (a >= 0x47800000) return sign | 0x7C00;                         // >= 65536 (and Inf): Inf
    if (a < 0x38800000) {  // below 2^-14: a subnormal half (or zero), in units of 2^-24
        const int shift = 126 - static_cast<int>(a >> 23);
        if (shift > 24) return sign;  // below 2^-25 (fp32 subnormals included): rounds to zero
        const std::uint32_t m = (a & 0x7FFFFF) | 0x800000, half = 1u << (shift - 1), rest = m & ((1u << shift) - 1);
        std::uint32_t q = m >> shift;
        if (rest > half || (rest == half && (q & 1))) q++;
        return static_cast<std::uint16_t>(sign | q);
    }
    std::uint32_t h = (a >> 13) - ((127 - 15) << 10);  // rebias; a carry out of the mantissa bumps the exponent
    const std::uint32_t rest = a & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return static_cast<std::uint16_t>(sign | h);
}

float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

std::uint16_t f32_to_bf16(float x) {
    std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // NaN, quieted
    u += 0x7FFF + ((u >> 16) & 1);
    return static_cast<std::uint16_t>(u >> 16);
}

namespace {

using Byte = std::uint8_t;

std::uint16_t u16(const Byte* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t u32(const Byte* p) { return u16(p) | static_cast<std::uint32_t>(u16(p + 2)) << 16; }
float half(const Byte* p) { return fp16_to_f32(u16(p)); }
void put_u16(Byte* p, std::uint16_t v) {
    p[0] = static_cast<Byte>(v);
    p[1] = static_cast<Byte>(v >> 8);
}
void put_half(Byte* p, float v) { put_u16(p, f32_to_fp16(v)); }

// Plain floats, one weight per "block".

void f32_decode(const Byte* b, float* y) { std::memcpy(y, b, sizeof(float)); }
void f16_decode(const Byte* b, float* y) { *y = half(b); }
void bf16_decode(const Byte* b, float* y) { *y = bf16_to_f32(u16(b)); }
void f32_encode(const float* x, Byte* b) { std::memcpy(b, x, sizeof(float)); }
void f16_encode(const float* x, Byte* b) { put_half(b, *x); }
void bf16_encode(const float* x, Byte* b) { put_u16(b, f32_to_bf16(*x)); }

// 32-weight blocks. Weights j and j + 16 share byte j of the nibbles: j in the low nibble, j + 16 in the high.

// Scale-times-code blocks (q8_0, q4_0, q5_0): an fp16 d first, then 32 codes; x = code * d.

// q8_0: fp16 d, int8 q[32].
void q8_0_codes(const Byte* b, std::int8_t* q) {
    for (int j = 0; j < 32; j++) q[j] = static_cast<std::int8_t>(b[2 + j]);
}

// q4_0: fp16 d, 16 bytes of nibbles; code = nibble - 8.
void q4_0_codes(const Byte* b, std::int8_t* q) {
    const Byte* qs = b + 2;
    for (int j = 0; j < 16; j++) {
        q[j] = static_cast<std::int8_t>((qs[j] & 0xF) - 8);
        q[j + 16] = static_cast<std::int8_t>((qs[j] >> 4) - 8);
    }
}

// q4_1: fp16 d, fp16 m, 16 bytes of nibbles; x = q * d + m.
void q4_1_decode(const Byte* b, float* y) {
    const float d = half(b), m = half(b + 2);
    const Byte* qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
        y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
}

// The 5-bit value of weight j: its nibble, and bit j of the 32-bit qh as the fifth bit.
int five_bits(const Byte* qs, std::uint32_t qh, int j) {
    const int nibble = j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4;
    return nibble | static_cast<int>((qh >> j) & 1) << 4;
}

// q5_0: fp16 d, u32 qh, 16 bytes of nibbles; code = five bits - 16.
void q5_0_codes(const Byte* b, std::int8_t* q) {
    const std::uint32_t qh = u32(b + 2);
    for (int j = 0; j < 32; j++) q[j] = static_cast<std::int8_t>(five_bits(b + 6, qh, j) - 16);
}

template <void (*codes)(const Byte*, std::int8_t*)>
void scaled_decode(const Byte* b, float* y) {
    const float d = half(b);
    std::int8_t q[32];
    codes(b, q);
    for (int j = 0; j < 32; j++) y[j] = static_cast<float>(q[j]) * d;
}

// q5_1: fp16 d, fp16 m, u32 qh, 16 bytes of nibbles; x = q * d + m.
void q5_1_decode(const Byte* b, float* y) {
    const float d = half(b), m = half(b + 2);
    const std::uint32_t qh = u32(b + 4);
    for (int j = 0; j < 32; j++) y[j] = static_cast<float>(five_bits(b + 8, qh, j)) * d + m;
}

void q8_0_encode(const float* x, Byte* b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = static_cast<Byte>(static_cast<std::int8_t>(std::round(x[j] * inv)));
}

// d maps the weight of largest magnitude to -8 exactly; its opposite would be +8 and is clamped to 7.
void q4_0_encode(const float* x, Byte* b) {
    float extreme = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (std::fabs(x[j]) > std::fabs(extreme)) extreme = x[j];
    }
    const float d = extreme / -8.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(b, d);
    auto q = [&](int j) { return static_cast<Byte>(std::clamp(std::floor(x[j] * inv + 8.5f), 0.0f, 15.0f)); };
    for (int j = 0; j < 16; j++) b[2 + j] = static_cast<Byte>(q(j) | q(j + 16) << 4);
}

// 256-weight super-blocks: their fields are read and written in types/kquant_blocks.cpp.

template <DType T>
void k_decode(const Byte* b, float* y) {
    kquant::SuperBlock fields;
    kquant::read(T, b, fields);
    kquant::dequantize(T, fields, y);
}

template <DType T>
void k_encode(const float* x, Byte* b) {
    kquant::SuperBlock fields;
    kquant::quantize(T, x, fields);
    kquant::write(T, fields, b);
}

// Rows are consecutive blocks, so rows row0 .. row0+rows-1 are one run of blocks.
template <int Block, int Bytes, void (*decode)(const Byte*, float*)>
void decode_rows(const WeightView& w, std::int64_t row0, std::int64_t rows, float* out) {
    const std::int64_t per_row = w.n / Block, first = row0 * per_row, count = rows * per_row;
    const auto* blocks = static_cast<const Byte*>(w.data);
    for (std::int64_t i = 0; i < count; i++) decode(blocks + (first + i) * Bytes, out + i * Block);
}

template <int Block, int Bytes, void (*encode)(const float*, Byte*)>
void encode_row(const float* x, void* out, std::int64_t n) {
    auto* blocks = static_cast<Byte*>(out);
    for (std::int64_t i = 0; i < n / Block; i++) encode(x + i * Block, blocks + i * Bytes);
}

// export.py v2: the scale of flattened element e is scales[e / group_size] (read with memcpy: unaligned in files).
void q8_v2_rows(const WeightView& w, std::int64_t row0, std::int64_t rows, float* out) {
    const std::int64_t begin = row0 * w.n, end = (row0 + rows) * w.n, group = w.group_size;
    const auto* q = static_cast<const std::int8_t*>(w.data);
    const auto* scales = reinterpret_cast<const std::byte*>(w.scales);
    for (std::int64_t e = begin; e < end;) {
        float scale;
        std::memcpy(&scale, scales + e / group * sizeof(float), sizeof scale);
        const std::int64_t stop = std::min(end, (e / group + 1) * group);
        for (; e < stop; e++) out[e - begin] = static_cast<float>(q[e]) * scale;
    }
}

constexpr TypeTraits kTypes[] = {
    {DType::f32, "F32", 0, 1, 4, decode_rows<1, 4, f32_decode>, encode_row<1, 4, f32_encode>},
    {DType::f16, "F16", 1, 1, 2, decode_rows<1, 2, f16_decode>, encode_row<1, 2, f16_encode>},
    {DType::bf16, "BF16", 30, 1, 2, decode_rows<1, 2, bf16_decode>, encode_row<1, 2, bf16_encode>},
    {DType::q8_0, "Q8_0", 8, 32, 34, decode_rows<32, 34, scaled_decode<q8_0_codes>>, encode_row<32, 34, q8_0_encode>, 8, q8_0_codes},
    {DType::q4_0, "Q4_0", 2, 32, 18, decode_rows<32, 18, scaled_decode<q4_0_codes>>, encode_row<32, 18, q4_0_encode>, 4, q4_0_codes},
    {DType::q4_1, "Q4_1", 3, 32, 20, decode_rows<32, 20, q4_1_decode>, nullptr},
    {DType::q5_0, "Q5_0", 6, 32, 22, decode_rows<32, 22, scaled_decode<q5_0_codes>>, nullptr, 5, q5_0_codes},
    {DType::q5_1, "Q5_1", 7, 32, 24, decode_rows<32, 24, q5_1_decode>, nullptr},
    {DType::q4_K, "Q4_K", 12, 256, 144, decode_rows<256, 144, k_decode<DType::q4_K>>, encode_row<256, 144, k_encode<DType::q4_K>>},
    {DType::q5_K, "Q5_K", 13, 256, 176, decode_rows<256, 176, k_decode<DType::q5_K>>, encode_row<256, 176, k_encode<DType::q5_K>>},
    {DType::q6_K, "Q6_K", 14, 256, 210, decode_rows<256, 210, k_decode<DType::q6_K>>, encode_row<256, 210, k_encode<DType::q6_K>>},
    {DType::q8_v2, "Q8_0 (llama2.c v2)", -1, 1, 1, q8_v2_rows, nullptr},
};

constexpr bool rows_in_enum_order() {
    for (std::size_t i = 0; i < std::size(kTypes); i++) {
        if (static_cast<std::size_t>(kTypes[i].type) != i) return false;
    }
    return true;
}
static_assert(rows_in_enum_order(), "kTypes is indexed by DType");

// ggml types the table does not read, by GGUF id (from ggml's type list), so a refusal can name them.
struct OtherType {
    int gguf_id;
    const char* name;
};
constexpr OtherType kOtherTypes[] = {
    {4, "Q4_2"},      {5, "Q4_3"},         {9, "Q8_1"},         {10, "Q2_K"},        {11, "Q3_K"},   {15, "Q8_K"},
    {16, "IQ2_XXS"},  {17, "IQ2_XS"},      {18, "IQ3_XXS"},     {19, "IQ1_S"},       {20, "IQ4_NL"}, {21, "IQ3_S"},
    {22, "IQ2_S"},    {23, "IQ4_XS"},      {24, "I8"},          {25, "I16"},         {26, "I32"},    {27, "I64"},
    {28, "F64"},      {29, "IQ1_M"},       {31, "Q4_0_4_4"},    {32, "Q4_0_4_8"},    {33, "Q4_0_8_8"},
    {34, "TQ1_0"},    {35, "TQ2_0"},       {36, "IQ4_NL_4_4"},  {37, "IQ4_NL_4_8"},  {38, "IQ4_NL_8_8"},
};

bool same_letters(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(x) == lower(y);
           });
}

}  // namespace

std::span<const TypeTraits> weight_types() { return kTypes; }

const TypeTraits& traits(DType t) { return kTypes[static_cast<std::size_t>(t)]; }

const TypeTraits* find_gguf_type(int gguf_id) {
    for (const TypeTraits& t : kTypes) {
        if (t.gguf_id >= 0 && t.gguf_id == gguf_id) return &t;
    }
    return nullptr;
}

const TypeTraits* find_type(std::string_view name) {
    for (const TypeTraits& t : kTypes) {
        if (same_letters(t.name, name)) return &t;
    }
    return nullptr;
}

std::string gguf_type_name(int gguf_id) {
    if (const TypeTraits* t = find_gguf_type(gguf_id)) return t->name;
    for (const OtherType& t : kOtherTypes) {
        if (t.gguf_id == gguf_id) return t.name;
    }
    return "type " + std::to_string(gguf_id);
}

bool holds_exactly(DType wide, DType narrow) {
    if (wide == narrow) return true;
    const TypeTraits &w = traits(wide), &n = traits(narrow);
    return w.codes != nullptr && n.codes != nullptr && n.code_bits <= w.code_bits;
}

std::uint64_t row_bytes(DType t, std::int64_t n) {
    const TypeTraits& tt = traits(t);
    return static_cast<std::uint64_t>(n / tt.block) * static_cast<std::uint64_t>(tt.block_bytes);
}


}  // namespace wb
