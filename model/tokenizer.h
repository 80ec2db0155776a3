// llama2.c tokenizer.bin: byte-pair encoding with scores, and streaming UTF-8-safe decoding.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wb {

class Tokenizer {
public:
    static constexpr int kBos = 1;
    static constexpr int kEos = 2;

    // Throws LoadError when the file is missing, truncated, or holds a vocabulary of a size other than vocab_size.
    Tokenizer(const std::string& path, int vocab_size);

    // llama2.c's encode: optional BOS, dummy-prefix space, code points, byte fallback, best-score merges.
    std::vector<int> encode(std::string_view text, bool bos, bool eos = false) const;

    // The raw piece a token stands for after prev (leading space stripped after BOS, <0xXX> as its byte).
    std::string piece(int prev, int token) const;

    int vocab_size() const { return static_cast<int>(vocab_.size()); }
    const std::string& vocab(int id) const { return vocab_[static_cast<std::size_t>(id)]; }

private:
    std::vector<std::string> vocab_;
    std::vector<float> scores_;
    std::unordered_map<std::string, int> ids_;
    int max_token_length_ = 0;
};

// Turns a stream of pieces into valid UTF-8: bytes of a character split over several byte tokens are
// held until the character is complete; invalid sequences become U+FFFD; lone control bytes are dropped
// as llama2.c does.
class TextDecoder {
public:
    explicit TextDecoder(const Tokenizer& t) : tok_(t) {}
    std::string next(int prev, int token);  // text ready to print (may be empty)
    std::string finish();                   // whatever is still held, made valid

private:
    void push_byte(unsigned char b, std::string& out);
    const Tokenizer& tok_;
    std::string pending_;  // an incomplete UTF-8 sequence
    int needed_ = 0;       // its total length
};

}  // namespace wb
