// libFuzzer target: encode and decode arbitrary bytes with the real tokenizers (tok512.bin, tokenizer.bin, and
// Llama 3's byte-level BPE from llama3-vocab.gguf when the models directory has it).
// Input: one flag byte (bit 0: the 32000-token vocabulary, bit 1: BOS, bit 2: EOS, bit 3: decode the rest
// as token ids instead of encoding it as text, bit 4: Llama 3's vocabulary), then the payload.
// Checked: ids stay inside the vocabulary, decoded text is valid UTF-8, and printable ASCII round-trips;
// for Llama 3, the text never yields a control token and its ids spell any bytes back exactly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/load_error.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

std::unique_ptr<Tokenizer> small_vocab, large_vocab, llama3_vocab;

std::string models_dir() {
    const char* env = std::getenv("WORKBENCH_MODELS");
    return env != nullptr && *env != '\0' ? env : WORKBENCH_MODELS_DIR;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = utf8_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

bool printable_without_markup(std::string_view s) {
    for (const char c : s) {
        if (c < 0x20 || c > 0x7E || c == '<') return false;  // '<' could spell a byte token such as <0x41>
    }
    return true;
}

// What generate prints for ids after the first: each piece seen after its predecessor.
std::string decode(const Tokenizer& tok, const std::vector<int>& ids) {
    TextDecoder decoder(tok);
    std::string out;
    for (std::size_t i = 1; i < ids.size(); i++) out += decoder.next(ids[i - 1], ids[i]);
    return out + decoder.finish();
}

void check_encode(const Tokenizer& tok, std::string_view text, bool bos, bool eos) {
    const std::vector<int> ids = tok.encode(text, bos, eos);
    for (const int id : ids) {
        if (id < 0 || id >= tok.vocab_size()) std::abort();
    }
    const std::string back = decode(tok, ids);
    if (!valid_utf8(back)) std::abort();
    if (bos && !eos && printable_without_markup(text) && back != text) std::abort();
    if (&tok == llama3_vocab.get()) {
        std::string bytes;
        for (std::size_t i = bos ? 1 : 0; i < ids.size() - (eos ? 1 : 0); i++) {
            if (tok.is_control(ids[i])) std::abort();
            bytes += tok.token_bytes(ids[i]);
        }
        if (bytes != text) std::abort();
    }
}

// Little-endian ids of two bytes, three for a vocabulary larger than 16 bits count (Llama 3's); BOS first.
void check_decode(const Tokenizer& tok, const std::uint8_t* data, std::size_t size) {
    const std::size_t width = tok.vocab_size() > 1 << 16 ? 3 : 2;
    std::vector<int> ids{tok.bos()};
    for (std::size_t i = 0; i + width <= size; i += width) {
        int id = data[i] | data[i + 1] << 8;
        if (width == 3) id |= data[i + 2] << 16;
        ids.push_back(id % tok.vocab_size());
    }
    if (!valid_utf8(decode(tok, ids))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    try {
        small_vocab = load_llama2c_tokenizer(models_dir() + "/tok512.bin", 512);
        large_vocab = load_llama2c_tokenizer(models_dir() + "/tokenizer.bin", 32000);
    } catch (const LoadError& e) {
        std::fprintf(stderr, "fuzz_tokenizer_text: skipped: %s (set WORKBENCH_MODELS)\n", e.what());
        std::exit(77);
    }
    try {
        llama3_vocab = open_tokenizer(models_dir() + "/llama3-vocab.gguf");
    } catch (const LoadError& e) {
        std::fprintf(stderr, "fuzz_tokenizer_text: without Llama 3's vocabulary: %s\n", e.what());
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned flags = data[0];
    const Tokenizer& tok = flags & 16 && llama3_vocab ? *llama3_vocab : flags & 1 ? *large_vocab : *small_vocab;
    if (flags & 8) {
        check_decode(tok, data + 1, size - 1);
    } else {
        check_encode(tok, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), flags & 2, flags & 4);
    }
    return 0;
}
