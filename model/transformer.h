// The one Llama-2 forward pass (llama2.c semantics). Matmul and attention come from the kernels it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "model/observer.h"
#include "kernels/exec_context.h"
#include "model/checkpoint.h"
#include "variants/variants.h"

namespace wb {

// The forward pass's unit, like llama.cpp's llama_batch: row i is token[i] of sequence seq[i] at position pos[i].
// One prompt's prefill is P rows of one sequence; a decode step of B sequences is B rows. A sequence's rows need
// not be adjacent but come in order, at consecutive positions.
struct Batch {
    std::vector<int> token, seq, pos;

    void add(int token_id, int sequence, int position) {
        token.push_back(token_id);
        seq.push_back(sequence);
        pos.push_back(position);
    }
    void clear() {
        token.clear();
        seq.clear();
        pos.clear();
    }
    int rows() const { return static_cast<int>(token.size()); }
};

// What the KV cache holds: `sequences` independent sequences of up to `context` positions each, every key and
// value row stored as kv_type (one of kKvTypes: f32, f16, bf16, q8_0).
struct CacheShape {
    int sequences = 1;
    int context = 0;  // 0: the model's seq_len
    DType kv_type = DType::f32;

    int positions(const Config& c) const { return context == 0 ? c.seq_len : context; }
    // Bytes of keys and values for all layers, sequences and positions.
    std::uint64_t bytes(const Config& c) const {
        return 2ull * static_cast<std::uint64_t>(c.n_layers) * static_cast<std::uint64_t>(sequences) *
               static_cast<std::uint64_t>(positions(c)) * row_bytes(kv_type, c.kv_dim());
    }
};

// The cache type named `name` ("f32", "f16", "bf16", "q8_0", any case). Throws std::invalid_argument naming the
// types for any other.
DType parse_kv_type(std::string_view name);
// "f32", "f16", "bf16" or "q8_0", as --kv-type spells it.
std::string kv_type_name(DType t);
// Throws std::invalid_argument, one line, unless a cache of kv_type holds this model's rows and the variant's
// attention reads it.
void require_cache_type(const Kernels& kernels, const Config& c, DType kv_type);

class Transformer {
public:
    // Prepares every weight matrix once with the variant's matmul kernel and allocates the KV cache.
    // Throws std::invalid_argument for a cache shape of no sequences or a context past the model's, a cache type
    // the variant's attention does not read, or q8_0 rows that do not split into blocks of 32.
    Transformer(const Checkpoint& checkpoint, const Kernels& kernels, ExecContext& ctx, CacheShape cache = {});

    // Runs one batch: every projection is one matmul over its rows, attention is causal inside each sequence.
    // Returns the logits of the last row of each sequence in the batch, [outputs x vocab] in the order of those
    // rows, or of every row ([rows x vocab]) when all_logits.
    // Throws std::out_of_range for a position past the context, a sequence past the cache, a token id outside
    // the vocabulary or a sequence whose rows are not at consecutive positions; nothing runs then.
    float* forward(const Batch& batch, bool all_logits = false);

    // The one-sequence batch: tokens[0..T) of sequence 0 at positions pos .. pos+T-1. Returns the logits of the
    // last position, or [T x vocab] for all of them when all_logits.
    float* forward(const int* tokens, int T, int pos, bool all_logits = false);

    // Copies positions 0 .. positions-1 of sequence from's cache into sequence to (a prompt shared by both).
    void copy_sequence(int from, int to, int positions);

    const Config& config() const { return cfg_; }
    const Kernels& kernels() const { return kernels_; }
    ExecContext& context() { return ctx_; }
    int sequences() const { return n_seq_; }
    int positions() const { return n_ctx_; }  // the cache's context per sequence

    static constexpr int kMaxBatch = 128;  // batches run in chunks of at most this many rows

private:
    // Parts first .. first+count-1 of a group of projections of the same input (Q, K, V; gate, up) as one weight
    // of stacked rows: one matmul call for the group when the kernel copies its weights anyway, one per part when
    // it prepares views (stacking would then copy what it maps).
    struct Projection {
        PackedWeight weight;
        const MatmulKernel* kernel;  // the variant's kernel for the stored type (Kernels::matmul_for)
        int first = 0, count = 1;
    };
    struct PackedLayer {
        std::vector<Projection> qkv, gate_up;
        Projection wo, w2;
    };
    // One weight prepared by the variant's kernel for its stored type.
    Projection prepare(const WeightView& w);
    // The projections of `parts` (all of one input) as their kernels run them best (Projection): parts whose
    // types the variant runs with different kernels are prepared one by one.
    std::vector<Projection> prepare_group(std::initializer_list<WeightView> parts);
    // out[i][m x width[i]] for the parts of p: straight into out[first] for one part, else one call whose rows are
    // split into the parts' buffers, the first part's stage timing the call and every part announced in order.
    void project(const Projection& p, const float* x, int m, float* const* out, const int* width, const Stage* stage,
                 int layer, int pos);
    void check(const Batch& batch);
    // Rows first .. first+T-1 of the batch; their logits rows go to logits_ from row *outputs on.
    void forward_chunk(const Batch& batch, int first, int T, int* outputs);
    void matmul(const Projection& w, const float* x, float* y, int m, Stage stage, int layer, int pos);
    void rope(float* row, int width, int pos) const;
    std::byte* cache_row(std::vector<std::byte>& cache, int layer, int seq, int pos);

    const Checkpoint& checkpoint_;
    Config cfg_;
    Kernels kernels_;
    ExecContext& ctx_;
    int n_seq_, n_ctx_;
    DType kv_type_;
    std::size_t kv_row_bytes_;  // one position's keys (or values) as stored
    std::vector<PackedLayer> layers_;
    Projection classifier_;

    // Activations for up to kMaxBatch rows.
    std::vector<float> x_;       // [T x dim] residual stream
    std::vector<float> xb_;      // [T x dim]
    std::vector<float> xb2_;     // [T x dim]
    std::vector<float> q_;       // [T x dim]
    std::vector<float> k_;       // [T x kv_dim] keys of the rows, before they go to their sequences' caches
    std::vector<float> v_;       // [T x kv_dim]
    std::vector<float> hb_;      // [T x hidden]
    std::vector<float> hb2_;     // [T x hidden]
    std::vector<float> stacked_;  // [T x (dim + 2 kv_dim) or 2 hidden] a stacked projection's rows, before the split
    std::vector<float> logits_;  // [outputs x vocab]
    std::vector<std::byte> key_cache_;    // [layers x sequences x context] rows of kv_row_bytes_
    std::vector<std::byte> value_cache_;  // laid out as the keys
    std::vector<float> rope_;         // [seq_len x head_size/2 x (cos, sin)]

    // Per call: rows that give logits, an int per sequence, the chunk's attention spans.
    std::vector<char> wants_logits_;
    std::vector<int> per_seq_;
    std::vector<AttentionSpan> spans_;
    Batch one_sequence_;  // forward(tokens, T, pos)'s batch, reused
};

}  // namespace wb
