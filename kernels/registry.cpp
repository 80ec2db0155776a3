#include "kernels/registry.h"

#include <vector>

namespace wb {

namespace matmul {
extern const MatmulKernel naive, blas;
}
namespace attention {
extern const AttentionKernel naive;
}

// Each compiled level's table (kernels/levels/<level>.cpp), declared from the list CMake writes for this build.
#define WB_LEVEL(ns) \
    namespace ns {   \
    LevelKernels level_kernels(); \
    }
#include "workbench_levels.inc"
#undef WB_LEVEL

// Kernels written once for every CPU, compiled with the rest of the library.
static const MatmulKernel* const kPortableMatmul[] = {&matmul::naive, &matmul::blas};
static const AttentionKernel* const kPortableAttention[] = {&attention::naive};

namespace {

struct Rows {
    std::vector<const MatmulKernel*> matmul;
    std::vector<const AttentionKernel*> attention;
};

const Rows& rows() {
    static const Rows all = [] {
        const LevelKernels levels[] = {
            {kPortableMatmul, kPortableAttention},
#define WB_LEVEL(ns) ns::level_kernels(),
#include "workbench_levels.inc"
#undef WB_LEVEL
        };
        Rows r;
        for (const LevelKernels& l : levels) {
            r.matmul.insert(r.matmul.end(), l.matmul.begin(), l.matmul.end());
            r.attention.insert(r.attention.end(), l.attention.begin(), l.attention.end());
        }
        return r;
    }();
    return all;
}

template <class K>
const K* find_by_name(const std::vector<const K*>& all, std::string_view name, Isa cap) {
    const K* best = nullptr;
    const K* lowest = nullptr;
    for (const K* k : all) {
        if (name != k->name) continue;
        if (lowest == nullptr || k->isa < lowest->isa) lowest = k;
        if (k->available(cap) && (best == nullptr || k->isa > best->isa)) best = k;
    }
    return best != nullptr ? best : lowest;
}

}  // namespace

std::span<const MatmulKernel* const> matmul_kernels() { return rows().matmul; }
std::span<const AttentionKernel* const> attention_kernels() { return rows().attention; }

const MatmulKernel* find_matmul(std::string_view name, Isa cap) { return find_by_name(rows().matmul, name, cap); }
const AttentionKernel* find_attention(std::string_view name, Isa cap) { return find_by_name(rows().attention, name, cap); }

}  // namespace wb
