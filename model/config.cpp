#include "model/config.h"

#include <cmath>
#include <cstdio>
#include <numbers>

namespace wb {

// Llama 3.x: rope theta 500000. The 1B model's context is 131072; synthetic runs use 4096, whose KV cache
// (16 layers x 4096 x 512 x 2 fp32) is 256 MiB instead of 8 GiB. Llama 3.2 uses Llama 3.1's rope scaling
// with factor 32.
static const Shape kShapes[] = {
    {"stories260K", {64, 172, 5, 8, 4, 512, 512, true}},
    {"stories15M", {288, 768, 6, 6, 6, 32000, 256, true}},
    {"stories42M", {512, 1376, 8, 8, 8, 32000, 1024, true}},
    {"stories110M", {768, 2048, 12, 12, 12, 32000, 1024, true}},
    {"tinyllama-1.1B", {2048, 5632, 22, 32, 4, 32000, 2048, false}},
    {"llama2-7B-layer", {4096, 11008, 1, 32, 32, 32000, 4096, false}},
    {"llama3.2-1B", {2048, 8192, 16, 32, 8, 128256, 4096, true, 500000.0f}, {32.0f, 1.0f, 4.0f, 8192}},
    {"llama3-8B-layer", {4096, 14336, 1, 32, 8, 128256, 4096, false, 500000.0f}},
};

std::span<const Shape> shapes() { return kShapes; }

std::optional<Config> find_shape(std::string_view name) {
    for (const Shape& s : kShapes) {
        if (name != s.name) continue;
        Config c = s.config;
        if (s.rope_scaling.factor != 0) c.rope_freq_factors = llama3_rope_factors(c.head_size(), c.rope_theta, s.rope_scaling);
        return c;
    }
    return std::nullopt;
}

std::vector<float> llama3_rope_factors(int head_size, float theta, const RopeScaling& s) {
    const double low_wavelength = s.original_context / static_cast<double>(s.low_freq_factor);
    const double high_wavelength = s.original_context / static_cast<double>(s.high_freq_factor);
    std::vector<float> factors;
    for (int i = 0; i < head_size; i += 2) {
        const double freq = 1.0 / std::pow(static_cast<double>(theta), static_cast<double>(i) / head_size);
        const double wavelength = 2 * std::numbers::pi / freq;
        double factor = 1.0;
        if (wavelength > low_wavelength) {
            factor = s.factor;
        } else if (wavelength >= high_wavelength) {
            const double smooth = (s.original_context / wavelength - s.low_freq_factor) /
                                  (static_cast<double>(s.high_freq_factor) - s.low_freq_factor);
            factor = 1.0 / ((1 - smooth) / s.factor + smooth);
        }
        factors.push_back(static_cast<float>(factor));
    }
    return factors;
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
    if (!(rope_theta > 1.0f) || !std::isfinite(rope_theta)) return "implausible rope theta " + std::to_string(rope_theta);
    if (!(rms_eps > 0.0f && rms_eps < 1.0f)) return "implausible RMSNorm epsilon " + std::to_string(rms_eps);
    if (!rope_freq_factors.empty()) {
        if (rope_freq_factors.size() != static_cast<std::size_t>(head_size() / 2)) {
            return std::to_string(rope_freq_factors.size()) + " rope frequency factors for head size " +
                   std::to_string(head_size()) + " (one per pair expected)";
        }
        for (const float f : rope_freq_factors) {
            if (!(f > 0.0f) || !std::isfinite(f)) return "implausible rope frequency factor " + std::to_string(f);
        }
    }
    return "";
}

bool Config::llama2c_compatible() const {
    return rope_theta == 10000.0f && rope_freq_factors.empty() && rms_eps == 1e-5f;
}

namespace {

std::string number(float v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", static_cast<double>(v));
    return text;
}

std::string rope_and_norm(const Config& c) {
    std::string out;
    if (c.rope_theta != 10000.0f) out += " rope_theta=" + number(c.rope_theta);
    if (!c.rope_freq_factors.empty()) out += " rope_factors=" + std::to_string(c.rope_freq_factors.size());
    if (c.rms_eps != 1e-5f) out += " rms_eps=" + number(c.rms_eps);
    return out;
}

}  // namespace

std::string Config::summary() const {
    return "dim=" + std::to_string(dim) + " hidden=" + std::to_string(hidden_dim) + " layers=" +
           std::to_string(n_layers) + " heads=" + std::to_string(n_heads) + " kv_heads=" + std::to_string(n_kv_heads) +
           " vocab=" + std::to_string(vocab_size) + " seq_len=" + std::to_string(seq_len) + rope_and_norm(*this);
}

}  // namespace wb
