// The model files the peers run: the workbench's checkpoint written in each format and type a peer takes, once per
// model, into a temporary directory removed afterwards.
#include "harness/peers.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/memory_guard.h"

namespace wb {

PeerModelWriter peer_model_writer(const Checkpoint& checkpoint, const std::string& tokenizer_path) {
    const auto gguf_options = [&checkpoint, tokenizer_path](DType type) {
        GgufModelOptions o;
        o.type = type;
        o.name = checkpoint.name();
        o.vocab = vocab_metadata(checkpoint.vocab() ? *checkpoint.vocab() : llama2c::read_tokenizer_vocab(tokenizer_path));
        return o;
    };
    PeerModelWriter w;
    w.bytes = [&checkpoint, gguf_options](PeerFormat format, DType type) -> std::uint64_t {
        const Config& c = checkpoint.config();
        if (format == PeerFormat::llama2c_v0) return llama2c::v0_file_bytes(c);
        return gguf_model_writer(c, gguf_options(type), checkpoint.name()).file_bytes();
    };
    w.write = [&checkpoint, gguf_options](PeerFormat format, DType type, const std::string& path) {
        const Config& c = checkpoint.config();
        FileSink file(path);
        if (format == PeerFormat::llama2c_v0) {
            if (type != DType::f32) throw std::logic_error("llama2.c v0 files are fp32");
            llama2c::write_v0(c, checkpoint_rows(checkpoint), file.sink(), path);
        } else {
            write_gguf_model(c, checkpoint_rows(checkpoint), gguf_options(type), file.sink(), path);
        }
        file.close();
    };
    return w;
}

PeerModels::PeerModels(std::string model_name, PeerModelWriter writer)
    : model_name_(std::move(model_name)), writer_(std::move(writer)) {}

PeerModels::~PeerModels() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void PeerModels::provide(PeerFormat format, DType type, const std::string& path) { files_[{format, type}] = path; }

const std::string& PeerModels::file(PeerFormat format, DType type) {
    const std::pair key{format, type};
    if (const auto it = files_.find(key); it != files_.end()) return it->second;
    if (const auto it = failures_.find(key); it != failures_.end()) throw std::runtime_error(it->second);
    std::string path;
    try {
        if (dir_.empty()) {
            const std::filesystem::path d = std::filesystem::temp_directory_path() /
                                            ("wb-peers-" + std::to_string(getpid()) + "-" + model_name_);
            std::filesystem::create_directories(d);
            dir_ = d.string();
        }
        std::string type_name = traits(type).name;
        std::transform(type_name.begin(), type_name.end(), type_name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        path = (std::filesystem::path(dir_) / (model_name_ + "-" + type_name +
                                               (format == PeerFormat::gguf ? ".gguf" : ".bin"))).string();
        if (const std::optional<std::uint64_t> free = disk_space_for(path)) {
            require_disk(path, writer_.bytes(format, type), *free);
        }
        writer_.write(format, type, path);
    } catch (const std::exception& e) {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
        failures_[key] = std::string(format_name(format)) + " " + traits(type).name + " model for the peers: " + e.what();
        throw std::runtime_error(failures_[key]);
    }
    return files_[key] = path;
}

}  // namespace wb
