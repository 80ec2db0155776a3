#include "model/generate.h"

#include <chrono>
#include <stdexcept>

#include "model/observer.h"

namespace wb {

namespace {

void check_fits(std::size_t prompt_tokens, int context) {
    if (static_cast<int>(prompt_tokens) > context) {
        throw std::length_error("prompt is " + std::to_string(prompt_tokens) + " tokens, longer than the context of " +
                                std::to_string(context));
    }
}

std::vector<int> encode_prompt(const Tokenizer& tok, std::string_view text, int context) {
    std::vector<int> tokens = tok.encode(text, true);
    check_fits(tokens.size(), context);
    return tokens;
}

int sample(Transformer& model, Sampler& sampler, float* logits) {
    Observed seen(model.context().observer, Stage::sample, -1, 0, {logits, 1, model.config().vocab_size});
    return sampler.sample(logits);
}

}  // namespace

GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string_view prompt,
                          int steps, const TextSink& out) {
    return generate(model, tok, sampler, encode_prompt(tok, prompt, model.config().seq_len), steps, out);
}

GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::span<const int> prompt_tokens,
                          int steps, const TextSink& out) {
    using clock = std::chrono::steady_clock;
    if (prompt_tokens.empty()) throw std::invalid_argument("the prompt needs at least the BOS token");
    check_fits(prompt_tokens.size(), model.config().seq_len);
    const int P = static_cast<int>(prompt_tokens.size());
    steps = std::max(steps, P);  // the whole prompt is always processed

    GenerationResult result;
    TextDecoder decoder(tok);
    const auto t0 = clock::now();
    for (int i = 1; i < P; i++) out(decoder.next(prompt_tokens[i - 1], prompt_tokens[i]));
    float* logits = model.forward(prompt_tokens.data(), P, 0);
    result.timing.prefill_tokens = P;
    result.timing.prefill_seconds = seconds_since(t0);
    int next = sample(model, sampler, logits);
    result.timing.ttft_seconds = seconds_since(t0);

    const auto t1 = clock::now();
    int token = prompt_tokens.back();
    for (int pos = P;; pos++) {
        if (next == Tokenizer::kBos) break;
        result.tokens.push_back(next);
        out(decoder.next(token, next));
        token = next;
        if (pos >= steps) break;
        logits = model.forward(&token, 1, pos);
        next = sample(model, sampler, logits);
        result.timing.decode_tokens++;
    }
    result.timing.decode_seconds = result.timing.decode_tokens > 0 ? seconds_since(t1) : 0.0;
    out(decoder.finish());
    out("\n");
    return result;
}

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

void chat(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string user_prompt,
          std::string system_prompt, int steps, std::istream& in, const TextSink& out) {
    auto ask = [&](const char* question, std::string& answer) {
        out(question);
        return static_cast<bool>(std::getline(in, answer));
    };
    if (system_prompt.empty() && user_prompt.empty() && !ask("Enter system prompt (optional): ", system_prompt)) return;
    int pos = 0;
    for (bool first = true; pos < steps; first = false) {
        if (!first || user_prompt.empty()) {
            if (!ask("User: ", user_prompt)) break;
        }
        std::vector<int> tokens = encode_prompt(tok, render_chat_prompt(system_prompt, user_prompt, first), steps - pos);
        user_prompt.clear();
        out("Assistant: ");
        TextDecoder decoder(tok);
        float* logits = model.forward(tokens.data(), static_cast<int>(tokens.size()), pos);
        pos += static_cast<int>(tokens.size());
        int token = tokens.back();
        while (true) {
            const int next = sample(model, sampler, logits);
            if (next == Tokenizer::kEos || next == Tokenizer::kBos) break;
            out(decoder.next(token, next));
            token = next;
            if (pos >= steps) break;
            logits = model.forward(&token, 1, pos++);
        }
        out(decoder.finish());
        out("\n");
    }
}

}  // namespace wb
