#include "model/config.h"

namespace wb {

static const Shape kShapes[] = {
    {"stories260K", {64, 172, 5, 8, 4, 512, 512, true}},
    {"stories15M", {288, 768, 6, 6, 6, 32000, 256, true}},
    {"stories42M", {512, 1376, 8, 8, 8, 32000, 1024, true}},
    {"stories110M", {768, 2048, 12, 12, 12, 32000, 1024, true}},
    {"tinyllama-1.1B", {2048, 5632, 22, 32, 4, 32000, 2048, false}},
    {"llama2-7B-layer", {4096, 11008, 1, 32, 32, 32000, 4096, false}},
};

std::span<const Shape> shapes() { return kShapes; }

std::optional<Config> find_shape(std::string_view name) {
    for (const Shape& s : kShapes) {
        if (name == s.name) return s.config;
    }
    return std::nullopt;
}

std::string shape_names() {
    std::string names;
    for (const Shape& s : kShapes) {
        if (!names.empty()) names += ", ";
        names += s.name;
    }
    return names;
}

std::uint64_t Config::matmul_params() const {
    const std::uint64_t d = dim, h = hidden_dim, kv = kv_dim();
    const std::uint64_t per_layer = d * d * 2 + d * kv * 2 + d * h * 3;
    return per_layer * static_cast<std::uint64_t>(n_layers) + static_cast<std::uint64_t>(vocab_size) * d;
}

std::string Config::problem() const {
    auto in = [](int v, int lo, int hi) { return v >= lo && v <= hi; };
    if (!in(dim, 1, 1 << 16)) return "implausible dim " + std::to_string(dim);
    if (!in(hidden_dim, 1, 1 << 18)) return "implausible hidden_dim " + std::to_string(hidden_dim);
    if (!in(n_layers, 1, 1024)) return "implausible n_layers " + std::to_string(n_layers);
    if (!in(n_heads, 1, dim)) return "implausible n_heads " + std::to_string(n_heads);
    if (!in(n_kv_heads, 1, n_heads)) return "implausible n_kv_heads " + std::to_string(n_kv_heads);
    if (!in(vocab_size, 1, 1 << 22)) return "implausible vocab_size " + std::to_string(vocab_size);
    if (!in(seq_len, 1, 1 << 20)) return "implausible seq_len " + std::to_string(seq_len);
    if (dim % n_heads != 0) return "dim " + std::to_string(dim) + " is not a multiple of n_heads " + std::to_string(n_heads);
    if (n_heads % n_kv_heads != 0) {
        return "n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " + std::to_string(n_kv_heads);
    }
    if (head_size() % 2 != 0) return "head size " + std::to_string(head_size()) + " is odd (RoPE rotates pairs)";
    return "";
}

std::string Config::summary() const {
    return "dim=" + std::to_string(dim) + " hidden=" + std::to_string(hidden_dim) + " layers=" +
           std::to_string(n_layers) + " heads=" + std::to_string(n_heads) + " kv_heads=" + std::to_string(n_kv_heads) +
           " vocab=" + std::to_string(vocab_size) + " seq_len=" + std::to_string(seq_len);
}

}  // namespace wb
