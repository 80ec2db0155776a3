#include "model/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

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

Checkpoint Checkpoint::open(const std::string& path) {
    Bytes bytes = map_file(path, "checkpoint");
    const std::byte* data = bytes.data;
    const std::size_t size = bytes.size;
    Checkpoint ck = from(std::move(bytes), path);
    ck.mapped_ = data;
    ck.mapped_size_ = size;
    return ck;
}

void Checkpoint::release(const WeightView& w) const {
    const auto* begin = static_cast<const std::byte*>(w.data);
    if (mapped_ == nullptr || begin < mapped_ || w.dtype == DType::q8_v2) return;
    const std::uint64_t bytes = row_bytes(w.dtype, w.n) * static_cast<std::uint64_t>(w.d);
    if (begin + bytes > mapped_ + mapped_size_) return;
    // Whole pages inside the weight only: its neighbours' pages stay.
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page;
    const std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(begin) + bytes) / page * page;
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

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
