// The tensors of a Llama model as the writers walk them: llama2.c v0 order (the order of its files and of the
// synthetic generator), each with its role, layer, shape and GGUF name. Readers use the same rows to find
// and check tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "model/checkpoint.h"

namespace wb {

enum class Role : std::uint8_t { embedding, attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, final_norm, classifier };

struct TensorSlot {
    Role role;
    int layer;          // -1 for tensors outside the layers
    std::int64_t rows;  // 1 for norm vectors
    std::int64_t cols;
    bool is_norm() const { return role == Role::attn_norm || role == Role::ffn_norm || role == Role::final_norm; }
    std::string gguf_name() const;  // "blk.3.attn_q.weight", "token_embd.weight"
};

// Every tensor of a model of this config in v0 order; the classifier only when it is not the embedding.
std::vector<TensorSlot> llama_tensors(const Config& c);

// The weight a slot names: matrices as their views, norms and the embedding as fp32 views.
WeightView slot_view(const Weights& w, const TensorSlot& t);
// Points the slot's field of w at view (norms and the embedding must be fp32 views).
void set_slot(Weights& w, const TensorSlot& t, const WeightView& view);

// out[t.cols] = row `row` of tensor t as fp32. Writers call it for the tensors in llama_tensors order, rows
// in order, so a generator may produce values as a stream.
using RowSource = std::function<void(const TensorSlot& t, std::int64_t row, float* out)>;
// The rows of a loaded checkpoint, dequantised through the weight-type table.
RowSource checkpoint_rows(const Checkpoint& ck);

// Where writers put bytes: a file or a buffer.
using ByteSink = std::function<void(const void* data, std::size_t bytes)>;

// A file being written; write errors throw LoadError naming the path; close() flushes and checks. A file
// not closed (an error part way) is removed.
class FileSink {
public:
    explicit FileSink(const std::string& path);
    ~FileSink();
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;
    ByteSink sink();
    void close();

private:
    std::string path_;
    std::FILE* file_;
};

}  // namespace wb
