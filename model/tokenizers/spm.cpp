// llama2.c's encoder (merge the adjacent pair whose union has the best score) over a tokenizer.bin or a
// GGUF "llama" (SentencePiece-style) vocabulary.
#include <cstdint>
#include <cstdio>

#include "model/formats/llama2c.h"
#include "model/load_error.h"
#include "model/tokenizers/kinds.h"

namespace wb {

namespace {

constexpr int kLlama2cBos = 1, kLlama2cEos = 2;
constexpr std::size_t kByteTokenEnd = 3 + 256;  // llama2.c's byte fallback: byte b is token b + 3
const std::string kSentencePieceSpace = "\xE2\x96\x81";  // U+2581, how SentencePiece vocabularies spell a space

// The byte a "<0xXX>" token stands for, read as llama2.c reads it.
std::optional<unsigned char> byte_token(std::string_view text) {
    unsigned int byte = 0;
    char tail = 0;
    if (text.size() == 6 && std::sscanf(std::string(text).c_str(), "<0x%02X>%c", &byte, &tail) == 1) {
        return static_cast<unsigned char>(byte);
    }
    return std::nullopt;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    for (std::size_t at = 0;;) {
        const std::size_t hit = s.find(from, at);
        out.append(s.substr(at, hit == std::string_view::npos ? hit : hit - at));
        if (hit == std::string_view::npos) return out;
        out.append(to);
        at = hit + from.size();
    }
}

// The checks only the tokenizer makes: room for the byte fallback, and the model's vocabulary size.
llama2c::TokenizerFile read_llama2c(const std::string& path, std::optional<int> vocab_size) {
    llama2c::TokenizerFile f = llama2c::read_tokenizer_file(path);
    if (f.pieces.size() < kByteTokenEnd) {
        throw LoadError(path + ": not a llama2.c tokenizer: " + std::to_string(f.pieces.size()) +
                        " tokens, fewer than the 259 special and byte-fallback tokens");
    }
    if (vocab_size && static_cast<int>(f.pieces.size()) != *vocab_size) {
        throw LoadError(path + ": tokenizer does not match the model: it has " + std::to_string(f.pieces.size()) +
                        " tokens, the model's vocabulary has " + std::to_string(*vocab_size));
    }
    return f;
}

class ScoreMergeTokenizer final : public Tokenizer {
public:
    // pieces: [vocab] as merges spell them (a space as ' '); control: the tokens text never produces.
    ScoreMergeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, const std::vector<bool>& control,
                        const std::array<int, 256>& byte_ids)
        : pieces_(std::move(pieces)), scores_(std::move(scores)), byte_ids_(byte_ids) {
        std::vector<std::string> bytes(pieces_.size());
        for (std::size_t i = 0; i < pieces_.size(); i++) {
            const std::optional<unsigned char> b = byte_token(pieces_[i]);
            bytes[i] = b ? std::string(1, static_cast<char>(*b)) : pieces_[i];
            if (!control[i]) ids_.emplace(pieces_[i], static_cast<int>(i));
        }
        set_tokens(std::move(bytes), control);
        strip_space_after_bos_ = true;
    }

    // A tokenizer.bin: every token may come from text, BOS 1 and EOS 2, generation stops as run.c's does.
    static std::unique_ptr<Tokenizer> from_llama2c(llama2c::TokenizerFile f) {
        std::array<int, 256> byte_ids;
        for (int b = 0; b < 256; b++) byte_ids[static_cast<std::size_t>(b)] = b + 3;
        const std::vector<bool> control(f.pieces.size(), false);
        auto t = std::make_unique<ScoreMergeTokenizer>(std::move(f.pieces), std::move(f.scores), control, byte_ids);
        t->bos_ = kLlama2cBos;
        t->eos_ = kLlama2cEos;
        t->text_stops_ = {kLlama2cBos};
        t->turn_stops_ = {kLlama2cEos, kLlama2cBos};
        return t;
    }

    // A GGUF "llama" vocabulary: spaces spelt U+2581, <0xXX> byte tokens (else the unknown token), its specials.
    static std::unique_ptr<Tokenizer> from_vocab(const Vocab& v, const std::string& source) {
        const std::size_t n = v.tokens.size();
        if (n == 0) throw LoadError(source + ": the vocabulary has no tokens");
        if (v.scores.size() != n) {
            throw LoadError(source + ": " + std::to_string(v.scores.size()) + " token scores for " + std::to_string(n) + " tokens");
        }
        if (!v.token_types.empty() && v.token_types.size() != n) {
            throw LoadError(source + ": " + std::to_string(v.token_types.size()) + " token types for " + std::to_string(n) + " tokens");
        }
        std::vector<std::string> pieces(n);
        std::vector<bool> control(n, false);
        std::unordered_map<std::string_view, int> ids;
        int unknown = -1;
        for (std::size_t i = 0; i < n; i++) {
            pieces[i] = replace_all(v.tokens[i], kSentencePieceSpace, " ");
            const int type = v.token_types.empty() ? 1 : v.token_types[i];
            control[i] = type == 3;
            if (type == 2 && unknown < 0) unknown = static_cast<int>(i);
            ids.emplace(v.tokens[i], static_cast<int>(i));
        }
        std::array<int, 256> byte_ids;
        char name[8];
        for (int b = 0; b < 256; b++) {
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            const auto it = ids.find(name);
            byte_ids[static_cast<std::size_t>(b)] = it != ids.end() ? it->second : unknown;
            if (byte_ids[static_cast<std::size_t>(b)] < 0) {
                throw LoadError(source + ": the vocabulary has neither the byte token " + name + " nor an unknown token");
            }
        }
        auto t = std::make_unique<ScoreMergeTokenizer>(std::move(pieces), v.scores, control, byte_ids);
        t->set_special(v, source);
        return t;
    }

    std::vector<int> encode(std::string_view text, bool bos, bool eos) const override {
        auto lookup = [&](const std::string& s) {
            const auto it = ids_.find(s);
            return it == ids_.end() ? -1 : it->second;
        };
        std::vector<int> tokens;
        if (bos && bos_ >= 0) tokens.push_back(bos_);
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
                for (const char ch : cp) tokens.push_back(byte_ids_[static_cast<unsigned char>(ch)]);
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
                merged = pieces_[static_cast<std::size_t>(tokens[i])];
                merged += pieces_[static_cast<std::size_t>(tokens[i + 1])];
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
        if (eos && eos_ >= 0) tokens.push_back(eos_);
        return tokens;
    }

private:
    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    std::unordered_map<std::string, int> ids_;  // piece -> id, control tokens left out
    std::array<int, 256> byte_ids_;             // byte fallback: the token of each byte
};

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, std::optional<int> vocab_size) {
    return ScoreMergeTokenizer::from_llama2c(read_llama2c(path, vocab_size));
}

std::unique_ptr<Tokenizer> make_score_merge_tokenizer(const Vocab& v, const std::string& source) {
    return ScoreMergeTokenizer::from_vocab(v, source);
}

}  // namespace wb
