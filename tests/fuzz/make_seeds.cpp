// make_seeds OUT_DIR MODELS_DIR: writes the fuzzers' seed corpora, one directory per fuzzer:
// tiny synthetic checkpoints in v0, v1 and v2 form and truncated copies; tiny GGUF models of each written
// type, with Llama 3's RoPE, a vocabulary-only GGUF and cut copies; tokenizers (tok512.bin, a minimal
// synthetic one, a cut tokenizer.bin, small GGUF vocabularies of both kinds) behind their vocabulary size;
// texts and token ids.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/formats/gguf_model.h"
#include "model/synthetic.h"

namespace {

using namespace wb;
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(path.string() + ": cannot write seed");
}

template <class T>
void append(std::string& out, const T& value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void append_floats(std::string& out, const void* p, std::uint64_t count) {
    out.append(static_cast<const char*>(p), count * sizeof(float));
}

// export.py's 256-byte header: magic, version, the seven ints, the shared-classifier byte, zero padding.
std::string versioned_header(const Config& c, std::int32_t version) {
    std::string out;
    append(out, std::uint32_t{0x616b3432});
    append(out, version);
    for (const std::int32_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len}) {
        append(out, v);
    }
    out += static_cast<char>(c.shared_classifier ? 1 : 0);
    out.resize(256, '\0');
    return out;
}

// The same weights in v1 order: norms, embedding, the matrices one kind at a time, the classifier.
std::string to_v1(const Checkpoint& ck) {
    const Config& c = ck.config();
    const Weights& w = ck.weights();
    const std::uint64_t d = static_cast<std::uint64_t>(c.dim);
    std::string out = versioned_header(c, 1);
    for (const LayerWeights& l : w.layers) append_floats(out, l.rms_att, d);
    for (const LayerWeights& l : w.layers) append_floats(out, l.rms_ffn, d);
    append_floats(out, w.rms_final, d);
    append_floats(out, w.token_embedding, d * c.vocab_size);
    for (WeightView LayerWeights::*m : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                                        &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3}) {
        for (const LayerWeights& l : w.layers) append_floats(out, (l.*m).data, static_cast<std::uint64_t>((l.*m).d) * (l.*m).n);
    }
    if (!c.shared_classifier) append_floats(out, w.classifier.data, d * c.vocab_size);
    return out;
}

void checkpoint_seeds(const fs::path& dir) {
    const Config shared{8, 16, 2, 2, 1, 16, 4, true};
    Config separate = shared;
    separate.shared_classifier = false;
    separate.n_layers = 1;
    for (const auto& [name, c] : {std::pair{"v0-shared", shared}, std::pair{"v0-separate", separate}}) {
        const fs::path v0 = dir / name;
        write_synthetic(c, 7, v0);
        const std::string bytes = read_file(v0);
        write_file(dir / (std::string(name) + "-cut-header"), bytes.substr(0, 20));
        write_file(dir / (std::string(name) + "-cut-half"), bytes.substr(0, bytes.size() / 2));
        const std::string v1 = to_v1(Checkpoint::open(v0.string()));
        write_file(dir / (std::string(name) + "-as-v1"), v1);
        write_file(dir / (std::string(name) + "-as-v1-cut"), v1.substr(0, 300));
        write_file(dir / (std::string(name) + "-as-v2"), versioned_header(c, 2) + v1.substr(256, 512));
    }
}

// A small vocabulary: SentencePiece-style, or byte-level BPE with merges.
Vocab tiny_vocab(int n, bool bpe) {
    Vocab v;
    v.model = bpe ? "gpt2" : "llama";
    if (bpe) v.pre = "llama-bpe";
    for (int i = 0; i < n; i++) {
        v.tokens.push_back(i == n - 1 && bpe ? "<|eot_id|>" : std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i));
        if (!bpe) v.scores.push_back(-static_cast<float>(i));
        v.token_types.push_back(i < 3 ? 3 : 1);
    }
    if (bpe) v.merges = {"a 0", "b 1", "a0 b1"};
    v.bos = 1;
    v.eos = 2;
    return v;
}

std::string gguf_model(const Config& c, DType type, const Vocab& vocab) {
    GgufModelOptions o;
    o.type = type;
    o.name = "seed";
    o.vocab = vocab_metadata(vocab);
    std::string bytes;
    write_gguf_model(c, synthetic_rows(c, 7), o, [&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); },
                     "seed");
    return bytes;
}

void gguf_seeds(const fs::path& dir) {
    const Config shared{32, 64, 1, 2, 1, 16, 8, true};
    Config llama3{32, 32, 2, 4, 2, 16, 8, false, 500000.0f};
    llama3.rope_freq_factors = llama3_rope_factors(llama3.head_size(), llama3.rope_theta, {8.0f, 1.0f, 4.0f, 16});
    llama3.rms_eps = 1e-6f;
    for (const auto& [name, type] : {std::pair{"f32", DType::f32}, std::pair{"f16", DType::f16}, std::pair{"bf16", DType::bf16},
                                     std::pair{"q8_0", DType::q8_0}, std::pair{"q4_0", DType::q4_0}}) {
        write_file(dir / (std::string("shared-") + name), gguf_model(shared, type, tiny_vocab(16, false)));
    }
    const std::string rope = gguf_model(llama3, DType::q8_0, tiny_vocab(16, true));
    write_file(dir / "llama3-rope-q8_0", rope);
    write_file(dir / "llama3-rope-cut-header", rope.substr(0, 200));
    write_file(dir / "llama3-rope-cut-data", rope.substr(0, rope.size() - 100));
    gguf::Metadata vocab_only = vocab_metadata(tiny_vocab(16, true)).keys;
    vocab_only.add_string("general.architecture", "llama");
    std::string bytes;
    gguf::Writer(vocab_only, {}, "seed").write([&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); },
                                               [](std::size_t, std::int64_t, float*) {});
    write_file(dir / "vocab-only", bytes);
}

// A tokenizer file: max token length, then (score, length, bytes) per token.
std::string tokenizer_file(const std::vector<std::string>& pieces) {
    std::string out;
    std::int32_t max_len = 1;
    for (const std::string& p : pieces) max_len = std::max<std::int32_t>(max_len, static_cast<std::int32_t>(p.size()));
    append(out, max_len);
    float score = 0.0f;
    for (const std::string& p : pieces) {
        append(out, score);
        append(out, static_cast<std::int32_t>(p.size()));
        out += p;
        score -= 1.0f;
    }
    return out;
}

// The loader fuzzer's input: the vocabulary size in two bytes, then the file.
std::string with_vocab(int vocab, const std::string& file) {
    return std::string{static_cast<char>(vocab & 0xFF), static_cast<char>(vocab >> 8)} + file;
}

// A GGUF v3 file with no tensors and these metadata entries, each already encoded as type + value.
std::string gguf_file(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string out = "GGUF";
    append(out, std::uint32_t{3});
    append(out, std::uint64_t{0});
    append(out, static_cast<std::uint64_t>(entries.size()));
    for (const auto& [key, typed_value] : entries) {
        append(out, static_cast<std::uint64_t>(key.size()));
        out += key + typed_value;
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    return out;
}

std::string gguf_string(const std::string& s) {
    std::string out;
    append(out, static_cast<std::uint64_t>(s.size()));
    return out + s;
}

std::string typed_string(const std::string& s) {
    std::string out;
    append(out, std::uint32_t{8});
    return out + gguf_string(s);
}

std::string typed_u32(std::uint32_t v) {
    std::string out;
    append(out, std::uint32_t{4});
    append(out, v);
    return out;
}

std::string typed_strings(const std::vector<std::string>& items) {
    std::string out;
    append(out, std::uint32_t{9});
    append(out, std::uint32_t{8});
    append(out, static_cast<std::uint64_t>(items.size()));
    for (const std::string& s : items) out += gguf_string(s);
    return out;
}

template <class T>
std::string typed_array(std::uint32_t element_type, const std::vector<T>& items) {
    std::string out;
    append(out, std::uint32_t{9});
    append(out, element_type);
    append(out, static_cast<std::uint64_t>(items.size()));
    for (const T& v : items) append(out, v);
    return out;
}

// GPT-2's stand-in character for a byte (printable Latin-1 as itself, the rest from U+0100 in order), UTF-8.
std::string stand_in(int byte) {
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int cp = byte;
    if (!printable(byte)) {
        cp = 0x100;
        for (int b = 0; b < byte; b++) cp += printable(b) ? 0 : 1;
    }
    if (cp < 0x80) return std::string(1, static_cast<char>(cp));
    return {static_cast<char>(0xC0 | cp >> 6), static_cast<char>(0x80 | (cp & 0x3F))};
}

// A byte-level BPE vocabulary as Llama 3's GGUF files spell it: byte tokens, a few merges, control tokens.
std::string gguf_bpe_vocab(int& vocab_size) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; b++) tokens.push_back(stand_in(b));
    const std::vector<std::string> merges{"\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "\xC4\xA0 \xC4\xA0"};
    for (const std::string& m : merges) {
        std::string joined = m;
        joined.erase(joined.find(' '), 1);
        tokens.push_back(joined);
    }
    std::vector<std::int32_t> types(tokens.size(), 1);
    for (const char* control : {"<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"}) {
        tokens.push_back(control);
        types.push_back(3);
    }
    vocab_size = static_cast<int>(tokens.size());
    return gguf_file({{"tokenizer.ggml.model", typed_string("gpt2")},
                      {"tokenizer.ggml.pre", typed_string("llama-bpe")},
                      {"tokenizer.ggml.tokens", typed_strings(tokens)},
                      {"tokenizer.ggml.token_type", typed_array(5, types)},
                      {"tokenizer.ggml.merges", typed_strings(merges)},
                      {"tokenizer.ggml.bos_token_id", typed_u32(static_cast<std::uint32_t>(vocab_size - 4))},
                      {"tokenizer.ggml.eos_token_id", typed_u32(static_cast<std::uint32_t>(vocab_size - 3))}});
}

// A SentencePiece vocabulary as GGUF spells it: <unk> <s> </s>, byte tokens, pieces with U+2581 for spaces.
std::string gguf_spm_vocab(int& vocab_size) {
    std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
    std::vector<std::int32_t> types{2, 3, 3};
    char byte_token[8];
    for (int b = 0; b < 256; b++) {
        std::snprintf(byte_token, sizeof byte_token, "<0x%02X>", b);
        tokens.push_back(byte_token);
        types.push_back(6);
    }
    for (const char* piece : {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"}) {
        tokens.push_back(piece);
        types.push_back(1);
    }
    std::vector<float> scores(tokens.size());
    for (std::size_t i = 0; i < scores.size(); i++) scores[i] = -static_cast<float>(i);
    vocab_size = static_cast<int>(tokens.size());
    return gguf_file({{"tokenizer.ggml.model", typed_string("llama")},
                      {"tokenizer.ggml.tokens", typed_strings(tokens)},
                      {"tokenizer.ggml.scores", typed_array(6, scores)},
                      {"tokenizer.ggml.token_type", typed_array(5, types)},
                      {"tokenizer.ggml.bos_token_id", typed_u32(1)},
                      {"tokenizer.ggml.eos_token_id", typed_u32(2)}});
}

void tokenizer_loader_seeds(const fs::path& dir, const fs::path& models) {
    std::vector<std::string> pieces{"<unk>", "\n<s>\n", "\n</s>\n"};
    char byte_token[8];
    for (int b = 0; b < 256; b++) {
        std::snprintf(byte_token, sizeof byte_token, "<0x%02X>", b);
        pieces.push_back(byte_token);
    }
    for (const char* merge : {" ", "a", "b", " a", "ab", " ab", "\xC3\xA9"}) pieces.push_back(merge);
    const std::string minimal = tokenizer_file(pieces);
    write_file(dir / "minimal", with_vocab(static_cast<int>(pieces.size()), minimal));
    write_file(dir / "minimal-cut", with_vocab(static_cast<int>(pieces.size()), minimal.substr(0, 100)));
    const std::string tok512 = read_file(models / "tok512.bin");
    if (!tok512.empty()) write_file(dir / "tok512", with_vocab(512, tok512));
    const std::string llama = read_file(models / "tokenizer.bin");
    if (!llama.empty()) write_file(dir / "tokenizer-cut", with_vocab(32000, llama.substr(0, 4000)));
    int vocab = 0;
    const std::string bpe = gguf_bpe_vocab(vocab);
    write_file(dir / "gguf-bpe", with_vocab(vocab, bpe));
    const std::string spm = gguf_spm_vocab(vocab);
    write_file(dir / "gguf-spm", with_vocab(vocab, spm));
}

void tokenizer_text_seeds(const fs::path& dir) {
    const std::pair<const char*, std::string> texts[] = {
        {"story-512", "\x02Once upon a time, there was a little dog named Max."},
        {"story-32000", "\x03Once upon a time, there was a little dog named Max."},
        {"unicode-512", "\x02na\xC3\xAFve caf\xC3\xA9 \xF0\x9F\x99\x82 \xE6\x97\xA5\xE6\x9C\xAC"},
        {"unicode-32000", "\x07na\xC3\xAFve caf\xC3\xA9 \xF0\x9F\x99\x82 \xE6\x97\xA5\xE6\x9C\xAC"},
        {"bytes-no-bos", std::string("\x00tab\tnew\nline\x01\xFF\xC3", 16)},
        {"ids-512", std::string("\x08\x01\x00\x20\x01\xF9\x00\x9C\x00\x85\x00", 11)},
        {"ids-32000", std::string("\x09\x01\x00\x10\x27\x00\x7D\xAB\x01", 9)},
        {"llama3-story", "\x12Once upon a time, there was a little dog named Max. I'm 42, it's 1234567."},
        {"llama3-unicode", "\x16  na\xC3\xAFve caf\xC3\xA9\n\n\t\xF0\x9F\x99\x82\xE6\x97\xA5 <|eot_id|>"},
        {"llama3-bytes", std::string("\x10\x00tab\tnew\nline\x01\xFF\xC3 \xF0\x9F", 20)},
        {"llama3-ids", std::string("\x18\x09\xF4\x01\x00\xF4\x01\x09\x24\x00\xE8\x26\x00", 13)},
    };
    for (const auto& [name, bytes] : texts) write_file(dir / name, bytes);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_seeds OUT_DIR MODELS_DIR\n");
        return 2;
    }
    try {
        const fs::path out = argv[1];
        for (const char* fuzzer : {"checkpoint", "gguf", "tokenizer_loader", "tokenizer_text"}) fs::create_directories(out / fuzzer);
        checkpoint_seeds(out / "checkpoint");
        gguf_seeds(out / "gguf");
        tokenizer_loader_seeds(out / "tokenizer_loader", argv[2]);
        tokenizer_text_seeds(out / "tokenizer_text");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
