// llama2.c checkpoints: memory-mapped files (legacy v0, export.py v1 fp32 and v2 Q8_0) or synthetic
// weights in memory. v2 matrices stay quantised (WeightView dtype q8_v2) for the kernels' prepare().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "model/config.h"
#include "model/load_error.h"

namespace wb {

struct LayerWeights {
    const float* rms_att;  // [dim]
    WeightView wq;         // [n_heads*head_size x dim]
    WeightView wk;         // [kv_dim x dim]
    WeightView wv;         // [kv_dim x dim]
    WeightView wo;         // [dim x n_heads*head_size]
    const float* rms_ffn;  // [dim]
    WeightView w1;         // [hidden x dim] gate
    WeightView w2;         // [dim x hidden] down
    WeightView w3;         // [hidden x dim] up
};

struct Weights {
    const float* token_embedding;  // [vocab x dim]
    std::vector<LayerWeights> layers;
    const float* rms_final;  // [dim]
    WeightView classifier;   // [vocab x dim]; the embedding table when shared
};

class Checkpoint {
public:
    // Throws LoadError for a missing, truncated, foreign or implausible file.
    static Checkpoint open(const std::string& path);
    // A checkpoint from the bytes of a checkpoint file (used for synthetic models and tests).
    static Checkpoint from_bytes(std::vector<std::byte> bytes, const std::string& name);

    const Config& config() const { return config_; }
    const Weights& weights() const { return weights_; }
    const std::string& name() const { return name_; }
    int version() const { return version_; }

private:
    Checkpoint() = default;
    void parse(const std::byte* data, std::size_t size);

    void parse_q8(const std::byte* data, std::size_t size);

    std::shared_ptr<const void> storage_;  // the mapping or the buffer the weights point into
    std::shared_ptr<std::vector<float>> embedding_;  // the token embedding dequantised (v2 files)
    std::string name_;
    int version_ = 0;
    Config config_;
    Weights weights_;
};

// Bytes of a v0 file for this config (header, weights, the unused freq_cis tables, classifier).
std::uint64_t v0_file_bytes(const Config& c);

}  // namespace wb
