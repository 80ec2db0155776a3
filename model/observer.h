// The forward pass's one observer hook: after each operation of each layer, an optional observer in the
// exec context sees the stage, the layer, the first position of the rows and the output tensor. The
// per-op profiler and the layer-by-layer tracer are two observers.
#pragma once

#include <cstdint>

namespace wb {

// The profiler's categories: several stages share one (q, k and v are all qkv).
enum class Op { qkv, o, ffn_up_gate, ffn_down, classifier, attention, rmsnorm, rope, softmax, swiglu, residual, count };
const char* op_name(Op op);

// Every operation the forward pass announces, in the order it runs them.
enum class Stage : std::uint8_t {
    attn_norm, q, k, v, q_rope, k_rope, attention, attn_out, attn_residual,
    ffn_norm, gate, up, swiglu, down, ffn_residual,
    final_norm, logits,
    sample,  // the sampler's softmax and pick (generate's loop, not the forward pass)
    count
};

struct StageInfo {
    const char* name;  // "attn_out": file names and tables
    Op op;             // the profiler's category
    bool matmul;       // produced by the matmul kernel (else attention kernel or shared code)
};
const StageInfo& stage_info(Stage s);
bool is_attention(Stage s);

// rows x cols floats, row-major: one row per position (or per vocabulary entry for the sampler).
struct Tensor {
    float* data;
    int rows;
    int cols;
};

class Observer {
public:
    virtual ~Observer() = default;
    virtual void before(Stage, int /*layer*/) {}
    // out may be changed: the tracer feeds a variant the reference's values so errors do not compound.
    virtual void after(Stage, int /*layer*/, int /*pos*/, Tensor /*out*/) {}
};

// Announces one stage for the length of its scope; costs one branch when nobody observes.
class Observed {
public:
    Observed(Observer* o, Stage s, int layer, int pos, Tensor out) : o_(o), s_(s), layer_(layer), pos_(pos), out_(out) {
        if (o_) o_->before(s_, layer_);
    }
    ~Observed() {
        if (o_) o_->after(s_, layer_, pos_, out_);
    }
    Observed(const Observed&) = delete;
    Observed& operator=(const Observed&) = delete;

private:
    Observer* o_;
    Stage s_;
    int layer_, pos_;
    Tensor out_;
};

}  // namespace wb
