// Llama 3's byte-level BPE: text split by the Llama 3 pre-tokenizer pattern (PCRE2, UTF + UCP), each piece's
// bytes spelt as GPT-2's printable stand-in characters, a piece that is a token taken whole, else its bytes
// merged pair by pair in the order tokenizer.ggml.merges ranks them.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <queue>
#include <stdexcept>

#include "model/load_error.h"
#include "model/tokenizers/kinds.h"

namespace wb {

namespace {

// Contractions, letters with one optional leading non-letter, numbers of 1-3 digits, punctuation runs with an
// optional leading space and trailing newlines, newline runs, and whitespace that leaves its last space to
// the word that follows.
constexpr char kLlama3Split[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::uint32_t kStandInEnd = 256 + 68;  // the stand-ins are U+0021..U+00FF and U+0100..U+0143

// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the 68 others (controls,
// space, DEL, NBSP, soft hyphen) for U+0100 onwards in byte order.
std::array<std::uint32_t, 256> byte_stand_ins() {
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    std::array<std::uint32_t, 256> table{};
    std::uint32_t next = 256;
    for (int b = 0; b < 256; b++) table[static_cast<std::size_t>(b)] = printable(b) ? static_cast<std::uint32_t>(b) : next++;
    return table;
}

void append_utf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | cp >> 18);
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// The pre-tokenizer pattern, compiled once (JIT when the platform has it); matching is thread-safe.
class SplitPattern {
public:
    SplitPattern() {
        int error = 0;
        PCRE2_SIZE offset = 0;
        code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kLlama3Split), PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr));
        if (!code_) throw std::logic_error("the Llama 3 split pattern does not compile: PCRE2 error " + std::to_string(error));
        pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);  // without JIT, the interpreter matches the same
    }

    // Calls piece(begin, end) for consecutive pieces covering text: the pattern's matches and, between them,
    // whatever no match covers (bytes that are not UTF-8).
    template <class Piece>
    void split(std::string_view text, Piece&& piece) const {
        const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
            pcre2_match_data_create_from_pattern(code_.get(), nullptr), &pcre2_match_data_free);
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        std::size_t at = 0;
        while (at < text.size()) {
            const int rc = pcre2_match(code_.get(), subject, text.size(), at, PCRE2_NOTEMPTY, match.get(), nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR message[120];
                pcre2_get_error_message(rc, message, sizeof message);
                throw std::runtime_error("Llama 3 pre-tokenizer: " + std::string(reinterpret_cast<const char*>(message)));
            }
            const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
            if (span[0] > at) piece(at, span[0]);
            piece(span[0], span[1]);
            at = span[1];
        }
        if (at < text.size()) piece(at, text.size());
    }

private:
    std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code_{nullptr, &pcre2_code_free};
};

// Lets the token map be searched with string_views (no copy per lookup).
struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class ByteLevelBpe final : public Tokenizer {
public:
    ByteLevelBpe(const Vocab& v, const std::string& source) {
        const std::size_t n = v.tokens.size();
        if (n == 0) throw LoadError(source + ": the vocabulary has no tokens");
        if (!v.token_types.empty() && v.token_types.size() != n) {
            throw LoadError(source + ": " + std::to_string(v.token_types.size()) + " token types for " + std::to_string(n) + " tokens");
        }
        const std::array<std::uint32_t, 256> stand_in = byte_stand_ins();
        std::array<int, kStandInEnd> byte_of;
        byte_of.fill(-1);
        for (int b = 0; b < 256; b++) byte_of[stand_in[static_cast<std::size_t>(b)]] = b;

        std::vector<std::string> bytes(n);
        std::vector<bool> control(n, false);
        ids_.reserve(n);
        for (std::size_t i = 0; i < n; i++) {
            control[i] = !v.token_types.empty() && v.token_types[i] == 3;
            bytes[i] = control[i] ? v.tokens[i] : spelt_bytes(v.tokens[i], byte_of);
            if (!control[i]) ids_.emplace(v.tokens[i], static_cast<int>(i));
        }
        for (int b = 0; b < 256; b++) {
            std::string& s = stand_in_[static_cast<std::size_t>(b)];
            append_utf8(stand_in[static_cast<std::size_t>(b)], s);
            const auto it = ids_.find(s);
            if (it == ids_.end()) {
                throw LoadError(source + ": byte-level vocabulary has no token for byte " + std::to_string(b));
            }
            byte_ids_[static_cast<std::size_t>(b)] = it->second;
        }
        merges_.reserve(v.merges.size());
        std::string joined;
        for (std::size_t rank = 0; rank < v.merges.size(); rank++) {
            const std::string_view m = v.merges[rank];
            const std::size_t space = m.find(' ', 1);
            if (space == std::string::npos) {
                throw LoadError(source + ": merge " + std::to_string(rank) + " ('" + std::string(m) + "') is not two tokens");
            }
            joined.assign(m.substr(0, space)).append(m.substr(space + 1));
            const int left = id_of(m.substr(0, space)), right = id_of(m.substr(space + 1)), merged = id_of(joined);
            if (left < 0 || right < 0 || merged < 0) continue;  // a merge whose tokens do not exist never applies
            merges_.emplace(pair_key(left, right), Merge{static_cast<int>(rank), merged});
        }
        set_tokens(std::move(bytes), control);
        set_special(v, source);
    }

    std::vector<int> encode(std::string_view text, bool bos, bool eos) const override {
        std::vector<int> tokens;
        if (bos && bos_ >= 0) tokens.push_back(bos_);
        split_.split(text, [&](std::size_t begin, std::size_t end) { encode_piece(text.substr(begin, end - begin), tokens); });
        if (eos && eos_ >= 0) tokens.push_back(eos_);
        return tokens;
    }

private:
    struct Merge {
        int rank;
        int merged;  // the token the pair becomes
    };

    static std::uint64_t pair_key(int left, int right) {
        return static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32 | static_cast<std::uint32_t>(right);
    }

    int id_of(std::string_view token) const {
        const auto it = ids_.find(token);
        return it == ids_.end() ? -1 : it->second;
    }

    // The bytes a token's characters stand for; characters outside the table stand for themselves.
    static std::string spelt_bytes(std::string_view token, const std::array<int, kStandInEnd>& byte_of) {
        std::string out;
        for (std::size_t i = 0; i < token.size();) {
            std::uint32_t cp = static_cast<unsigned char>(token[i]);
            std::size_t len = 1;
            if ((cp & 0xE0) == 0xC0 && i + 1 < token.size() && (static_cast<unsigned char>(token[i + 1]) & 0xC0) == 0x80) {
                cp = (cp & 0x1F) << 6 | (static_cast<unsigned char>(token[i + 1]) & 0x3F);
                len = 2;
            } else if (cp >= 0x80) {
                cp = kStandInEnd;  // stand-ins are one- or two-byte characters: this byte is copied as it is
            }
            if (cp < kStandInEnd && byte_of[cp] >= 0) out += static_cast<char>(byte_of[cp]);
            else out.append(token.substr(i, len));
            i += len;
        }
        return out;
    }

    // One pre-tokenizer piece: the token it spells, else its bytes merged lowest rank first (leftmost on ties).
    void encode_piece(std::string_view piece, std::vector<int>& out) const {
        std::string spelt;
        for (const char c : piece) spelt += stand_in_[static_cast<unsigned char>(c)];
        if (const int whole = id_of(spelt); whole >= 0) {
            out.push_back(whole);
            return;
        }
        const int n = static_cast<int>(piece.size());
        std::vector<int> id(static_cast<std::size_t>(n)), next(static_cast<std::size_t>(n)), prev(static_cast<std::size_t>(n));
        for (int i = 0; i < n; i++) {
            id[i] = byte_ids_[static_cast<unsigned char>(piece[static_cast<std::size_t>(i)])];
            next[i] = i + 1;
            prev[i] = i - 1;
        }
        struct Candidate {
            int rank, left, right, left_id, right_id, merged;
            bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
        };
        std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
        auto consider = [&](int left, int right) {
            if (left < 0 || right >= n) return;
            const auto it = merges_.find(pair_key(id[left], id[right]));
            if (it != merges_.end()) queue.push({it->second.rank, left, right, id[left], id[right], it->second.merged});
        };
        for (int i = 0; i + 1 < n; i++) consider(i, i + 1);
        while (!queue.empty()) {
            const Candidate c = queue.top();
            queue.pop();
            if (id[c.left] != c.left_id || id[c.right] != c.right_id || next[c.left] != c.right) continue;  // stale
            id[c.left] = c.merged;
            id[c.right] = -1;
            next[c.left] = next[c.right];
            if (next[c.left] < n) prev[next[c.left]] = c.left;
            consider(prev[c.left], c.left);
            consider(c.left, next[c.left]);
        }
        for (int i = 0; i < n; i = next[i]) out.push_back(id[i]);
    }

    std::unordered_map<std::string, int, TextHash, std::equal_to<>> ids_;  // spelt token -> id, control tokens left out
    std::unordered_map<std::uint64_t, Merge> merges_;    // (left id, right id) -> rank and result
    std::array<int, 256> byte_ids_{};                    // the token of each single byte
    std::array<std::string, 256> stand_in_;              // each byte's stand-in character, UTF-8
    SplitPattern split_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_level_bpe(const Vocab& vocab, const std::string& source) {
    return std::make_unique<ByteLevelBpe>(vocab, source);
}

}  // namespace wb
