// Tokenizers behind one interface: llama2.c's score-merge SentencePiece-style encoder (from a tokenizer.bin
// or a GGUF "llama" vocabulary) and Llama 3's byte-level BPE (GGUF "gpt2" with pre "llama-bpe"), plus the
// streaming decoder that keeps generated text valid UTF-8.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizers/vocab.h"

namespace wb {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // The ids of text, with BOS first when bos is set (and the vocabulary has one), EOS last when eos is.
    // Control tokens are never produced from the text itself.
    virtual std::vector<int> encode(std::string_view text, bool bos, bool eos = false) const = 0;

    // The bytes a token stands for when it follows prev in generated text: nothing for control tokens;
    // SentencePiece vocabularies drop the leading space of the first piece after BOS.
    std::string piece(int prev, int token) const;
    // The bytes a token stands for (control tokens: their name as stored).
    const std::string& token_bytes(int id) const { return bytes_[static_cast<std::size_t>(id)]; }

    int vocab_size() const { return static_cast<int>(bytes_.size()); }
    bool is_control(int id) const { return control_[static_cast<std::size_t>(id)]; }
    int bos() const { return bos_; }  // -1 when the vocabulary has none
    int eos() const { return eos_; }
    int eot() const { return eot_; }  // end of turn (Llama 3's <|eot_id|>), -1 when none
    bool add_bos() const { return add_bos_; }
    // The id of the control token with this name (e.g. "<|eot_id|>"), -1 when there is none.
    int control_token(std::string_view name) const;

    // Where generation stops: llama2.c's tokenizers at BOS (as run.c), vocabularies from a model file at EOS.
    bool ends_text(int token) const;
    // Where a chat reply stops: llama2.c's at EOS or BOS, vocabularies from a model file at EOS or end of turn.
    bool ends_turn(int token) const;

protected:
    // Loading: the tokens' bytes (control tokens: their names) and which are control tokens.
    void set_tokens(std::vector<std::string> bytes, std::vector<bool> control);
    // Loading from a model file's vocabulary: its BOS/EOS/EOT (checked against the size) and stops.
    void set_special(const Vocab& v, const std::string& source);
    int bos_ = -1, eos_ = -1, eot_ = -1;
    bool add_bos_ = true;
    bool strip_space_after_bos_ = false;
    std::vector<int> text_stops_, turn_stops_;

private:
    std::vector<std::string> bytes_;  // [vocab]
    std::vector<bool> control_;       // [vocab]
    std::unordered_map<std::string, int> control_ids_;
};

// llama2.c's tokenizer.bin (BOS 1, EOS 2, byte b is token b + 3). Throws LoadError when the file is missing,
// truncated, not a tokenizer, or (when vocab_size is given) of another size: "... does not match the model".
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, std::optional<int> vocab_size = {});

// The tokenizer for a model file's vocabulary: "llama" (SentencePiece-style, merged by score) or "gpt2" with
// pre "llama-bpe" (byte-level BPE, merged by rank). Anything else is a LoadError naming it; `source` names the
// file in messages.
std::unique_ptr<Tokenizer> make_tokenizer(const Vocab& vocab, const std::string& source);

// A tokenizer file: a GGUF (model or vocabulary only) by its magic, else a llama2.c tokenizer.bin. With
// vocab_size, a file of another size is refused: "... tokenizer does not match the model".
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path, std::optional<int> vocab_size = {});

// The tokenizer a model runs with: the vocabulary its file carries (a tokenizer file given as well must hold
// the same tokens), else the tokenizer file given, else default_file; `model` names the model in messages.
std::unique_ptr<Tokenizer> model_tokenizer(const Vocab* carried, const std::string& model, int vocab_size,
                                           const std::optional<std::string>& file, const std::string& default_file);

// Whether b stands for a's tokens: the same vocabulary size and, wherever neither calls a token control,
// the same bytes (so a llama2.c tokenizer.bin matches the same vocabulary converted to GGUF).
bool same_tokens(const Tokenizer& a, const Tokenizer& b);

// Length of the well-formed UTF-8 character at s[i] (1 for ASCII), or 0 when none starts there: a stray
// continuation byte, an overlong form, a surrogate, a code point past U+10FFFF or a sequence cut off by the end.
std::size_t utf8_length(std::string_view s, std::size_t i);

// Turns a stream of pieces into valid UTF-8: bytes of a character split over several tokens are held
// until the character is complete; invalid sequences become U+FFFD; control bytes other than whitespace
// are dropped, as llama2.c does.
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
