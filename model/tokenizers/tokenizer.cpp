// The tokenizer interface's shared part: token data, stops, the factory, and the UTF-8-safe decoder.
#include "model/tokenizers/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

#include "model/formats/gguf.h"
#include "model/load_error.h"
#include "model/tokenizers/kinds.h"

namespace wb {

namespace {

// Whether b may follow the bytes held so far: a continuation byte, in the narrower range the second
// byte after E0, ED, F0 or F4 needs (no overlong forms, surrogates or code points past U+10FFFF).
bool continues(const std::string& held, unsigned char b) {
    if ((b & 0xC0) != 0x80) return false;
    if (held.size() != 1) return true;
    switch (static_cast<unsigned char>(held[0])) {
        case 0xE0: return b >= 0xA0;
        case 0xED: return b <= 0x9F;
        case 0xF0: return b >= 0x90;
        case 0xF4: return b <= 0x8F;
        default: return true;
    }
}

// The vocabulary kinds make_tokenizer knows: tokenizer.ggml.model, the pre-tokenizer it needs (empty: any).
struct Kind {
    const char* model;
    const char* pre;
    std::unique_ptr<Tokenizer> (*make)(const Vocab&, const std::string&);
};
constexpr Kind kKinds[] = {
    {"llama", "", make_score_merge_tokenizer},
    {"gpt2", "llama-bpe", make_byte_level_bpe},
};

}  // namespace

std::string Tokenizer::piece(int prev, int token) const {
    if (is_control(token)) return {};
    std::string_view p = token_bytes(token);
    if (strip_space_after_bos_ && prev == bos_ && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    return std::string(p);
}

int Tokenizer::control_token(std::string_view name) const {
    const auto it = control_ids_.find(std::string(name));
    return it == control_ids_.end() ? -1 : it->second;
}

bool Tokenizer::ends_text(int token) const {
    return std::find(text_stops_.begin(), text_stops_.end(), token) != text_stops_.end();
}

bool Tokenizer::ends_turn(int token) const {
    return std::find(turn_stops_.begin(), turn_stops_.end(), token) != turn_stops_.end();
}

void Tokenizer::set_tokens(std::vector<std::string> bytes, std::vector<bool> control) {
    bytes_ = std::move(bytes);
    control_ = std::move(control);
    for (std::size_t i = 0; i < bytes_.size(); i++) {
        if (control_[i]) control_ids_.emplace(bytes_[i], static_cast<int>(i));
    }
}

void Tokenizer::set_special(const Vocab& v, const std::string& source) {
    const std::pair<const char*, int> ids[] = {{"bos", v.bos}, {"eos", v.eos}, {"eot", v.eot}};
    for (const auto& [name, id] : ids) {
        if (id < -1 || id >= vocab_size()) {
            throw LoadError(source + ": " + name + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(vocab_size()));
        }
    }
    bos_ = v.bos;
    eos_ = v.eos;
    eot_ = v.eot;
    add_bos_ = v.add_bos && v.bos >= 0;
    if (v.eos >= 0) text_stops_ = turn_stops_ = {v.eos};
    if (v.eot >= 0) turn_stops_.push_back(v.eot);
}

std::unique_ptr<Tokenizer> make_tokenizer(const Vocab& vocab, const std::string& source) {
    for (const Kind& k : kKinds) {
        if (vocab.model != k.model) continue;
        if (*k.pre != '\0' && vocab.pre != k.pre) {
            throw LoadError(source + ": " + vocab.model + " tokenizer with pre-tokenizer '" + vocab.pre +
                            "' is not supported (supported: " + k.pre + ")");
        }
        return k.make(vocab, source);
    }
    std::string known;
    for (const Kind& k : kKinds) known += std::string(known.empty() ? "" : ", ") + k.model;
    throw LoadError(source + ": tokenizer model '" + vocab.model + "' is not supported (supported: " + known + ")");
}

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path, std::optional<int> vocab_size) {
    char magic[4] = {};
    std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
    if (std::memcmp(magic, "GGUF", sizeof magic) != 0) return load_llama2c_tokenizer(path, vocab_size);
    std::unique_ptr<Tokenizer> tok = make_tokenizer(gguf::read_vocab(path), path);
    if (vocab_size && tok->vocab_size() != *vocab_size) {
        throw LoadError(path + ": tokenizer does not match the model: it has " + std::to_string(tok->vocab_size()) +
                        " tokens, the model's vocabulary has " + std::to_string(*vocab_size));
    }
    return tok;
}

std::unique_ptr<Tokenizer> model_tokenizer(const Vocab* carried, const std::string& model, int vocab_size,
                                           const std::optional<std::string>& file, const std::string& default_file) {
    if (carried == nullptr) return open_tokenizer(file.value_or(default_file), vocab_size);
    std::unique_ptr<Tokenizer> tok = make_tokenizer(*carried, model);
    if (file && !same_tokens(*tok, *open_tokenizer(*file, tok->vocab_size()))) {
        throw LoadError(*file + ": tokenizer does not match the model: its tokens differ from the vocabulary " + model +
                        " carries");
    }
    return tok;
}

bool same_tokens(const Tokenizer& a, const Tokenizer& b) {
    if (a.vocab_size() != b.vocab_size()) return false;
    for (int id = 0; id < a.vocab_size(); id++) {
        if (!a.is_control(id) && !b.is_control(id) && a.token_bytes(id) != b.token_bytes(id)) return false;
    }
    return true;
}

std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        lo = lead == 0xE0 ? 0xA0 : lo;
        hi = lead == 0xED ? 0x9F : hi;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        lo = lead == 0xF0 ? 0x90 : lo;
        hi = lead == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (i + len > s.size() || byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t k = 2; k < len; k++) {
        if ((byte(k) & 0xC0) != 0x80) return 0;
    }
    return len;
}

void TextDecoder::push_byte(unsigned char b, std::string& out) {
    static const std::string kReplacement = "\xEF\xBF\xBD";
    if (needed_ > 0) {
        if (continues(pending_, b)) {
            pending_ += static_cast<char>(b);
            if (static_cast<int>(pending_.size()) == needed_) {
                out += pending_;
                pending_.clear();
                needed_ = 0;
            }
            return;
        }
        out += kReplacement;  // the held character never completed
        pending_.clear();
        needed_ = 0;
    }
    if (b < 0x80) {
        if (std::isprint(b) || std::isspace(b)) out += static_cast<char>(b);
    } else if (b >= 0xC2 && b <= 0xF4) {
        needed_ = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        pending_ = static_cast<char>(b);
    } else {
        out += kReplacement;
    }
}

std::string TextDecoder::next(int prev, int token) {
    std::string out;
    for (const char c : tok_.piece(prev, token)) push_byte(static_cast<unsigned char>(c), out);
    return out;
}

std::string TextDecoder::finish() {
    std::string out;
    if (needed_ > 0) out = "\xEF\xBF\xBD";
    pending_.clear();
    needed_ = 0;
    return out;
}

}  // namespace wb
