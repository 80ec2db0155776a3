// The generation loop (llama2.c's semantics, with the prompt prefilled in one batched call) and chat.
#pragma once

#include <functional>
#include <istream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/timing.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "model/transformer.h"

namespace wb {

using TextSink = std::function<void(std::string_view)>;

struct GenerationResult {
    GenerationTiming timing;
    std::vector<int> tokens;  // the sampled tokens, in order
};

// Processes the prompt tokens (BOS first) in one forward call, then samples until `steps` positions
// (prompt included) are used or BOS is sampled. Prompt and generated text go to out.
// Throws std::length_error when the prompt does not fit in the context.
GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::span<const int> prompt,
                          int steps, const TextSink& out);

// The same for text: BOS + its encoding.
GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string_view prompt,
                          int steps, const TextSink& out);

// Llama-2 chat template for one user turn.
std::string render_chat_prompt(std::string_view system_prompt, std::string_view user_prompt, bool first_turn);

// Interactive chat: user turns from the arguments first, then from `in` (prompted on `out`), until
// `steps` positions are used or the input ends.
void chat(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string user_prompt,
          std::string system_prompt, int steps, std::istream& in, const TextSink& out);

}  // namespace wb
