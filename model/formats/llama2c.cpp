#include "model/formats/llama2c.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace wb::llama2c {

namespace {

constexpr std::uint32_t kMagic = 0x616b3432;  // "ak42", export.py's versioned formats
constexpr std::size_t kV0Header = 7 * sizeof(std::int32_t);
constexpr std::size_t kV1Header = 256;

std::int32_t read_i32(const std::byte* p) {
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

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

std::uint64_t freq_cis_floats(const Config& c) {
    return static_cast<std::uint64_t>(c.seq_len) * c.head_size();  // cos and sin halves
}

// v1 (export.py) order: the norms first, then the embedding and the matrices one kind at a time.
constexpr Role kV1Order[] = {Role::attn_norm, Role::ffn_norm, Role::final_norm, Role::embedding, Role::wq, Role::wk,
                             Role::wv,        Role::wo,       Role::w1,         Role::w2,        Role::w3, Role::classifier};

Checkpoint read_fp32(Bytes bytes, const std::string& name, int version) {
    Config c;
    const std::byte* data = bytes.data;
    const std::size_t header = version == 0 ? kV0Header : kV1Header;
    const std::byte* h = data + (version == 0 ? 0 : 8);
    read_header(h, c);
    if (version == 0) {
        c.shared_classifier = c.vocab_size > 0;
        if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
    } else {
        c.shared_classifier = static_cast<std::uint8_t>(h[28]) != 0;
    }
    if (const std::string why = c.problem(); !why.empty()) {
        throw LoadError(name + ": not a llama2.c checkpoint or corrupt header: " + why);
    }
    const std::uint64_t expected = version == 0 ? v0_file_bytes(c) : header + weight_floats(c) * sizeof(float);
    if (bytes.size != expected) {
        throw LoadError(name + ": " + (bytes.size < expected ? "truncated" : "oversized") + " checkpoint: " + c.summary() +
                        " needs " + std::to_string(expected) + " bytes, file has " + std::to_string(bytes.size));
    }

    const std::vector<TensorSlot> slots = llama_tensors(c);
    Weights w;
    w.layers.resize(static_cast<std::size_t>(c.n_layers));
    const auto* at = reinterpret_cast<const float*>(data + header);
    auto take = [&](const TensorSlot& t) {
        set_slot(w, t, WeightView{at, nullptr, static_cast<int>(t.rows), static_cast<int>(t.cols)});
        at += t.rows * t.cols;
    };
    if (version == 0) {
        for (const TensorSlot& t : slots) {
            if (t.role == Role::classifier) at += freq_cis_floats(c);  // unused
            take(t);
        }
    } else {
        for (const Role role : kV1Order) {
            for (const TensorSlot& t : slots) {
                if (t.role == role) take(t);
            }
        }
    }
    if (c.shared_classifier) w.classifier = WeightView{w.token_embedding, nullptr, c.vocab_size, c.dim};
    return Checkpoint(name, Format::llama2c, version, std::move(c), std::move(w), {bytes.owner});
}

// export.py's version 2: fp32 norms, then each matrix as int8 values followed by its fp32 group scales
// (groups of group_size along the flattened matrix).
Checkpoint read_q8(Bytes bytes, const std::string& name) {
    Config c;
    const std::byte* data = bytes.data;
    read_header(data + 8, c);
    c.shared_classifier = static_cast<std::uint8_t>(data[36]) != 0;
    const int group = read_i32(data + 37);
    if (const std::string why = c.problem(); !why.empty()) {
        throw LoadError(name + ": not a llama2.c checkpoint or corrupt header: " + why);
    }
    if (group <= 0 || c.dim % group != 0) {  // then every matrix holds whole groups
        throw LoadError(name + ": implausible Q8_0 group size " + std::to_string(group) + " for " + c.summary());
    }
    const std::uint64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    auto q8_bytes = [&](std::uint64_t count) { return count + count / group * sizeof(float); };
    std::uint64_t expected = kV1Header + (2 * L * d + d) * sizeof(float) + q8_bytes(V * d) +
                             L * (2 * q8_bytes(d * d) + 2 * q8_bytes(kv * d) + 3 * q8_bytes(h * d));
    if (!c.shared_classifier) expected += q8_bytes(V * d);
    if (bytes.size != expected) {
        throw LoadError(name + ": " + (bytes.size < expected ? "truncated" : "oversized") + " checkpoint: " +
                        c.summary() + " (Q8_0, groups of " + std::to_string(group) + ") needs " +
                        std::to_string(expected) + " bytes, file has " + std::to_string(bytes.size));
    }
    const std::vector<TensorSlot> slots = llama_tensors(c);
    Weights w;
    w.layers.resize(static_cast<std::size_t>(L));
    const std::byte* at = data + kV1Header;
    for (const Role role : {Role::attn_norm, Role::ffn_norm, Role::final_norm}) {
        for (const TensorSlot& t : slots) {
            if (t.role != role) continue;
            set_slot(w, t, WeightView{at, nullptr, 1, c.dim});
            at += d * sizeof(float);
        }
    }
    auto matrix = [&](std::int64_t rows, std::int64_t cols) {
        const std::uint64_t count = static_cast<std::uint64_t>(rows) * cols;
        WeightView v{at, reinterpret_cast<const float*>(at + count), static_cast<int>(rows), static_cast<int>(cols),
                     DType::q8_v2, group};
        at += q8_bytes(count);
        return v;
    };
    const WeightView embedding = matrix(c.vocab_size, c.dim);
    for (const Role role : {Role::wq, Role::wk, Role::wv, Role::wo, Role::w1, Role::w2, Role::w3, Role::classifier}) {
        for (const TensorSlot& t : slots) {
            if (t.role == role) set_slot(w, t, matrix(t.rows, t.cols));
        }
    }
    // Rows of the embedding are copied into the residual stream, so it is kept in fp32.
    auto table = std::make_shared<std::vector<float>>(V * d);
    traits(DType::q8_v2).dequantize_rows(embedding, 0, c.vocab_size, table->data());
    w.token_embedding = table->data();
    if (c.shared_classifier) w.classifier = embedding;
    return Checkpoint(name, Format::llama2c, 2, std::move(c), std::move(w), {bytes.owner, table});
}

}  // namespace

Checkpoint read(Bytes bytes, const std::string& name) {
    if (bytes.size < kV0Header) {
        throw LoadError(name + ": too small to be a checkpoint (" + std::to_string(bytes.size) + " bytes)");
    }
    if (read_i32(bytes.data) != static_cast<std::int32_t>(kMagic)) return read_fp32(std::move(bytes), name, 0);
    if (bytes.size < kV1Header) throw LoadError(name + ": truncated header (" + std::to_string(bytes.size) + " bytes)");
    const int version = read_i32(bytes.data + 4);
    if (version == 2) return read_q8(std::move(bytes), name);
    if (version != 1) throw LoadError(name + ": unknown checkpoint version " + std::to_string(version));
    return read_fp32(std::move(bytes), name, 1);
}

std::uint64_t v0_file_bytes(const Config& c) { return kV0Header + (weight_floats(c) + freq_cis_floats(c)) * sizeof(float); }

void write_v0(const Config& c, const RowSource& rows, const ByteSink& out, const std::string& name) {
    if (!c.llama2c_compatible()) {
        throw LoadError(name + ": a llama2.c v0 file cannot carry this model's RoPE or RMSNorm settings (" +
                        c.summary() + "); write GGUF instead");
    }
    const std::int32_t header[7] = {c.dim,        c.hidden_dim, c.n_layers,
                                    c.n_heads,    c.n_kv_heads, c.shared_classifier ? c.vocab_size : -c.vocab_size,
                                    c.seq_len};
    out(header, sizeof header);
    std::vector<float> row;
    for (const TensorSlot& t : llama_tensors(c)) {
        if (t.role == Role::classifier) break;
        row.resize(static_cast<std::size_t>(t.cols));
        for (std::int64_t r = 0; r < t.rows; r++) {
            rows(t, r, row.data());
            out(row.data(), row.size() * sizeof(float));
        }
    }
    // freq_cis_real then freq_cis_imag [seq_len x head_size/2], from llama2.c's angle expression.
    const int hs = c.head_size();
    for (const auto part : {cosf, sinf}) {
        for (int pos = 0; pos < c.seq_len; pos++) {
            row.clear();
            for (int i = 0; i < hs; i += 2) {
                const float freq = 1.0f / powf(10000.0f, static_cast<float>(i) / static_cast<float>(hs));
                row.push_back(part(static_cast<float>(pos) * freq));
            }
            out(row.data(), row.size() * sizeof(float));
        }
    }
    if (!c.shared_classifier) {
        const TensorSlot classifier{Role::classifier, -1, c.vocab_size, c.dim};
        row.resize(static_cast<std::size_t>(c.dim));
        for (std::int64_t r = 0; r < classifier.rows; r++) {
            rows(classifier, r, row.data());
            out(row.data(), row.size() * sizeof(float));
        }
    }
}

TokenizerFile read_tokenizer_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw LoadError(path + ": cannot open tokenizer");
    if (!std::filesystem::is_regular_file(path)) throw LoadError(path + ": cannot read tokenizer: not a regular file");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t at = 0;
    auto read = [&](void* out, std::size_t n) {
        if (bytes.size() - at < n) throw LoadError(path + ": truncated tokenizer at byte " + std::to_string(at));
        std::memcpy(out, bytes.data() + at, n);
        at += n;
    };
    std::int32_t max_len = 0;
    read(&max_len, sizeof max_len);
    if (max_len <= 0 || max_len > 4096) throw LoadError(path + ": not a tokenizer (max token length " + std::to_string(max_len) + ")");
    TokenizerFile f;
    while (at < bytes.size()) {
        float score;
        std::int32_t len;
        read(&score, sizeof score);
        read(&len, sizeof len);
        if (len < 0 || len > max_len) {
            throw LoadError(path + ": corrupt tokenizer: token " + std::to_string(f.pieces.size()) + " has length " + std::to_string(len));
        }
        std::string piece(static_cast<std::size_t>(len), '\0');
        read(piece.data(), piece.size());
        f.pieces.push_back(std::move(piece));
        f.scores.push_back(score);
    }
    return f;
}

Vocab read_tokenizer_vocab(const std::string& path) {
    TokenizerFile f = read_tokenizer_file(path);
    if (f.pieces.size() < 3) throw LoadError(path + ": a tokenizer of " + std::to_string(f.pieces.size()) + " tokens has no <unk> <s> </s>");
    Vocab v;
    v.model = "llama";
    v.bos = 1;
    v.eos = 2;
    v.scores = std::move(f.scores);
    for (std::size_t id = 0; id < f.pieces.size(); id++) {
        std::string& piece = f.pieces[id];
        // SentencePiece's forms: llama2.c's export wrote "\n<s>\n" and "\n</s>\n", and space for U+2581.
        int type = 1;
        if (id == 0) {
            type = 2;
        } else if (id == 1 || id == 2) {
            piece = id == 1 ? "<s>" : "</s>";
            type = 3;
        } else if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">")) {
            type = 6;
        } else {
            std::string spm;
            for (const char ch : piece) spm += ch == ' ' ? "\xE2\x96\x81" : std::string(1, ch);
            piece = std::move(spm);
        }
        v.tokens.push_back(std::move(piece));
        v.token_types.push_back(type);
    }
    return v;
}

}  // namespace wb::llama2c
