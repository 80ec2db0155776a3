// GGUF files (versions 2 and 3, little-endian), memory-mapped: the header, every metadata value, the
// tensor infos and where the tensor data starts. Parsing checks every length, count, dimension and offset
// against the file, so a GgufFile that exists is safe to read anywhere it points. The architecture's
// meaning (llama.* keys, tensor names) is the checkpoint reader's business, not this one's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/formats/mapped_file.h"
#include "model/load_error.h"
#include "model/tokenizers/vocab.h"

namespace wb::gguf {

inline constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr std::uint64_t kDefaultAlignment = 32;

// Metadata value types, numbered as the GGUF specification numbers them.
enum class ValueType : std::uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* type_name(ValueType t);  // "u32", "string", "array", ...

// One metadata value; `bytes` points into the file. Scalars: the value's bytes. String: the characters
// (the length prefix excluded). Array: its elements, `count` of `element` type, back to back.
struct Value {
    ValueType type = ValueType::u8;
    ValueType element = ValueType::u8;  // arrays only
    std::uint64_t count = 0;            // arrays only
    std::span<const std::byte> bytes;

    bool is_integer() const;  // u8 .. i64 (bool excluded)
    bool is_float() const;    // f32 or f64
    std::int64_t as_int() const;                // integer types (u64 above INT64_MAX: the caller checks is_integer)
    double as_float() const;                    // f32, f64 or an integer type
    bool as_bool() const;                       // boolean
    std::string_view as_string() const;         // string
    std::vector<Value> elements() const;        // array: each element as a Value
};

struct KeyValue {
    std::string key;
    Value value;
};

// One tensor: its name, dimensions innermost first (ne[0] is the row length), the ggml type id,
// and the offset of its bytes from the start of the data section.
struct TensorInfo {
    std::string name;
    std::vector<std::uint64_t> dims;
    std::uint32_t type = 0;
    std::uint64_t offset = 0;
    std::uint64_t elements() const;
    std::optional<std::uint64_t> bytes() const;  // nullopt for a type the weight table lacks
};

class GgufFile {
public:
    // Throws LoadError ("PATH: what is wrong") for a missing, foreign, truncated or inconsistent file.
    static GgufFile open(const std::string& path);
    static GgufFile parse(Bytes bytes, const std::string& name);
    static bool has_magic(const std::byte* data, std::size_t size);

    const std::string& name() const { return name_; }
    std::uint32_t version() const { return version_; }
    std::uint64_t alignment() const { return alignment_; }
    std::uint64_t data_offset() const { return data_offset_; }  // start of the tensor data, aligned
    const Bytes& bytes() const { return bytes_; }

    const std::vector<KeyValue>& metadata() const { return metadata_; }  // in file order
    const Value* find(std::string_view key) const;                     // null when absent
    // Typed lookups: nullopt when the key is absent; LoadError naming the key when its type is wrong.
    std::optional<std::int64_t> get_int(std::string_view key) const;  // any integer type
    std::optional<double> get_float(std::string_view key) const;      // f32, f64 or any integer type
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<std::vector<std::string>> get_strings(std::string_view key) const;  // array of string
    std::optional<std::vector<float>> get_floats(std::string_view key) const;         // array of f32/f64/int
    std::optional<std::vector<std::int64_t>> get_ints(std::string_view key) const;    // array of integers
    // As above, but absence is a LoadError too.
    std::int64_t require_int(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;  // null when absent
    const std::byte* tensor_data(const TensorInfo& t) const { return bytes_.data + data_offset_ + t.offset; }

    // "NAME: message", the one-line form every error about this file takes.
    [[noreturn]] void fail(const std::string& message) const;

private:
    GgufFile() = default;
    Bytes bytes_;
    std::string name_;
    std::uint32_t version_ = 0;
    std::uint64_t alignment_ = kDefaultAlignment;
    std::uint64_t data_offset_ = 0;
    std::vector<KeyValue> metadata_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, std::size_t, std::less<>> key_index_;     // key -> metadata_ index
    std::map<std::string, std::size_t, std::less<>> tensor_index_;  // name -> tensors_ index
};

// Whether the file carries a vocabulary (tokenizer.ggml.tokens).
bool has_vocab(const GgufFile& f);
// The vocabulary from tokenizer.ggml.*: tokens (required), scores, token types, merges, pre, BOS/EOS/EOT
// (ids checked against the vocabulary), add_bos_token. eot: tokenizer.ggml.eot_token_id, else the id of
// "<|eot_id|>" when the vocabulary has it. Throws LoadError when there is none or it is inconsistent.
Vocab read_vocab(const GgufFile& f);
// Opens any GGUF (a model or a vocabulary-only file with no tensors) for its vocabulary.
Vocab read_vocab(const std::string& path);

}  // namespace wb::gguf
