#include "model/formats/gguf_writer.h"

#include <cstring>

namespace wb::gguf {

namespace {

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string& out, const std::string& s) {
    put<std::uint64_t>(out, s.size());
    out += s;
}

std::uint64_t align_up(std::uint64_t x) { return (x + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment; }

std::uint64_t rows_of(const TensorOut& t) {
    std::uint64_t rows = 1;
    for (std::size_t i = 1; i < t.dims.size(); i++) rows *= t.dims[i];
    return rows;
}

}  // namespace

void Metadata::add(const std::string& key, ValueType type, std::string value) {
    std::string encoded;
    put(encoded, static_cast<std::uint32_t>(type));
    entries_.emplace_back(key, encoded + value);
}

void Metadata::add_u32(const std::string& key, std::uint32_t v) {
    std::string s;
    put(s, v);
    add(key, ValueType::u32, s);
}

void Metadata::add_f32(const std::string& key, float v) {
    std::string s;
    put(s, v);
    add(key, ValueType::f32, s);
}

void Metadata::add_bool(const std::string& key, bool v) { add(key, ValueType::boolean, std::string(1, v ? '\1' : '\0')); }

void Metadata::add_string(const std::string& key, const std::string& v) {
    std::string s;
    put_string(s, v);
    add(key, ValueType::string, s);
}

void Metadata::add_strings(const std::string& key, const std::vector<std::string>& v) {
    std::string s;
    put(s, static_cast<std::uint32_t>(ValueType::string));
    put<std::uint64_t>(s, v.size());
    for (const std::string& e : v) put_string(s, e);
    add(key, ValueType::array, s);
}

void Metadata::add_f32s(const std::string& key, const std::vector<float>& v) {
    std::string s;
    put(s, static_cast<std::uint32_t>(ValueType::f32));
    put<std::uint64_t>(s, v.size());
    for (const float e : v) put(s, e);
    add(key, ValueType::array, s);
}

void Metadata::add_i32s(const std::string& key, const std::vector<std::int32_t>& v) {
    std::string s;
    put(s, static_cast<std::uint32_t>(ValueType::i32));
    put<std::uint64_t>(s, v.size());
    for (const std::int32_t e : v) put(s, e);
    add(key, ValueType::array, s);
}

void Metadata::copy(const std::string& key, const Value& v) {
    std::string s;
    if (v.type == ValueType::string) {
        put<std::uint64_t>(s, v.bytes.size());
    } else if (v.type == ValueType::array) {
        put(s, static_cast<std::uint32_t>(v.element));
        put<std::uint64_t>(s, v.count);
    }
    s.append(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size());
    add(key, v.type, s);
}

void Metadata::append(const Metadata& other) { entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end()); }

bool Metadata::has(const std::string& key) const {
    for (const auto& [k, v] : entries_) {
        if (k == key) return true;
    }
    return false;
}

std::uint64_t Metadata::bytes() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : entries_) n += 8 + k.size() + v.size();
    return n;
}

void Metadata::write(const ByteSink& out) const {
    std::string s;
    for (const auto& [k, v] : entries_) {
        s.clear();
        put_string(s, k);
        s += v;
        out(s.data(), s.size());
    }
}

Writer::Writer(Metadata metadata, std::vector<TensorOut> tensors, const std::string& name)
    : metadata_(std::move(metadata)), tensors_(std::move(tensors)) {
    if (!metadata_.has("general.alignment")) metadata_.add_u32("general.alignment", static_cast<std::uint32_t>(kDefaultAlignment));
    for (const TensorOut& t : tensors_) {
        const TypeTraits& traits = wb::traits(t.type);
        if (traits.quantize_row == nullptr || traits.gguf_id < 0) {
            throw LoadError(name + ": cannot write tensor '" + t.name + "' as " + traits.name);
        }
        if (t.dims.empty() || t.dims[0] % static_cast<std::uint64_t>(traits.block) != 0) {
            throw LoadError(name + ": tensor '" + t.name + "' rows are not whole " + traits.name + " blocks");
        }
        offsets_.push_back(data_bytes_);
        data_bytes_ = align_up(data_bytes_ + rows_of(t) * row_bytes(t.type, static_cast<std::int64_t>(t.dims[0])));
    }
}

std::uint64_t Writer::header_bytes() const {
    std::uint64_t n = 4 + 4 + 8 + 8 + metadata_.bytes();
    for (const TensorOut& t : tensors_) n += 8 + t.name.size() + 4 + 8 * t.dims.size() + 4 + 8;
    return align_up(n);
}

std::uint64_t Writer::file_bytes() const { return header_bytes() + data_bytes_; }

void Writer::write(const ByteSink& out, const TensorRows& rows) const {
    std::string head = "GGUF";
    put<std::uint32_t>(head, 3);
    put<std::uint64_t>(head, tensors_.size());
    put<std::uint64_t>(head, metadata_.size());
    out(head.data(), head.size());
    metadata_.write(out);
    std::uint64_t written = head.size() + metadata_.bytes();
    for (std::size_t i = 0; i < tensors_.size(); i++) {
        const TensorOut& t = tensors_[i];
        std::string info;
        put_string(info, t.name);
        put<std::uint32_t>(info, static_cast<std::uint32_t>(t.dims.size()));
        for (const std::uint64_t d : t.dims) put(info, d);
        put<std::uint32_t>(info, static_cast<std::uint32_t>(wb::traits(t.type).gguf_id));
        put(info, offsets_[i]);
        out(info.data(), info.size());
        written += info.size();
    }
    const std::string zeros(kDefaultAlignment, '\0');
    out(zeros.data(), align_up(written) - written);

    std::vector<float> row;
    std::vector<std::byte> encoded;
    std::uint64_t data = 0;
    for (std::size_t i = 0; i < tensors_.size(); i++) {
        const TensorOut& t = tensors_[i];
        const auto n = static_cast<std::int64_t>(t.dims[0]);
        row.resize(static_cast<std::size_t>(n));
        encoded.resize(row_bytes(t.type, n));
        const std::uint64_t count = rows_of(t);
        for (std::uint64_t r = 0; r < count; r++) {
            rows(i, static_cast<std::int64_t>(r), row.data());
            wb::traits(t.type).quantize_row(row.data(), encoded.data(), n);
            out(encoded.data(), encoded.size());
        }
        data += count * encoded.size();
        out(zeros.data(), align_up(data) - data);
        data = align_up(data);
    }
}

}  // namespace wb::gguf
