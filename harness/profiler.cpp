#include "harness/profiler.h"

namespace wb {

const char* op_name(Op op) {
    static const char* const kNames[] = {"qkv",       "o",       "ffn_up_gate", "ffn_down", "classifier",
                                         "attention", "rmsnorm", "rope",        "softmax",  "swiglu"};
    static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(Op::count));
    return kNames[static_cast<int>(op)];
}

}  // namespace wb
