#include "kernels/registry.h"

namespace wb {

namespace matmul {
extern const MatmulKernel naive;
}
namespace attention {
extern const AttentionKernel naive;
}

// One row per kernel. Adding a kernel: its file under kernels/<op>/, its name in these lists.
static const MatmulKernel* const kMatmulKernels[] = {
    &matmul::naive,
};
static const AttentionKernel* const kAttentionKernels[] = {
    &attention::naive,
};

std::span<const MatmulKernel* const> matmul_kernels() { return kMatmulKernels; }
std::span<const AttentionKernel* const> attention_kernels() { return kAttentionKernels; }

template <class K>
static const K* find_by_name(std::span<const K* const> all, std::string_view name) {
    for (const K* k : all) {
        if (name == k->name) return k;
    }
    return nullptr;
}

const MatmulKernel* find_matmul(std::string_view name) { return find_by_name(matmul_kernels(), name); }
const AttentionKernel* find_attention(std::string_view name) { return find_by_name(attention_kernels(), name); }

bool always_available() { return true; }

PackedWeight view_weight(const WeightView& w, ExecContext&) {
    PackedWeight p;
    p.data = w.data;
    p.d = w.d;
    p.n = w.n;
    return p;
}

}  // namespace wb
