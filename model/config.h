// A model's hyperparameters, as llama2.c's checkpoint header gives them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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

    int head_size() const { return dim / n_heads; }
    int kv_dim() const { return dim / n_heads * n_kv_heads; }

    // Floats in the weight matrices a decode step reads (embedding row excluded).
    std::uint64_t matmul_params() const;
    // "" when plausible, else what is wrong.
    std::string problem() const;
    std::string summary() const;  // "dim=288 hidden=768 layers=6 heads=6 kv_heads=6 vocab=32000 seq_len=256"
};

// Standard shapes for synthetic checkpoints and kernel benchmarks.
struct Shape {
    const char* name;
    Config config;
};
std::span<const Shape> shapes();
std::optional<Config> find_shape(std::string_view name);
std::string shape_names();

}  // namespace wb
