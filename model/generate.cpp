#include "model/generate.h"

#include <algorithm>
#include <chrono>
#include <numeric>
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

int sample(Transformer& model, Sampler& sampler, float* logits) {
    Observed seen(model.context().observer, Stage::sample, -1, 0, {logits, 1, model.config().vocab_size});
    return sampler.sample(logits);
}

}  // namespace

GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::string_view prompt,
                          int steps, const TextSink& out) {
    return generate(model, tok, sampler, tok.encode(prompt, tok.add_bos()), steps, out);
}

GenerationResult generate(Transformer& model, const Tokenizer& tok, Sampler& sampler, std::span<const int> prompt_tokens,
                          int steps, const TextSink& out) {
    using clock = std::chrono::steady_clock;
    if (prompt_tokens.empty()) throw std::invalid_argument("the prompt is empty and this vocabulary adds no BOS token to start from");
    check_fits(prompt_tokens.size(), model.config().seq_len);
    const int P = static_cast<int>(prompt_tokens.size());
    steps = std::max(steps, P);  // the whole prompt is always processed

    GenerationResult result;
    TextDecoder decoder(tok);
    const auto t0 = clock::now();
    const int echo_from = prompt_tokens[0] == tok.bos() ? 1 : 0;  // BOS prints nothing
    for (int i = echo_from; i < P; i++) out(decoder.next(i > 0 ? prompt_tokens[i - 1] : -1, prompt_tokens[i]));
    float* logits = model.forward(prompt_tokens.data(), P, 0);
    result.timing.prefill_tokens = P;
    result.timing.prefill_seconds = seconds_since(t0);
    int next = sample(model, sampler, logits);
    result.timing.ttft_seconds = seconds_since(t0);

    const auto t1 = clock::now();
    int token = prompt_tokens.back();
    for (int pos = P;; pos++) {
        if (tok.ends_text(next)) break;
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

ParallelResult generate_parallel(Transformer& model, const Tokenizer& tok, std::span<Sampler> samplers,
                                 std::string_view prompt, int steps, std::span<const TextSink> outs) {
    return generate_parallel(model, tok, samplers, tok.encode(prompt, tok.add_bos()), steps, outs);
}

ParallelResult generate_parallel(Transformer& model, const Tokenizer& tok, std::span<Sampler> samplers,
                                 std::span<const int> prompt_tokens, int steps, std::span<const TextSink> outs) {
    using clock = std::chrono::steady_clock;
    const int B = static_cast<int>(samplers.size());
    if (prompt_tokens.empty()) throw std::invalid_argument("the prompt needs at least the BOS token");
    if (B < 1 || outs.size() != samplers.size()) throw std::invalid_argument("one text sink per sampler is needed");
    if (B > model.sequences()) {
        throw std::invalid_argument(std::to_string(B) + " continuations need a KV cache of as many sequences; it has " +
                                    std::to_string(model.sequences()));
    }
    check_fits(prompt_tokens.size(), model.positions());
    const int P = static_cast<int>(prompt_tokens.size());
    const std::size_t V = static_cast<std::size_t>(model.config().vocab_size);
    steps = std::max(steps, P);

    ParallelResult result;
    result.tokens.resize(static_cast<std::size_t>(B));
    std::vector<TextDecoder> decoders(static_cast<std::size_t>(B), TextDecoder(tok));
    const auto t0 = clock::now();
    for (int k = 0; k < B; k++) {
        for (int i = 1; i < P; i++) outs[k](decoders[k].next(prompt_tokens[i - 1], prompt_tokens[i]));
    }
    const float* logits = model.forward(prompt_tokens.data(), P, 0);
    for (int k = 1; k < B; k++) model.copy_sequence(0, k, P);
    result.timing.prefill_tokens = P;
    result.timing.prefill_seconds = seconds_since(t0);
    // Every continuation samples its first token from the prompt's logits, which sampling overwrites.
    std::vector<float> shared(logits, logits + V), row(V);
    std::vector<int> next(static_cast<std::size_t>(B)), token(static_cast<std::size_t>(B), prompt_tokens.back());
    for (int k = 0; k < B; k++) {
        std::copy(shared.begin(), shared.end(), row.begin());
        next[k] = sample(model, samplers[k], row.data());
    }
    result.timing.ttft_seconds = seconds_since(t0);

    const auto t1 = clock::now();
    std::vector<int> going(static_cast<std::size_t>(B));  // continuations still decoding, in row order
    std::iota(going.begin(), going.end(), 0);
    Batch batch;
    for (int pos = P; !going.empty(); pos++) {
        std::erase_if(going, [&](int k) { return tok.ends_text(next[k]); });
        for (const int k : going) {
            result.tokens[k].push_back(next[k]);
            outs[k](decoders[k].next(token[k], next[k]));
            token[k] = next[k];
        }
        if (pos >= steps || going.empty()) break;
        batch.clear();
        for (const int k : going) batch.add(token[k], k, pos);
        float* rows = model.forward(batch);
        for (std::size_t i = 0; i < going.size(); i++) next[going[i]] = sample(model, samplers[going[i]], rows + i * V);
        result.timing.decode_tokens += static_cast<int>(going.size());
    }
    result.timing.decode_seconds = result.timing.decode_tokens > 0 ? seconds_since(t1) : 0.0;
    for (int k = 0; k < B; k++) {
        outs[k](decoders[k].finish());
        outs[k]("\n");
    }
    return result;
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
        std::vector<int> tokens = chat_turn_tokens(tok, system_prompt, user_prompt, first);
        check_fits(tokens.size(), steps - pos);
        user_prompt.clear();
        out("Assistant: ");
        TextDecoder decoder(tok);
        float* logits = model.forward(tokens.data(), static_cast<int>(tokens.size()), pos);
        pos += static_cast<int>(tokens.size());
        int token = tokens.back();
        while (true) {
            const int next = sample(model, sampler, logits);
            if (tok.ends_turn(next)) break;
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
