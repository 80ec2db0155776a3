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
struct AttentionArgs {
    const float* q;        // [m x n_heads*head_size], RoPE applied
    const float* k_cache;  // this layer's keys: sequence s at k_cache + s * seq_stride, [positions x kv_dim]
    const float* v_cache;  // this layer's values, laid out as the keys
    float* out;            // [m x n_heads*head_size]
    int m;
    std::span<const AttentionSpan> spans;
    std::size_t seq_stride;  // floats from one sequence's cache to the next (0 when there is one)
    int n_heads;
    int n_kv_heads;  // n_heads % n_kv_heads == 0 (grouped-query attention)
    int head_size;

    const float* keys(const AttentionSpan& s) const { return k_cache + static_cast<std::size_t>(s.seq) * seq_stride; }
    const float* values(const AttentionSpan& s) const { return v_cache + static_cast<std::size_t>(s.seq) * seq_stride; }
    // Keys the farthest-seeing row of the call attends to.
    int max_keys() const {
        int n = 0;
        for (const AttentionSpan& s : spans) n = s.pos + s.rows > n ? s.pos + s.rows : n;
        return n;
    }
};

struct AttentionKernel {
    const char* name;
    const char* description;
    // Allowed error per output element: |out - out_naive| <= tolerance * max_t |v_t| (values' scale).
    float tolerance;
    Isa isa;
    void (*run)(const AttentionArgs& a, ExecContext& ctx);

    bool available(Isa cap = default_isa()) const { return runs_under(isa, cap); }
    bool lossy() const { return tolerance > kExactTolerance; }
};

}  // namespace wb
