#include "model/tokenizer.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/checkpoint.h"

namespace wb {

namespace {

constexpr std::size_t kByteTokenEnd = 3 + 256;  // encode's byte fallback: byte b is token b + 3

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

}  // namespace

Tokenizer::Tokenizer(const std::string& path, int vocab_size) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw LoadError(path + ": cannot open tokenizer");
    if (!std::filesystem::is_regular_file(path)) throw LoadError(path + ": cannot read tokenizer: not a regular file");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t at = 0;
    auto read = [&](void* out, std::size_t n) {
        if (bytes.size() - at < n) throw LoadError(path + ": truncated tokenizer at byte " + std::to_string(at));
        std::memcpy(out, bytes.data() + at, n);
        at += n;
    };
    std::int32_t max_len = 0;
    read(&max_len, sizeof max_len);
    if (max_len <= 0 || max_len > 4096) throw LoadError(path + ": not a tokenizer (max token length " + std::to_string(max_len) + ")");
    max_token_length_ = max_len;
    while (at < bytes.size()) {
        float score;
        std::int32_t len;
        read(&score, sizeof score);
        read(&len, sizeof len);
        if (len < 0 || len > max_len) {
            throw LoadError(path + ": corrupt tokenizer: token " + std::to_string(vocab_.size()) + " has length " + std::to_string(len));
        }
        std::string s(static_cast<std::size_t>(len), '\0');
        read(s.data(), s.size());
        vocab_.push_back(std::move(s));
        scores_.push_back(score);
    }
    if (vocab_.size() < kByteTokenEnd) {
        throw LoadError(path + ": not a llama2.c tokenizer: " + std::to_string(vocab_.size()) +
                        " tokens, fewer than the 259 special and byte-fallback tokens");
    }
    if (static_cast<int>(vocab_.size()) != vocab_size) {
        throw LoadError(path + ": tokenizer does not match the model: it has " + std::to_string(vocab_.size()) +
                        " tokens, the model's vocabulary has " + std::to_string(vocab_size));
    }
    for (std::size_t i = 0; i < vocab_.size(); i++) ids_.emplace(vocab_[i], static_cast<int>(i));
}

std::vector<int> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
    auto lookup = [&](const std::string& s) {
        const auto it = ids_.find(s);
        return it == ids_.end() ? -1 : it->second;
    };
    std::vector<int> tokens;
    if (bos) tokens.push_back(kBos);
    if (!text.empty()) {
        const int space = lookup(" ");
        if (space >= 0) tokens.push_back(space);
    }
    // One code point at a time: a lead byte and its continuation bytes, at most four.
    for (std::size_t i = 0; i < text.size();) {
        std::size_t len = 1;
        while (i + len < text.size() && len < 4 && (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80) len++;
        const std::string cp(text.substr(i, len));
        if (const int id = lookup(cp); id >= 0) {
            tokens.push_back(id);
        } else {
            for (const char ch : cp) tokens.push_back(static_cast<unsigned char>(ch) + 3);
        }
        i += len;
    }
    // Merge the adjacent pair with the best score until none merges.
    std::string merged;
    while (true) {
        float best_score = -1e10f;
        int best_id = -1;
        std::size_t best_at = 0;
        for (std::size_t i = 0; i + 1 < tokens.size(); i++) {
            merged = vocab(tokens[i]);
            merged += vocab(tokens[i + 1]);
            const int id = lookup(merged);
            if (id >= 0 && scores_[static_cast<std::size_t>(id)] > best_score) {
                best_score = scores_[static_cast<std::size_t>(id)];
                best_id = id;
                best_at = i;
            }
        }
        if (best_id < 0) break;
        tokens[best_at] = best_id;
        tokens.erase(tokens.begin() + static_cast<long>(best_at) + 1);
    }
    if (eos) tokens.push_back(kEos);
    return tokens;
}

std::string Tokenizer::piece(int prev, int token) const {
    std::string_view p = vocab(token);
    if (prev == kBos && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    unsigned int byte = 0;
    char tail = 0;
    if (p.size() == 6 && std::sscanf(std::string(p).c_str(), "<0x%02X>%c", &byte, &tail) == 1) {
        return std::string(1, static_cast<char>(byte));
    }
    return std::string(p);
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
    const std::string p = tok_.piece(prev, token);
    std::string out;
    if (p.size() == 1) {
        push_byte(static_cast<unsigned char>(p[0]), out);
        return out;
    }
    out = finish();
    out += p;
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
