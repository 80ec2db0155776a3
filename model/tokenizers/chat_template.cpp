#include "model/tokenizers/chat_template.h"

namespace wb {

namespace {

std::string_view trimmed(std::string_view s) {
    constexpr std::string_view kSpace = " \t\n\r\f\v";
    const std::size_t begin = s.find_first_not_of(kSpace);
    if (begin == std::string_view::npos) return {};
    return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Llama 3's message: <|start_header_id|>role<|end_header_id|> then "\n\n" + content, and, when closed, <|eot_id|>.
void append_message(const Tokenizer& tok, std::string_view role, std::string_view content, bool closed,
                    std::vector<int>& out) {
    out.push_back(tok.control_token("<|start_header_id|>"));
    for (const int id : tok.encode(role, false)) out.push_back(id);
    out.push_back(tok.control_token("<|end_header_id|>"));
    for (const int id : tok.encode("\n\n" + std::string(trimmed(content)), false)) out.push_back(id);
    if (closed) out.push_back(tok.control_token("<|eot_id|>"));
}

}  // namespace

std::string render_chat_prompt(std::string_view system_prompt, std::string_view user_prompt, bool first_turn) {
    std::string s = "[INST] ";
    if (first_turn && !system_prompt.empty()) {
        s += "<<SYS>>\n";
        s += system_prompt;
        s += "\n<</SYS>>\n\n";
    }
    s += user_prompt;
    s += " [/INST]";
    return s;
}

ChatTemplate chat_template(const Tokenizer& tok) {
    for (const char* name : {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
        if (tok.control_token(name) < 0) return ChatTemplate::llama2;
    }
    return ChatTemplate::llama3;
}

std::vector<int> chat_turn_tokens(const Tokenizer& tok, std::string_view system_prompt, std::string_view user_prompt,
                                  bool first_turn) {
    if (chat_template(tok) == ChatTemplate::llama2) return tok.encode(render_chat_prompt(system_prompt, user_prompt, first_turn), true);
    std::vector<int> tokens;
    if (first_turn && tok.bos() >= 0) tokens.push_back(tok.bos());
    if (!first_turn) tokens.push_back(tok.control_token("<|eot_id|>"));
    if (first_turn && !system_prompt.empty()) append_message(tok, "system", system_prompt, true, tokens);
    append_message(tok, "user", user_prompt, true, tokens);
    append_message(tok, "assistant", "", false, tokens);
    return tokens;
}

}  // namespace wb
