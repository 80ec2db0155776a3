#include "model/observer.h"

namespace wb {

namespace {

// One row per stage, in Stage's order.
const StageInfo kStages[] = {
    {"attn_norm", Op::rmsnorm, false},     {"q", Op::qkv, true},
    {"k", Op::qkv, true},                  {"v", Op::qkv, true},
    {"q_rope", Op::rope, false},           {"k_rope", Op::rope, false},
    {"attention", Op::attention, false},   {"attn_out", Op::o, true},
    {"attn_residual", Op::residual, false}, {"ffn_norm", Op::rmsnorm, false},
    {"gate", Op::ffn_up_gate, true},       {"up", Op::ffn_up_gate, true},
    {"swiglu", Op::swiglu, false},         {"down", Op::ffn_down, true},
    {"ffn_residual", Op::residual, false}, {"final_norm", Op::rmsnorm, false},
    {"logits", Op::classifier, true},      {"sample", Op::softmax, false},
};
static_assert(sizeof(kStages) / sizeof(kStages[0]) == static_cast<int>(Stage::count));

}  // namespace

const char* op_name(Op op) {
    static const char* const kNames[] = {"qkv",       "o",       "ffn_up_gate", "ffn_down", "classifier", "attention",
                                         "rmsnorm",   "rope",    "softmax",     "swiglu",   "residual"};
    static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(Op::count));
    return kNames[static_cast<int>(op)];
}

const StageInfo& stage_info(Stage s) { return kStages[static_cast<int>(s)]; }
bool is_attention(Stage s) { return s == Stage::attention; }

}  // namespace wb
