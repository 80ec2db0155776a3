// The one kernel interface. Every matmul and attention implementation is a plain descriptor
// (a row in kernels/registry.cpp) that the forward pass resolves once at load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/isa.h"
#include "types/weight_types.h"

namespace wb {

class ExecContext;

// What a kernel's prepare() made of a weight: a view (no copy) or a re-laid-out copy it owns.
struct PackedWeight {
    const void* data = nullptr;     // layout private to the kernel that prepared it
    const float* scales = nullptr;  // per-group scales for quantised layouts
    int d = 0;
    int n = 0;
    std::shared_ptr<void> storage;  // owner of data/scales when they are copies
};

// A tolerance at or below this is fp32 summation order alone: the kernel counts as exact, above it as lossy.
inline constexpr float kExactTolerance = 1e-4f;

// How prepare() holds a weight.
enum class Holding : std::uint8_t {
    views,  // a weight stored in the type the kernel streams is used where it lies (the mapped file); others are converted
    packs,  // every weight is re-laid-out into a copy the kernel owns
};
inline const char* holding_name(Holding h) { return h == Holding::views ? "views" : "packs"; }

// y[m x d] = x[m x n] . W^T ; m = 1 is decode, m > 1 is batched prefill.
struct MatmulKernel {
    const char* name;         // "matmul.naive"
    const char* description;  // one line
    // Allowed error per output element: |y - y_naive| <= tolerance * sum_j |w_ij * x_j|.
    float tolerance;
    DType streams;        // the number format run() reads the weights in, scales included (Q8_0 panels: q8_0)
    Holding holding;
    Isa isa;              // the instruction-set level its code was compiled for (kernels/isa.h)
    PackedWeight (*prepare)(const WeightView& w, ExecContext& ctx);
    void (*run)(const PackedWeight& w, const float* x, float* y, int m, ExecContext& ctx);
    // out[d x n] = the weights as prepare() stored them, for kernels that round them (4-bit): tolerance is then
    // measured against the naive kernel on these. Null when prepare() keeps every weight's value.
    void (*unpack)(const PackedWeight& w, float* out) = nullptr;

    // Whether this row runs under the cap on this CPU.
    bool available(Isa cap = default_isa()) const { return runs_under(isa, cap); }
    bool lossy() const { return tolerance > kExactTolerance; }
    // Bytes read per weight element per call (4 fp32, 2 bf16, 1.0625 Q8_0 and 0.5625 Q4_0 with their scales).
    float bytes_per_weight() const { return static_cast<float>(traits(streams).block_bytes) / static_cast<float>(traits(streams).block); }
    // Whether prepare() makes its own copy of a weight stored as `stored` rather than viewing it.
    bool copies(DType stored) const { return holding == Holding::packs || stored != streams; }
};

// Query rows first_row .. first_row+rows-1 of a call: one sequence's tokens at positions pos .. pos+rows-1.
// Row first_row+i attends to keys 0 .. pos+i of that sequence's cache (causal inside the span).
struct AttentionSpan {
    int first_row;
    int rows;
    int seq;
    int pos;
};

// All heads of one layer for m query rows of one or more sequences, given as spans that cover rows 0 .. m-1
// in order. One sequence's prefill is one span; a decode step of B sequences is B spans of one row.
// The cache holds one row of kv_dim elements per position, stored as kv_type (f32, f16, bf16 or q8_0 blocks of
// 32 along the row): sequence s's row t starts at byte s * seq_stride + t * row_bytes().
struct AttentionArgs {
    const float* q;       // [m x n_heads*head_size], RoPE applied
    const void* k_cache;  // this layer's keys
    const void* v_cache;  // this layer's values, laid out as the keys
    float* out;           // [m x n_heads*head_size]
    int m;
    std::span<const AttentionSpan> spans;
    std::size_t seq_stride;  // bytes from one sequence's cache to the next (0 when there is one)
    int n_heads;
    int n_kv_heads;  // n_heads % n_kv_heads == 0 (grouped-query attention)
    int head_size;
    DType kv_type = DType::f32;

    int kv_dim() const { return n_kv_heads * head_size; }
    std::size_t row_bytes() const { return static_cast<std::size_t>(wb::row_bytes(kv_type, kv_dim())); }
    const std::byte* stored_keys(const AttentionSpan& s) const {
        return static_cast<const std::byte*>(k_cache) + static_cast<std::size_t>(s.seq) * seq_stride;
    }
    const std::byte* stored_values(const AttentionSpan& s) const {
        return static_cast<const std::byte*>(v_cache) + static_cast<std::size_t>(s.seq) * seq_stride;
    }
    // The same as floats, for an f32 cache.
    const float* keys(const AttentionSpan& s) const { return reinterpret_cast<const float*>(stored_keys(s)); }
    const float* values(const AttentionSpan& s) const { return reinterpret_cast<const float*>(stored_values(s)); }
    // Keys the farthest-seeing row of the call attends to.
    int max_keys() const {
        int n = 0;
        for (const AttentionSpan& s : spans) n = s.pos + s.rows > n ? s.pos + s.rows : n;
        return n;
    }
};

// The cache types a kernel reads, as a set of DType bits.
constexpr unsigned kv_bit(DType t) { return 1u << static_cast<unsigned>(t); }
inline constexpr unsigned kKvF32 = kv_bit(DType::f32);
inline constexpr unsigned kKvAll = kv_bit(DType::f32) | kv_bit(DType::f16) | kv_bit(DType::bf16) | kv_bit(DType::q8_0);
// The cache types the forward pass can hold, in the order `--kv-type` lists them.
inline constexpr DType kKvTypes[] = {DType::f32, DType::f16, DType::bf16, DType::q8_0};

struct AttentionKernel {
    const char* name;
    const char* description;
    // Allowed error per output element: |out - out_naive| <= tolerance * max_t |v_t| (values' scale).
    float tolerance;
    Isa isa;
    void (*run)(const AttentionArgs& a, ExecContext& ctx);
    unsigned kv_types = kKvF32;  // the cache types run() reads (kv_bit of each)

    bool available(Isa cap = default_isa()) const { return runs_under(isa, cap); }
    bool lossy() const { return tolerance > kExactTolerance; }
    bool reads(DType kv_type) const { return (kv_types & kv_bit(kv_type)) != 0; }
};

}  // namespace wb
