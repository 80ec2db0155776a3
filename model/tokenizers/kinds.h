// The two tokenizer kinds make_tokenizer chooses between (model/tokenizers/spm.cpp, model/tokenizers/bpe.cpp).
#pragma once

#include <memory>
#include <string>

#include "model/tokenizers/tokenizer.h"

namespace wb {

// tokenizer.ggml.model "llama": llama2.c's merge-by-score encoder over the vocabulary's pieces.
std::unique_ptr<Tokenizer> make_score_merge_tokenizer(const Vocab& vocab, const std::string& source);

// tokenizer.ggml.model "gpt2", pre "llama-bpe": Llama 3's byte-level BPE, merged by rank.
std::unique_ptr<Tokenizer> make_byte_level_bpe(const Vocab& vocab, const std::string& source);

}  // namespace wb
