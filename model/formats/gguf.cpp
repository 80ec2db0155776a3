#include "model/formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "types/weight_types.h"

namespace wb::gguf {

namespace {

constexpr std::uint32_t kMaxDims = 4;        // ggml's GGML_MAX_DIMS
constexpr int kMaxNesting = 8;               // arrays of arrays deeper than this are refused
constexpr std::size_t kScalarBytes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // by ValueType; 0: variable
constexpr const char* kValueTypeNames[] = {"u8",  "i8",  "u16",    "i16",   "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};
constexpr std::size_t kValueTypes = std::size(kValueTypeNames);

// Whether ggml defines this type id (gguf_type_name says "type N" for ids it lacks).
bool ggml_defines(std::uint32_t id) {
    return id <= static_cast<std::uint32_t>(INT32_MAX) && !gguf_type_name(static_cast<int>(id)).starts_with("type ");
}

std::size_t scalar_bytes(ValueType t) { return kScalarBytes[static_cast<std::uint32_t>(t)]; }

template <class T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Reads the file front to back; every read is checked against the end, every error names the file.
class Reader {
public:
    Reader(const std::byte* data, std::size_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

    std::size_t pos() const { return pos_; }
    std::size_t left() const { return size_ - pos_; }

    [[noreturn]] void fail(const std::string& what) const { throw LoadError(name_ + ": " + what); }

    const std::byte* take(std::uint64_t n, const char* what) {
        if (n > left()) {
            fail(std::string(what) + " at byte " + std::to_string(pos_) + " needs " + std::to_string(n) +
                 " bytes but the file ends after " + std::to_string(left()) + " more");
        }
        const std::byte* p = data_ + pos_;
        pos_ += static_cast<std::size_t>(n);
        return p;
    }
    std::uint32_t u32(const char* what) { return load<std::uint32_t>(take(4, what)); }
    std::uint64_t u64(const char* what) { return load<std::uint64_t>(take(8, what)); }

    std::string_view string(const char* what) {
        const std::size_t at = pos_;
        const std::uint64_t n = u64(what);
        if (n > left()) {
            fail(std::string(what) + " at byte " + std::to_string(at) + " claims " + std::to_string(n) +
                 " bytes but only " + std::to_string(left()) + " remain");
        }
        return {reinterpret_cast<const char*>(take(n, what)), static_cast<std::size_t>(n)};
    }

    ValueType value_type(const std::string& context) {
        const std::size_t at = pos_;
        const std::uint32_t t = u32("value type");
        if (t >= kValueTypes) {
            fail(context + ": unknown value type " + std::to_string(t) + " at byte " + std::to_string(at));
        }
        return static_cast<ValueType>(t);
    }

    // A value of type t: checks its extent and returns where it lies.
    Value value(ValueType t, const std::string& context, int depth = 0) {
        Value v;
        v.type = t;
        if (const std::size_t n = scalar_bytes(t); n != 0) {
            v.bytes = {take(n, "value"), n};
        } else if (t == ValueType::string) {
            const std::string_view s = string("string");
            v.bytes = std::as_bytes(std::span(s.data(), s.size()));
        } else {
            if (depth >= kMaxNesting) fail(context + ": arrays nested deeper than " + std::to_string(kMaxNesting));
            v.element = value_type(context);
            const std::size_t at = pos_;
            v.count = u64("array count");
            // Every element takes at least this many bytes, so a count past left() / least cannot fit.
            const std::size_t least = v.element == ValueType::string  ? 8
                                      : v.element == ValueType::array ? 12
                                                                      : scalar_bytes(v.element);
            if (v.count > left() / least) {
                fail(context + ": array at byte " + std::to_string(at) + " claims " + std::to_string(v.count) + " " +
                     type_name(v.element) + " elements but only " + std::to_string(left()) + " bytes remain");
            }
            const std::byte* first = data_ + pos_;
            if (scalar_bytes(v.element) != 0) {
                take(v.count * least, "array");
            } else {
                for (std::uint64_t i = 0; i < v.count; i++) value(v.element, context, depth + 1);
            }
            v.bytes = {first, static_cast<std::size_t>(data_ + pos_ - first)};
        }
        return v;
    }

private:
    const std::byte* data_;
    std::size_t size_;
    const std::string& name_;
    std::size_t pos_ = 0;
};

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

const char* type_name(ValueType t) {
    const auto i = static_cast<std::uint32_t>(t);
    return i < kValueTypes ? kValueTypeNames[i] : "unknown";
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::u8: case ValueType::i8: case ValueType::u16: case ValueType::i16:
        case ValueType::u32: case ValueType::i32: case ValueType::u64: case ValueType::i64:
            return true;
        default:
            return false;
    }
}

bool Value::is_float() const { return type == ValueType::f32 || type == ValueType::f64; }

std::int64_t Value::as_int() const {
    const std::byte* p = bytes.data();
    switch (type) {
        case ValueType::u8: return load<std::uint8_t>(p);
        case ValueType::i8: return load<std::int8_t>(p);
        case ValueType::u16: return load<std::uint16_t>(p);
        case ValueType::i16: return load<std::int16_t>(p);
        case ValueType::u32: return load<std::uint32_t>(p);
        case ValueType::i32: return load<std::int32_t>(p);
        case ValueType::u64: return static_cast<std::int64_t>(load<std::uint64_t>(p));
        case ValueType::i64: return load<std::int64_t>(p);
        default: return 0;
    }
}

double Value::as_float() const {
    if (type == ValueType::f32) return load<float>(bytes.data());
    if (type == ValueType::f64) return load<double>(bytes.data());
    return static_cast<double>(as_int());
}

bool Value::as_bool() const { return std::to_integer<int>(bytes[0]) != 0; }

std::string_view Value::as_string() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

std::vector<Value> Value::elements() const {
    std::vector<Value> out;
    out.reserve(static_cast<std::size_t>(count));
    const std::string name = "array";
    Reader r(bytes.data(), bytes.size(), name);  // already checked at parse; cannot fail
    for (std::uint64_t i = 0; i < count; i++) out.push_back(r.value(element, name, 1));
    return out;
}

std::uint64_t TensorInfo::elements() const {
    std::uint64_t n = 1;
    for (const std::uint64_t d : dims) n *= d;
    return n;
}

std::optional<std::uint64_t> TensorInfo::bytes() const {
    const TypeTraits* t = find_gguf_type(static_cast<int>(type));
    if (t == nullptr) return std::nullopt;
    return elements() / static_cast<std::uint64_t>(t->block) * static_cast<std::uint64_t>(t->block_bytes);
}

bool GgufFile::has_magic(const std::byte* data, std::size_t size) {
    return size >= 4 && load<std::uint32_t>(data) == kMagic;
}

GgufFile GgufFile::open(const std::string& path) { return parse(map_file(path, "GGUF file"), path); }

void GgufFile::fail(const std::string& message) const { throw LoadError(name_ + ": " + message); }

GgufFile GgufFile::parse(Bytes bytes, const std::string& name) {
    GgufFile f;
    f.bytes_ = std::move(bytes);
    f.name_ = name;
    Reader r(f.bytes_.data, f.bytes_.size, f.name_);
    if (!has_magic(f.bytes_.data, f.bytes_.size)) r.fail("not a GGUF file (no GGUF magic)");
    r.take(4, "magic");
    f.version_ = r.u32("version");
    if (f.version_ == 0x02000000 || f.version_ == 0x03000000) r.fail("big-endian GGUF is not supported");
    if (f.version_ != 2 && f.version_ != 3) {
        r.fail("GGUF version " + std::to_string(f.version_) + " is not supported (2 and 3 are)");
    }
    const std::uint64_t n_tensors = r.u64("tensor count");
    const std::uint64_t n_kv = r.u64("metadata count");
    // A tensor info takes at least 32 bytes (empty name, one dimension), a key-value pair at least 13.
    if (n_tensors > r.left() / 32) {
        r.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file's " + std::to_string(r.left()) +
               " remaining bytes");
    }
    if (n_kv > r.left() / 13) {
        r.fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file's " + std::to_string(r.left()) +
               " remaining bytes");
    }

    f.metadata_.reserve(static_cast<std::size_t>(n_kv));
    for (std::uint64_t i = 0; i < n_kv; i++) {
        const std::size_t at = r.pos();
        std::string key(r.string("metadata key"));
        if (!f.key_index_.emplace(key, f.metadata_.size()).second) {
            r.fail("duplicate metadata key '" + key + "' at byte " + std::to_string(at));
        }
        const std::string context = "metadata '" + key + "'";
        const ValueType t = r.value_type(context);
        f.metadata_.push_back({std::move(key), r.value(t, context)});
    }
    if (const Value* a = f.find("general.alignment")) {
        if (a->type != ValueType::u32) r.fail(std::string("general.alignment is a ") + type_name(a->type) + ", not a u32");
        const std::int64_t v = a->as_int();
        if (v == 0 || (v & (v - 1)) != 0) r.fail("general.alignment " + std::to_string(v) + " is not a power of two");
        f.alignment_ = static_cast<std::uint64_t>(v);
    }

    f.tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; i++) {
        const std::size_t at = r.pos();
        TensorInfo t;
        t.name = std::string(r.string("tensor name"));
        if (!f.tensor_index_.emplace(t.name, f.tensors_.size()).second) {
            r.fail("duplicate tensor '" + t.name + "' at byte " + std::to_string(at));
        }
        const std::string what = "tensor '" + t.name + "'";
        const std::uint32_t n_dims = r.u32("dimension count");
        if (n_dims == 0 || n_dims > kMaxDims) {
            r.fail(what + " has " + std::to_string(n_dims) + " dimensions (1.." + std::to_string(kMaxDims) + " allowed)");
        }
        std::uint64_t elements = 1;
        for (std::uint32_t d = 0; d < n_dims; d++) {
            const std::uint64_t ne = r.u64("dimension");
            if (ne == 0) r.fail(what + " has an empty dimension");
            if (ne > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / elements) {
                r.fail(what + " has dimensions whose product overflows");
            }
            elements *= ne;
            t.dims.push_back(ne);
        }
        t.type = r.u32("tensor type");
        if (!ggml_defines(t.type)) r.fail(what + " has unknown type id " + std::to_string(t.type));
        t.offset = r.u64("tensor offset");
        if (t.offset % f.alignment_ != 0) {
            r.fail(what + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                   std::to_string(f.alignment_));
        }
        if (const TypeTraits* traits = find_gguf_type(static_cast<int>(t.type));
            traits != nullptr && t.dims[0] % static_cast<std::uint64_t>(traits->block) != 0) {
            r.fail(what + " rows of " + std::to_string(t.dims[0]) + " are not whole " + traits->name + " blocks of " +
                   std::to_string(traits->block));
        }
        f.tensors_.push_back(std::move(t));
    }
    f.data_offset_ = align_up(r.pos(), f.alignment_);
    if (!f.tensors_.empty() && f.data_offset_ > f.bytes_.size) {
        r.fail("tensor data would start at byte " + std::to_string(f.data_offset_) + ", past the end of the file (" +
               std::to_string(f.bytes_.size) + " bytes)");
    }
    const std::uint64_t data_bytes = f.tensors_.empty() ? 0 : f.bytes_.size - f.data_offset_;
    for (const TensorInfo& t : f.tensors_) {
        // Blocks of the tensor's type; the extent of a type the table lacks is not known (it is refused at use).
        const TypeTraits* traits = find_gguf_type(static_cast<int>(t.type));
        const std::uint64_t blocks = traits != nullptr ? t.elements() / static_cast<std::uint64_t>(traits->block) : 0;
        const std::uint64_t block_bytes = traits != nullptr ? static_cast<std::uint64_t>(traits->block_bytes) : 1;
        if (t.offset > data_bytes || blocks > (data_bytes - t.offset) / block_bytes) {
            r.fail("tensor '" + t.name + "' (" + std::to_string(t.elements()) + " elements of " + gguf_type_name(static_cast<int>(t.type)) +
                   " at data offset " + std::to_string(t.offset) + ") runs past the end of the file");
        }
    }
    return f;
}

const Value* GgufFile::find(std::string_view key) const {
    const auto it = key_index_.find(key);
    return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

[[noreturn]] void wrong_type(const GgufFile& f, std::string_view key, const Value& v, const char* expected) {
    std::string got = type_name(v.type);
    if (v.type == ValueType::array) got += std::string(" of ") + type_name(v.element);
    f.fail(std::string(key) + " is a " + got + ", expected " + expected);
}

}  // namespace

std::optional<std::int64_t> GgufFile::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_integer()) wrong_type(*this, key, *v, "an integer");
    if (v->type == ValueType::u64 && v->as_int() < 0) fail(std::string(key) + " is out of range");
    return v->as_int();
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_float() && !v->is_integer()) wrong_type(*this, key, *v, "a number");
    return v->as_float();
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != ValueType::boolean) wrong_type(*this, key, *v, "a bool");
    return v->as_bool();
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != ValueType::string) wrong_type(*this, key, *v, "a string");
    return std::string(v->as_string());
}

std::optional<std::vector<std::string>> GgufFile::get_strings(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != ValueType::array || v->element != ValueType::string) wrong_type(*this, key, *v, "an array of string");
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(v->count));
    for (const Value& e : v->elements()) out.emplace_back(e.as_string());
    return out;
}

std::optional<std::vector<float>> GgufFile::get_floats(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    Value probe;
    probe.type = v->element;
    if (v->type != ValueType::array || (!probe.is_float() && !probe.is_integer())) {
        wrong_type(*this, key, *v, "an array of numbers");
    }
    std::vector<float> out;
    out.reserve(static_cast<std::size_t>(v->count));
    for (const Value& e : v->elements()) out.push_back(static_cast<float>(e.as_float()));
    return out;
}

std::optional<std::vector<std::int64_t>> GgufFile::get_ints(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    Value probe;
    probe.type = v->element;
    if (v->type != ValueType::array || !probe.is_integer()) wrong_type(*this, key, *v, "an array of integers");
    std::vector<std::int64_t> out;
    out.reserve(static_cast<std::size_t>(v->count));
    for (const Value& e : v->elements()) out.push_back(e.as_int());
    return out;
}

std::int64_t GgufFile::require_int(std::string_view key) const {
    if (const std::optional<std::int64_t> v = get_int(key)) return *v;
    fail("missing metadata " + std::string(key));
}

bool has_vocab(const GgufFile& f) { return f.find("tokenizer.ggml.tokens") != nullptr; }

Vocab read_vocab(const GgufFile& f) {
    Vocab v;
    std::optional<std::vector<std::string>> tokens = f.get_strings("tokenizer.ggml.tokens");
    if (!tokens) f.fail("carries no vocabulary (no tokenizer.ggml.tokens)");
    if (tokens->empty()) f.fail("tokenizer.ggml.tokens is empty");
    v.tokens = std::move(*tokens);
    v.model = f.get_string("tokenizer.ggml.model").value_or("");
    if (v.model.empty()) f.fail("missing metadata tokenizer.ggml.model");
    v.pre = f.get_string("tokenizer.ggml.pre").value_or("");
    const std::size_t n = v.tokens.size();
    if (std::optional<std::vector<float>> scores = f.get_floats("tokenizer.ggml.scores")) {
        if (scores->size() != n) {
            f.fail("tokenizer.ggml.scores has " + std::to_string(scores->size()) + " entries for " + std::to_string(n) + " tokens");
        }
        v.scores = std::move(*scores);
    }
    if (std::optional<std::vector<std::int64_t>> types = f.get_ints("tokenizer.ggml.token_type")) {
        if (types->size() != n) {
            f.fail("tokenizer.ggml.token_type has " + std::to_string(types->size()) + " entries for " + std::to_string(n) + " tokens");
        }
        for (const std::int64_t t : *types) {
            if (t < 0 || t > 6) f.fail("tokenizer.ggml.token_type holds an unknown token type " + std::to_string(t));
            v.token_types.push_back(static_cast<std::int32_t>(t));
        }
    }
    if (std::optional<std::vector<std::string>> merges = f.get_strings("tokenizer.ggml.merges")) v.merges = std::move(*merges);
    auto token_id = [&](const char* key) {
        const std::optional<std::int64_t> id = f.get_int(key);
        if (!id) return -1;
        if (*id < 0 || static_cast<std::uint64_t>(*id) >= n) {
            f.fail(std::string(key) + " " + std::to_string(*id) + " is outside the vocabulary of " + std::to_string(n));
        }
        return static_cast<int>(*id);
    };
    v.bos = token_id("tokenizer.ggml.bos_token_id");
    v.eos = token_id("tokenizer.ggml.eos_token_id");
    v.eot = token_id("tokenizer.ggml.eot_token_id");
    if (v.eot < 0) {
        const auto it = std::find(v.tokens.begin(), v.tokens.end(), "<|eot_id|>");
        if (it != v.tokens.end()) v.eot = static_cast<int>(it - v.tokens.begin());
    }
    v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
    return v;
}

Vocab read_vocab(const std::string& path) { return read_vocab(GgufFile::open(path)); }

}  // namespace wb::gguf
