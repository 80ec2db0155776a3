// A model's hyperparameters: llama2.c's checkpoint header, plus what GGUF's llama.* keys add (RoPE base and
// per-dimension frequency factors, RMSNorm epsilon) with llama2.c's values as the defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wb {

struct Config {
    int dim = 0;         // transformer width
    int hidden_dim = 0;  // FFN width
    int n_layers = 0;
    int n_heads = 0;     // query heads
    int n_kv_heads = 0;  // key/value heads (fewer than n_heads: grouped-query attention)
    int vocab_size = 0;
    int seq_len = 0;  // context length
    bool shared_classifier = true;  // classifier is the token embedding table
    float rope_theta = 10000.0f;    // RoPE base: pair i of a head turns at theta^(-2i/head_size) per position
    std::vector<float> rope_freq_factors{};  // [head_size/2] divisors of those frequencies; empty: none
    float rms_eps = 1e-5f;                 // RMSNorm epsilon

    int head_size() const { return dim / n_heads; }
    int kv_dim() const { return dim / n_heads * n_kv_heads; }

    // Floats in the weight matrices a decode step reads (embedding row excluded).
    std::uint64_t matmul_params() const;
    // "" when plausible, else what is wrong.
    std::string problem() const;
    // "dim=288 hidden=768 layers=6 heads=6 kv_heads=6 vocab=32000 seq_len=256", then rope_theta, rope_factors
    // and rms_eps where they differ from llama2.c's.
    std::string summary() const;
    // Whether RoPE and RMSNorm are llama2.c's (a llama2.c checkpoint can carry nothing else).
    bool llama2c_compatible() const;
};

// Llama 3.1's RoPE scaling ("rope_type": "llama3"): low frequencies slowed by `factor`, high ones kept,
// a smooth blend between the wavelengths original_context / low_freq_factor and / high_freq_factor.
struct RopeScaling {
    float factor = 0;  // 0: none
    float low_freq_factor = 0;
    float high_freq_factor = 0;
    int original_context = 0;
};
// The per-pair frequency divisors that scaling gives for heads of head_size at base theta.
std::vector<float> llama3_rope_factors(int head_size, float theta, const RopeScaling& s);

// Standard shapes for synthetic checkpoints and kernel benchmarks.
struct Shape {
    const char* name;
    Config config;
    RopeScaling rope_scaling{};
};
std::span<const Shape> shapes();
std::optional<Config> find_shape(std::string_view name);
std::string shape_names();

}  // namespace wb
