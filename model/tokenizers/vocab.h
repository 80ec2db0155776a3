// The vocabulary a model file carries (GGUF's tokenizer.ggml.* metadata), as plain data: what a
// format reader produces and what the tokenizer factory takes. llama2.c checkpoints carry none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb {

struct Vocab {
    std::string model;                // tokenizer.ggml.model: "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
    std::string pre;                  // tokenizer.ggml.pre: "llama-bpe" for Llama 3; may be empty
    std::vector<std::string> tokens;  // tokenizer.ggml.tokens
    std::vector<float> scores;        // tokenizer.ggml.scores (may be empty for gpt2)
    std::vector<std::int32_t> token_types;  // tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte); may be empty
    std::vector<std::string> merges;  // tokenizer.ggml.merges, "a b" in rank order (gpt2 only)
    int bos = -1;                     // tokenizer.ggml.bos_token_id; -1 when absent
    int eos = -1;                     // tokenizer.ggml.eos_token_id
    int eot = -1;                     // tokenizer.ggml.eot_token_id, or the id of "<|eot_id|>" when the file names none
    bool add_bos = true;              // tokenizer.ggml.add_bos_token
};

}  // namespace wb
