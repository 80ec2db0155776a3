#include "variants/variants.h"

#include <stdexcept>

#include "kernels/registry.h"

namespace wb {

// Ordered slowest to fastest; default_variant() takes the last available fp32 row.
static const Variant kVariants[] = {
    {"naive", "matmul.naive", "attention.naive", "plain loops, the reference every other variant is tested against"},
};

// Variants whose matmul loses precision on purpose; never chosen as the default.
static bool is_lossy(const Variant& v) { return std::string_view(v.matmul).starts_with("matmul.q8"); }

std::span<const Variant> variants() { return kVariants; }

std::string variant_names() {
    std::string names;
    for (const Variant& v : kVariants) {
        if (!names.empty()) names += ", ";
        names += v.name;
    }
    return names;
}

Kernels resolve_variant(std::string_view name) {
    for (const Variant& v : kVariants) {
        if (name != v.name) continue;
        Kernels k{&v, find_matmul(v.matmul), find_attention(v.attention)};
        if (k.matmul == nullptr || k.attention == nullptr) {
            throw std::logic_error("variant " + std::string(v.name) + " names a kernel the registry lacks");
        }
        return k;
    }
    throw std::invalid_argument("unknown variant '" + std::string(name) + "' (known: " + variant_names() + ")");
}

std::string default_variant() {
    std::string best = "naive";
    for (const Variant& v : kVariants) {
        if (!is_lossy(v) && resolve_variant(v.name).available()) best = v.name;
    }
    return best;
}

}  // namespace wb
