// Writing GGUF v3: key-values in order, tensor infos, then the tensor data row by row, each tensor starting
// at a multiple of general.alignment (32). The reader beside it (gguf.h) reads what this writes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "types/weight_types.h"
#include "model/formats/gguf.h"
#include "model/formats/llama_layout.h"

namespace wb::gguf {

// Key-values to write, in the order added, each held encoded (type id, then the value).
class Metadata {
public:
    void add_u32(const std::string& key, std::uint32_t v);
    void add_f32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    void add_strings(const std::string& key, const std::vector<std::string>& v);
    void add_f32s(const std::string& key, const std::vector<float>& v);
    void add_i32s(const std::string& key, const std::vector<std::int32_t>& v);
    void copy(const std::string& key, const Value& v);  // a value read from another file, as it is
    void append(const Metadata& other);

    bool has(const std::string& key) const;
    std::size_t size() const { return entries_.size(); }
    std::uint64_t bytes() const;  // encoded size, keys included
    void write(const ByteSink& out) const;

private:
    void add(const std::string& key, ValueType type, std::string value);
    std::vector<std::pair<std::string, std::string>> entries_;  // key, encoded type and value
};

struct TensorOut {
    std::string name;
    std::vector<std::uint64_t> dims;  // innermost first: dims[0] is the row length
    DType type;                       // a type the table can write (quantize_row)
};

// out[dims[0]] = row `row` of tensor `tensor` as fp32; called for each tensor in order, rows in order.
using TensorRows = std::function<void(std::size_t tensor, std::int64_t row, float* out)>;

class Writer {
public:
    // Adds general.alignment to the metadata. Throws LoadError naming `name` for a tensor whose type cannot be
    // written or whose rows are not whole blocks of it.
    Writer(Metadata metadata, std::vector<TensorOut> tensors, const std::string& name);
    std::uint64_t file_bytes() const;  // what write() will put out
    void write(const ByteSink& out, const TensorRows& rows) const;

private:
    std::uint64_t header_bytes() const;  // up to the data section, padding included
    Metadata metadata_;
    std::vector<TensorOut> tensors_;
    std::vector<std::uint64_t> offsets_;  // of each tensor in the data section
    std::uint64_t data_bytes_ = 0;
};

}  // namespace wb::gguf
