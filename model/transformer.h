// The one Llama-2 forward pass (llama2.c semantics). Matmul and attention come from the kernels it is given.
#pragma once

#include <vector>

#include "model/observer.h"
#include "kernels/exec_context.h"
#include "model/checkpoint.h"
#include "variants/variants.h"

namespace wb {

class Transformer {
public:
    // Prepares every weight matrix once with the variant's matmul kernel.
    Transformer(const Checkpoint& checkpoint, const Kernels& kernels, ExecContext& ctx);

    // Runs tokens[0..T) at positions pos .. pos+T-1 (T > 1 is batched prefill, causal inside the span).
    // Returns the logits of the last position, or [T x vocab] for all of them when all_logits.
    // Throws std::out_of_range when the span passes the context or a token id is out of range.
    float* forward(const int* tokens, int T, int pos, bool all_logits = false);

    const Config& config() const { return cfg_; }
    const Kernels& kernels() const { return kernels_; }
    ExecContext& context() { return ctx_; }

    static constexpr int kMaxBatch = 128;  // prefill runs in spans of at most this many tokens

private:
    struct PackedLayer {
        PackedWeight wq, wk, wv, wo, w1, w2, w3;
    };
    // logits_out null: no classifier (an earlier span of a longer prompt).
    void forward_span(const int* tokens, int T, int pos, float* logits_out, bool all_logits);
    void matmul(const PackedWeight& w, const float* x, float* y, int m, Stage stage, int layer, int pos);
    void rope(float* row, int width, int pos) const;

    const Checkpoint& checkpoint_;
    Config cfg_;
    Kernels kernels_;
    ExecContext& ctx_;
    std::vector<PackedLayer> layers_;
    PackedWeight classifier_;

    // Activations for up to kMaxBatch positions.
    std::vector<float> x_;       // [T x dim] residual stream
    std::vector<float> xb_;      // [T x dim]
    std::vector<float> xb2_;     // [T x dim]
    std::vector<float> q_;       // [T x dim]
    std::vector<float> hb_;      // [T x hidden]
    std::vector<float> hb2_;     // [T x hidden]
    std::vector<float> logits_;  // [vocab], or [T x vocab] when all logits were asked for
    std::vector<float> key_cache_;    // [layers x seq_len x kv_dim]
    std::vector<float> value_cache_;  // [layers x seq_len x kv_dim]
    std::vector<float> rope_;         // [seq_len x head_size/2 x (cos, sin)]
};

}  // namespace wb
