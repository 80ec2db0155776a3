// Chat templates: how one user turn (and the system prompt on the first) becomes tokens, by the vocabulary's kind.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizers/tokenizer.h"

namespace wb {

// Llama-2 chat template for one user turn.
std::string render_chat_prompt(std::string_view system_prompt, std::string_view user_prompt, bool first_turn);

// The chat template a vocabulary takes: Llama 3's header template when it has Llama 3's header and
// end-of-turn control tokens, Llama 2's [INST] template otherwise.
enum class ChatTemplate { llama2, llama3 };
ChatTemplate chat_template(const Tokenizer& tok);

// One user turn (with the system prompt on the first turn) up to where the assistant's reply begins.
// Llama 2: BOS + the [INST] text encoded. Llama 3: BOS first, then per message
// <|start_header_id|>role<|end_header_id|> "\n\n" content <|eot_id|>, and the assistant's header last; the
// special tokens are ids, never parsed from text, and contents are trimmed as Llama 3's template does. Later
// Llama 3 turns open with <|eot_id|>, closing the reply before them.
std::vector<int> chat_turn_tokens(const Tokenizer& tok, std::string_view system_prompt, std::string_view user_prompt,
                                  bool first_turn);

}  // namespace wb
