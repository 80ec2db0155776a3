// libFuzzer target: a 2-byte little-endian vocabulary size, then the bytes of a tokenizer file (a llama2.c
// tokenizer.bin, or a GGUF vocabulary when the bytes start with its magic). open_tokenizer must throw
// LoadError or give a tokenizer that encodes and decodes any text without reading outside its vocabulary.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "model/load_error.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

// An in-memory file the constructor can open by path; rewritten for every input.
class MemoryFile {
public:
    MemoryFile() : fd_(memfd_create("fuzz-tokenizer", 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {
        if (fd_ < 0) std::abort();
    }
    const std::string& write(const std::uint8_t* data, std::size_t size) {
        if (ftruncate(fd_, 0) != 0 || pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
        return path_;
    }

private:
    int fd_;
    std::string path_;
};

// ASCII, a two- and a four-byte character, a lone continuation byte, a control byte, an invalid byte.
constexpr char kProbeText[] = "Once upon a time \xC3\xA9 \xF0\x9F\x99\x82 \x80 \x01 \xFF";

void exercise(const Tokenizer& tok) {
    const int vocab = tok.vocab_size();
    int prev = tok.bos();
    TextDecoder decoder(tok);
    for (const int id : tok.encode(kProbeText, true, true)) {
        if (id < 0 || id >= vocab) std::abort();
        decoder.next(prev, id);
        prev = id;
    }
    for (int id = 0; id < vocab; id++) decoder.next(id == 0 ? tok.bos() : id - 1, id);
    decoder.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static MemoryFile file;
    if (size < 2) return 0;
    const int vocab_size = data[0] | data[1] << 8;
    try {
        exercise(*open_tokenizer(file.write(data + 2, size - 2), vocab_size));
    } catch (const LoadError&) {
        // Refusing bad bytes is the expected outcome; any other exception escapes and is reported.
    }
    return 0;
}
