#include "model/checkpoint.h"

#include <cstring>

#include "model/formats/gguf.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"

namespace wb {

Checkpoint::Checkpoint(std::string name, Format format, int version, Config config, Weights weights,
                       std::vector<std::shared_ptr<const void>> owners, std::shared_ptr<const Vocab> vocab)
    : name_(std::move(name)),
      format_(format),
      version_(version),
      config_(std::move(config)),
      weights_(std::move(weights)),
      owners_(std::move(owners)),
      vocab_(std::move(vocab)) {}

Checkpoint Checkpoint::open(const std::string& path) { return from(map_file(path, "checkpoint"), path); }

Checkpoint Checkpoint::from_bytes(std::vector<std::byte> bytes, const std::string& name) {
    return from(hold_bytes(std::move(bytes)), name);
}

Checkpoint Checkpoint::from(Bytes bytes, const std::string& name) {
    if (gguf::GgufFile::has_magic(bytes.data, bytes.size)) return read_gguf(gguf::GgufFile::parse(std::move(bytes), name));
    return llama2c::read(std::move(bytes), name);
}

std::string Checkpoint::format_name() const {
    if (format_ == Format::synthetic) return "synthetic";
    return std::string(format_ == Format::gguf ? "GGUF" : "llama2.c") + " v" + std::to_string(version_);
}

}  // namespace wb
