#include "model/checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wb {

namespace {

constexpr std::uint32_t kMagic = 0x616b3432;  // "ak42", export.py's versioned formats
constexpr std::size_t kV0Header = 7 * sizeof(std::int32_t);
constexpr std::size_t kV1Header = 256;

std::int32_t read_i32(const std::byte* p) {
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Walks the float section of a file, handing out consecutive arrays.
class Cursor {
public:
    explicit Cursor(const std::byte* p) : p_(p) {}
    const float* take(std::uint64_t floats) {
        const float* out = reinterpret_cast<const float*>(p_);
        p_ += floats * sizeof(float);
        return out;
    }
    WeightView matrix(int d, int n) { return WeightView{take(static_cast<std::uint64_t>(d) * n), nullptr, d, n}; }

private:
    const std::byte* p_;
};

void read_header(const std::byte* h, Config& c) {
    c.dim = read_i32(h);
    c.hidden_dim = read_i32(h + 4);
    c.n_layers = read_i32(h + 8);
    c.n_heads = read_i32(h + 12);
    c.n_kv_heads = read_i32(h + 16);
    c.vocab_size = read_i32(h + 20);
    c.seq_len = read_i32(h + 24);
}

std::uint64_t weight_floats(const Config& c) {
    const std::uint64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    std::uint64_t n = V * d + L * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * h) + d;
    if (!c.shared_classifier) n += V * d;
    return n;
}

}  // namespace

std::uint64_t v0_file_bytes(const Config& c) {
    const std::uint64_t freq_cis = static_cast<std::uint64_t>(c.seq_len) * c.head_size();  // two halves
    return kV0Header + (weight_floats(c) + freq_cis) * sizeof(float);
}

Checkpoint Checkpoint::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw LoadError(path + ": cannot open checkpoint: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw LoadError(path + ": not a regular file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size < kV0Header) {
        ::close(fd);
        throw LoadError(path + ": too small to be a checkpoint (" + std::to_string(size) + " bytes)");
    }
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) throw LoadError(path + ": mmap failed: " + std::strerror(errno));

    Checkpoint ck;
    ck.name_ = path;
    ck.storage_ = std::shared_ptr<const void>(map, [size](const void* p) { munmap(const_cast<void*>(p), size); });
    ck.parse(static_cast<const std::byte*>(map), size);
    return ck;
}

Checkpoint Checkpoint::from_bytes(std::vector<std::byte> bytes, const std::string& name) {
    Checkpoint ck;
    ck.name_ = name;
    auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    ck.storage_ = std::shared_ptr<const void>(owned, owned->data());
    if (owned->size() < kV0Header) throw LoadError(name + ": too small to be a checkpoint");
    ck.parse(owned->data(), owned->size());
    return ck;
}

void Checkpoint::parse(const std::byte* data, std::size_t size) {
    Config& c = config_;
    std::size_t header = kV0Header;
    std::uint32_t magic;
    std::memcpy(&magic, data, sizeof magic);
    if (magic == kMagic) {
        if (size < kV1Header) throw LoadError(name_ + ": truncated header (" + std::to_string(size) + " bytes)");
        version_ = read_i32(data + 4);
        if (version_ == 2) return parse_q8(data, size);
        if (version_ != 1) throw LoadError(name_ + ": unknown checkpoint version " + std::to_string(version_));
        header = kV1Header;
    }
    const std::byte* h = data + (version_ == 0 ? 0 : 8);
    read_header(h, c);
    if (version_ == 0) {
        c.shared_classifier = c.vocab_size > 0;
        if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
    } else {
        c.shared_classifier = static_cast<std::uint8_t>(h[28]) != 0;
    }
    if (const std::string why = c.problem(); !why.empty()) {
        throw LoadError(name_ + ": not a llama2.c checkpoint or corrupt header: " + why);
    }
    const std::uint64_t expected =
        version_ == 0 ? v0_file_bytes(c) : header + weight_floats(c) * sizeof(float);
    if (size != expected) {
        throw LoadError(name_ + ": " + (size < expected ? "truncated" : "oversized") + " checkpoint: " + c.summary() +
                        " needs " + std::to_string(expected) + " bytes, file has " + std::to_string(size));
    }

    const int d = c.dim, hd = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers;
    const std::uint64_t D = static_cast<std::uint64_t>(d);
    Cursor cur(data + header);
    weights_.layers.resize(static_cast<std::size_t>(L));
    auto per_layer_vectors = [&](const float* LayerWeights::*field) {
        for (LayerWeights& lw : weights_.layers) lw.*field = cur.take(D);
    };
    auto per_layer_matrices = [&](WeightView LayerWeights::*field, int rows, int cols) {
        for (LayerWeights& lw : weights_.layers) lw.*field = cur.matrix(rows, cols);
    };
    if (version_ == 0) {
        weights_.token_embedding = cur.take(static_cast<std::uint64_t>(c.vocab_size) * D);
        per_layer_vectors(&LayerWeights::rms_att);
        per_layer_matrices(&LayerWeights::wq, d, d);
        per_layer_matrices(&LayerWeights::wk, kv, d);
        per_layer_matrices(&LayerWeights::wv, kv, d);
        per_layer_matrices(&LayerWeights::wo, d, d);
        per_layer_vectors(&LayerWeights::rms_ffn);
        per_layer_matrices(&LayerWeights::w1, hd, d);
        per_layer_matrices(&LayerWeights::w2, d, hd);
        per_layer_matrices(&LayerWeights::w3, hd, d);
        weights_.rms_final = cur.take(D);
        cur.take(static_cast<std::uint64_t>(c.seq_len) * c.head_size());  // freq_cis, unused
    } else {
        per_layer_vectors(&LayerWeights::rms_att);
        per_layer_vectors(&LayerWeights::rms_ffn);
        weights_.rms_final = cur.take(D);
        weights_.token_embedding = cur.take(static_cast<std::uint64_t>(c.vocab_size) * D);
        per_layer_matrices(&LayerWeights::wq, d, d);
        per_layer_matrices(&LayerWeights::wk, kv, d);
        per_layer_matrices(&LayerWeights::wv, kv, d);
        per_layer_matrices(&LayerWeights::wo, d, d);
        per_layer_matrices(&LayerWeights::w1, hd, d);
        per_layer_matrices(&LayerWeights::w2, d, hd);
        per_layer_matrices(&LayerWeights::w3, hd, d);
    }
    weights_.classifier = c.shared_classifier
                              ? WeightView{weights_.token_embedding, nullptr, c.vocab_size, d}
                              : cur.matrix(c.vocab_size, d);
}

// export.py's version 2: fp32 norms, then each matrix as int8 values followed by its fp32 group scales
// (groups of group_size along the flattened matrix).
void Checkpoint::parse_q8(const std::byte* data, std::size_t size) {
    Config& c = config_;
    read_header(data + 8, c);
    c.shared_classifier = static_cast<std::uint8_t>(data[36]) != 0;
    const int group = read_i32(data + 37);
    if (const std::string why = c.problem(); !why.empty()) {
        throw LoadError(name_ + ": not a llama2.c checkpoint or corrupt header: " + why);
    }
    if (group <= 0 || c.dim % group != 0) {  // then every matrix holds whole groups
        throw LoadError(name_ + ": implausible Q8_0 group size " + std::to_string(group) + " for " + c.summary());
    }
    const std::uint64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    auto q8_bytes = [&](std::uint64_t count) { return count + count / group * sizeof(float); };
    std::uint64_t expected = kV1Header + (2 * L * d + d) * sizeof(float) + q8_bytes(V * d) +
                             L * (2 * q8_bytes(d * d) + 2 * q8_bytes(kv * d) + 3 * q8_bytes(h * d));
    if (!c.shared_classifier) expected += q8_bytes(V * d);
    if (size != expected) {
        throw LoadError(name_ + ": " + (size < expected ? "truncated" : "oversized") + " checkpoint: " + c.summary() +
                        " (Q8_0, groups of " + std::to_string(group) + ") needs " + std::to_string(expected) +
                        " bytes, file has " + std::to_string(size));
    }
    Cursor cur(data + kV1Header);
    weights_.layers.resize(static_cast<std::size_t>(L));
    for (LayerWeights& lw : weights_.layers) lw.rms_att = cur.take(d);
    for (LayerWeights& lw : weights_.layers) lw.rms_ffn = cur.take(d);
    weights_.rms_final = cur.take(d);
    const std::byte* at = data + kV1Header + (2 * L * d + d) * sizeof(float);
    auto matrix = [&](int rows, int cols) {
        const std::uint64_t count = static_cast<std::uint64_t>(rows) * cols;
        WeightView w{at, reinterpret_cast<const float*>(at + count), rows, cols, DType::q8_v2, group};
        at += q8_bytes(count);
        return w;
    };
    const WeightView embedding = matrix(c.vocab_size, c.dim);
    for (auto field : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                       &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3}) {
        const bool kv_rows = field == &LayerWeights::wk || field == &LayerWeights::wv;
        const bool ffn_in = field == &LayerWeights::w1 || field == &LayerWeights::w3;
        const int rows = kv_rows ? c.kv_dim() : ffn_in ? c.hidden_dim : c.dim;
        const int cols = field == &LayerWeights::w2 ? c.hidden_dim : c.dim;
        for (LayerWeights& lw : weights_.layers) lw.*field = matrix(rows, cols);
    }
    // Rows of the embedding are copied into the residual stream, so it is kept in fp32.
    embedding_ = std::make_shared<std::vector<float>>(V * d);
    traits(DType::q8_v2).dequantize_rows(embedding, 0, c.vocab_size, embedding_->data());
    weights_.token_embedding = embedding_->data();
    weights_.classifier = c.shared_classifier ? embedding : matrix(c.vocab_size, c.dim);
}

}  // namespace wb
