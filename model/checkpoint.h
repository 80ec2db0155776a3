// A model as the forward pass takes it, whatever file it came from: the config, weight views and the
// vocabulary the file carries. Matrices stay in their stored type (WeightView's dtype) for the kernels'
// prepare(); norms and the token embedding are fp32 (embedding rows are copied into the residual stream).
// One reader per format in model/formats/ builds it; open() picks the reader by the file's magic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "model/config.h"
#include "model/formats/mapped_file.h"
#include "model/load_error.h"
#include "model/tokenizers/vocab.h"

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
    WeightView classifier;   // [vocab x dim]; the embedding table (in its stored type) when shared
};

enum class Format { llama2c, gguf, synthetic };  // synthetic: generated in memory, no file

class Checkpoint {
public:
    // Throws LoadError for a missing, truncated, foreign or implausible file. GGUF files are found by their
    // magic; anything else is read as llama2.c (v0 has no magic; v1 and v2 have export.py's).
    static Checkpoint open(const std::string& path);
    // A checkpoint from the bytes of a checkpoint file (used for synthetic models and tests).
    static Checkpoint from_bytes(std::vector<std::byte> bytes, const std::string& name);
    static Checkpoint from(Bytes bytes, const std::string& name);

    // What a format reader assembles: views into `owners` (the file's bytes, dequantised copies), which the
    // checkpoint keeps alive.
    Checkpoint(std::string name, Format format, int version, Config config, Weights weights,
               std::vector<std::shared_ptr<const void>> owners, std::shared_ptr<const Vocab> vocab = nullptr);

    const Config& config() const { return config_; }
    const Weights& weights() const { return weights_; }
    const std::string& name() const { return name_; }
    Format format() const { return format_; }
    int version() const { return version_; }  // llama2.c: 0, 1 (fp32) or 2 (Q8_0); GGUF: 2 or 3
    std::string format_name() const;          // "llama2.c v0", "GGUF v3", "synthetic"
    const Vocab* vocab() const { return vocab_.get(); }  // null: the file carries none (llama2.c)

    // Gives the pages of a mapped file's weight back to the kernel once a copy of it is held (a kernel that
    // packs): they leave the resident set and are read from the file again only if touched. No-op for
    // checkpoints not opened from a file.
    void release(const WeightView& w) const;

private:
    std::string name_;
    Format format_;
    int version_;
    Config config_;
    Weights weights_;
    std::vector<std::shared_ptr<const void>> owners_;
    std::shared_ptr<const Vocab> vocab_;
    const std::byte* mapped_ = nullptr;  // open()'s file mapping
    std::size_t mapped_size_ = 0;
};

}  // namespace wb
