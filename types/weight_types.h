// Weight types as one table (ggml's type traits are the model): one row per type with its name, GGUF id,
// block size, bytes per block and dequantise-rows. Outside the kernels that take a type natively, this is
// the only place a type's layout is known; every other kernel reaches a weight through dequantize_rows.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace wb {

enum class DType : std::uint8_t {
    f32, f16, bf16,
    q8_0, q4_0, q4_1, q5_0, q5_1,  // GGUF's 32-weight blocks with an fp16 scale (and min)
    q4_K, q5_K, q6_K,              // GGUF's 256-weight super-blocks
    q8_v2,                         // llama2.c export.py v2: int8 values, then fp32 scales per group of the flattened matrix
};

// A weight matrix as the checkpoint stores it: d rows (outputs) x n columns (inputs), row-major.
struct WeightView {
    const void* data = nullptr;     // rows of dtype's blocks, row i at byte i * row_bytes(dtype, n); q8_v2: d*n int8
    const float* scales = nullptr;  // q8_v2 only: d*n/group_size fp32 scales, not necessarily 4-byte aligned
    int d = 0;
    int n = 0;
    DType dtype = DType::f32;
    int group_size = 0;  // q8_v2 only: scale groups along the flattened matrix
};

struct TypeTraits {
    DType type;
    const char* name;  // as GGUF and llama.cpp name it: "F32", "Q4_K", ...; "Q8_0 (llama2.c v2)" for q8_v2
    int gguf_id;       // ggml_type id in GGUF files; -1 when GGUF has no such type
    int block;         // weights per block (1 for plain floats)
    int block_bytes;   // bytes per block
    // out[rows x w.n] = rows row0 .. row0+rows-1 of w as fp32.
    void (*dequantize_rows)(const WeightView& w, std::int64_t row0, std::int64_t rows, float* out);
    // Writes n finite weights (a multiple of block) in this type; null where the workbench does not write the type.
    void (*quantize_row)(const float* x, void* out, std::int64_t n);
    // Scale-times-code types (Q8_0, Q4_0, Q5_0: an fp16 scale first, then code * scale): the block's 32 signed
    // codes and how many bits they span; 0 and null for every other type.
    int code_bits = 0;
    void (*codes)(const std::uint8_t* block, std::int8_t* q) = nullptr;
};

std::span<const TypeTraits> weight_types();
const TypeTraits& traits(DType t);
const TypeTraits* find_gguf_type(int gguf_id);        // null for ids the table lacks
const TypeTraits* find_type(std::string_view name);   // by name, case-insensitive ("q8_0", "F16")
// ggml's name for any GGUF type id, the table's or not ("Q4_K", "IQ2_XXS"), for messages; "type N" for ids ggml lacks.
std::string gguf_type_name(int gguf_id);

// Whether every block of `narrow` is a block of `wide` with the same scale and the same codes (Q5_0 and Q4_0
// in Q8_0), so a kernel streaming `wide` takes `narrow` without changing a value. True for a type and itself.
bool holds_exactly(DType wide, DType narrow);

// Bytes one row of n weights takes (n a multiple of the block; not meaningful for q8_v2).
std::uint64_t row_bytes(DType t, std::int64_t n);

// IEEE half and bfloat16 bits <-> fp32, rounding to nearest even; NaN stays NaN (quiet), Inf stays Inf,
// half's subnormals are kept, values past half's range become Inf.
float fp16_to_f32(std::uint16_t h);
std::uint16_t f32_to_fp16(float x);
float bf16_to_f32(std::uint16_t h);
std::uint16_t f32_to_bf16(float x);

}  // namespace wb
