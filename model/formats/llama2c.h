// llama2.c's checkpoints: legacy v0, export.py's v1 fp32 and v2 Q8_0 (its tokenizer.bin: model/tokenizers/tokenizer.h).
// Reader and v0 writer; v2 matrices stay quantised (DType::q8_v2) for the kernels' prepare().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/formats/llama_layout.h"

namespace wb::llama2c {

// Reads v0, v1 or v2 bytes (anything without GGUF's magic comes here). Throws LoadError naming the file.
Checkpoint read(Bytes bytes, const std::string& name);

// Bytes of a v0 file for this config (header, weights, the freq_cis tables, classifier).
std::uint64_t v0_file_bytes(const Config& c);
// Writes a v0 file (what llama2.c's run.c reads): the header, then rows from `rows` in llama_tensors order as
// fp32, with freq_cis (cos and sin of the RoPE angles; unused by readers) before a separate classifier.
// Throws LoadError when the config needs what v0 cannot say (rope theta, frequency factors, RMSNorm epsilon).
void write_v0(const Config& c, const RowSource& rows, const ByteSink& out, const std::string& name);

// A llama2.c tokenizer.bin as written: the longest piece's length, then (score, length, bytes) per token.
struct TokenizerFile {
    std::vector<std::string> pieces;  // [vocab] as llama2.c spells them (a space as ' ', "\n<s>\n")
    std::vector<float> scores;        // [vocab]
};
// Throws LoadError for a missing, unreadable, truncated or corrupt file.
TokenizerFile read_tokenizer_file(const std::string& path);

// A llama2.c tokenizer.bin as the SentencePiece vocabulary GGUF carries: "▁" for space, <unk> <s> </s> as
// ids 0, 1, 2 (token types 2, 3, 3), <0xXX> byte tokens (type 6), scores kept, BOS 1, EOS 2.
Vocab read_tokenizer_vocab(const std::string& path);

}  // namespace wb::llama2c
