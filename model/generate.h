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
#include "model/tokenizers/chat_template.h"
#include "model/tokenizers/tokenizer.h"
#include "model/transformer.h"

namespace wb {

using TextSink = std::function<void(std::string_view)>;

struct GenerationResult {
    GenerationTiming timing;
    std::vector<int> tokens;  // the sampled tokens, in order
};

// Processes the prompt tokens (BOS first) in one forward call, then samples until `steps` positions
// (prompt included) are used or a token that ends text is sampled (BOS for llama2.c's tokenizers, as run.c;
// EOS for a model file's vocabulary). Prompt and generated text go to out.
// Throws std::length_error when the prompt does not fit in the context.
GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::span<const int> prompt,
                          int steps, const TextSink& out);

// The same for text: BOS (when the vocabulary adds one) + its encoding.
GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string_view prompt,
                          int steps, const TextSink& out);

struct ParallelResult {
    GenerationTiming timing;  // the prompt once; decode_tokens and decode tok/s over every continuation
    std::vector<std::vector<int>> tokens;  // each continuation's sampled tokens
};

// One continuation of the prompt per sampler, decoded together: the prompt is processed once (sequence 0) and
// its cache copied to sequences 1 .. B-1, then every step is one batch of a row per continuation still going.
// Continuation k samples with samplers[k] and writes its text (prompt included) to outs[k]; each ends as
// generate() would end it alone. Throws std::invalid_argument when the model's cache has fewer sequences.
ParallelResult generate_parallel(Transformer& model, const Tokenizer& tok, std::span<Sampler> samplers,
                                 std::span<const int> prompt, int steps, std::span<const TextSink> outs);
ParallelResult generate_parallel(Transformer& model, const Tokenizer& tok, std::span<Sampler> samplers,
                                 std::string_view prompt, int steps, std::span<const TextSink> outs);

// Interactive chat: user turns from the arguments first, then from `in` (prompted on `out`), until
// `steps` positions are used or the input ends. A reply ends at the tokenizer's end of turn.
void chat(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string user_prompt,
          std::string system_prompt, int steps, std::istream& in, const TextSink& out);

}  // namespace wb
