#include "model/formats/gguf_model.h"

#include <climits>
#include <cstring>
#include <vector>

namespace wb {

namespace {

using gguf::GgufFile;
using gguf::TensorInfo;

constexpr GgufModelType kModelTypes[] = {
    {DType::f32, "f32", 0},         {DType::f16, "f16", 1},           {DType::bf16, "bf16", 32},
    {DType::q8_0, "q8_0", 7},       {DType::q4_0, "q4_0", 2},         {DType::q4_K, "q4_k", 14},
    {DType::q5_K, "q5_k", 16},      {DType::q6_K, "q6_k", 18},        {DType::q4_K, "q4_k_m", 15, true},
    {DType::q5_K, "q5_k_m", 17, true},
};

std::string shape_text(const std::vector<std::uint64_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); i++) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

// A hyperparameter that must be a whole number in [1, INT_MAX]; `fallback` when the key is absent (0: required).
int hyperparameter(const GgufFile& f, const std::string& key, int fallback = 0) {
    const std::optional<std::int64_t> v = f.get_int(key);
    if (!v) {
        if (fallback == 0) f.fail("missing metadata " + key);
        return fallback;
    }
    if (*v < 1 || *v > INT_MAX) f.fail(key + " " + std::to_string(*v) + " is out of range");
    return static_cast<int>(*v);
}

bool float_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % alignof(float) == 0; }

// The weight as fp32: itself when it is F32 and float-aligned in the file, else a copy kept by `owners`.
WeightView as_fp32(const WeightView& v, std::vector<std::shared_ptr<const void>>& owners) {
    if (v.dtype == DType::f32 && float_aligned(v.data)) return v;
    auto copy = std::make_shared<std::vector<float>>(static_cast<std::size_t>(v.d) * v.n);
    traits(v.dtype).dequantize_rows(v, 0, v.d, copy->data());
    owners.push_back(copy);
    return WeightView{copy->data(), nullptr, v.d, v.n};
}

}  // namespace

Checkpoint read_gguf(GgufFile f) {
    const std::optional<std::string> arch = f.get_string("general.architecture");
    if (!arch) f.fail("missing metadata general.architecture");
    if (*arch != "llama") f.fail("architecture '" + *arch + "' is not supported (only llama is)");

    Config c;
    c.dim = hyperparameter(f, "llama.embedding_length");
    c.hidden_dim = hyperparameter(f, "llama.feed_forward_length");
    c.n_layers = hyperparameter(f, "llama.block_count");
    c.n_heads = hyperparameter(f, "llama.attention.head_count");
    c.n_kv_heads = hyperparameter(f, "llama.attention.head_count_kv", c.n_heads);
    c.seq_len = hyperparameter(f, "llama.context_length");
    c.rope_theta = static_cast<float>(f.get_float("llama.rope.freq_base").value_or(10000.0));
    c.rms_eps = static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon").value_or(1e-5));
    const TensorInfo* embd = f.find_tensor("token_embd.weight");
    if (embd == nullptr) f.fail("missing tensor 'token_embd.weight'");
    if (embd->dims.size() != 2 || embd->dims[1] > INT_MAX) {
        f.fail("tensor 'token_embd.weight' has shape " + shape_text(embd->dims) + ", expected [dim, vocab]");
    }
    c.vocab_size = static_cast<int>(embd->dims[1]);
    if (const std::optional<std::int64_t> v = f.get_int("llama.vocab_size"); v && *v != c.vocab_size) {
        f.fail("llama.vocab_size " + std::to_string(*v) + " disagrees with token_embd.weight's " + std::to_string(c.vocab_size) + " rows");
    }
    c.shared_classifier = f.find_tensor("output.weight") == nullptr;
    if (const std::string why = c.problem(); !why.empty()) f.fail("implausible llama hyperparameters: " + why);
    const int rope_dims = hyperparameter(f, "llama.rope.dimension_count", c.head_size());
    if (rope_dims != c.head_size()) {
        f.fail("llama.rope.dimension_count " + std::to_string(rope_dims) + " differs from the head size " +
               std::to_string(c.head_size()) + " (partial RoPE is not supported)");
    }

    std::vector<std::shared_ptr<const void>> owners{f.bytes().owner};
    // The tensor's view, its shape checked: ggml lists dimensions innermost first, so a matrix is [cols, rows].
    auto view_of = [&](const std::string& name, std::int64_t rows, std::int64_t cols, bool vector) {
        const TensorInfo* t = f.find_tensor(name);
        if (t == nullptr) f.fail("missing tensor '" + name + "'");
        std::vector<std::uint64_t> expected{static_cast<std::uint64_t>(cols)};
        if (!vector) expected.push_back(static_cast<std::uint64_t>(rows));
        if (t->dims != expected) {
            f.fail("tensor '" + name + "' has shape " + shape_text(t->dims) + ", expected " + shape_text(expected) +
                   " for " + c.summary());
        }
        const TypeTraits* type = find_gguf_type(static_cast<int>(t->type));
        if (type == nullptr) {
            f.fail("tensor '" + name + "' has type " + gguf_type_name(static_cast<int>(t->type)) + ", which the workbench cannot read");
        }
        return WeightView{f.tensor_data(*t), nullptr, static_cast<int>(rows), static_cast<int>(cols), type->type};
    };

    const bool has_rope_freqs = f.find_tensor("rope_freqs.weight") != nullptr;
    if (has_rope_freqs) {
        const WeightView factors = as_fp32(view_of("rope_freqs.weight", 1, c.head_size() / 2, true), owners);
        const auto* first = static_cast<const float*>(factors.data);
        c.rope_freq_factors.assign(first, first + factors.n);
        if (const std::string why = c.problem(); !why.empty()) f.fail("rope_freqs.weight: " + why);
    }
    const std::vector<TensorSlot> slots = llama_tensors(c);
    Weights w;
    w.layers.resize(static_cast<std::size_t>(c.n_layers));
    WeightView embedding;
    for (const TensorSlot& t : slots) {
        const WeightView stored = view_of(t.gguf_name(), t.rows, t.cols, t.is_norm());
        if (t.role == Role::embedding) embedding = stored;
        // Norms and the embedding are read as fp32 arrays; an F32 matrix too when the file misaligns it.
        const bool needs_fp32 = t.is_norm() || t.role == Role::embedding ||
                                (stored.dtype == DType::f32 && !float_aligned(stored.data));
        set_slot(w, t, needs_fp32 ? as_fp32(stored, owners) : stored);
    }
    if (c.shared_classifier) {
        const bool misaligned = embedding.dtype == DType::f32 && !float_aligned(embedding.data);
        w.classifier = misaligned ? WeightView{w.token_embedding, nullptr, c.vocab_size, c.dim} : embedding;
    }
    // Every tensor must be one the forward pass uses: an ignored one (a bias, say) would give wrong answers.
    if (f.tensors().size() != slots.size() + (has_rope_freqs ? 1 : 0)) {
        for (const TensorInfo& t : f.tensors()) {
            bool used = t.name == "rope_freqs.weight";
            for (const TensorSlot& s : slots) used = used || s.gguf_name() == t.name;
            if (!used) f.fail("tensor '" + t.name + "' is not part of the llama model the workbench runs");
        }
    }

    std::shared_ptr<const Vocab> vocab;
    if (gguf::has_vocab(f)) {
        vocab = std::make_shared<const Vocab>(gguf::read_vocab(f));
        if (vocab->tokens.size() != static_cast<std::size_t>(c.vocab_size)) {
            f.fail("the vocabulary has " + std::to_string(vocab->tokens.size()) + " tokens but token_embd.weight has " +
                   std::to_string(c.vocab_size) + " rows");
        }
    }
    const std::string name = f.name();
    const int version = static_cast<int>(f.version());
    return Checkpoint(name, Format::gguf, version, std::move(c), std::move(w), std::move(owners), std::move(vocab));
}

const GgufModelType* find_gguf_model_type(std::string_view name) {
    for (const GgufModelType& t : kModelTypes) {
        if (name == t.name) return &t;
    }
    return nullptr;
}

std::string gguf_model_type_names() {
    std::string names;
    for (const GgufModelType& t : kModelTypes) names += (names.empty() ? "" : ", ") + std::string(t.name);
    return names;
}

DType gguf_tensor_type(const TensorSlot& t, const GgufModelType& type, int n_layers, bool shared_classifier) {
    if (t.is_norm()) return DType::f32;
    DType chosen = type.type;
    if (type.mixed) {
        const int i = t.layer, n = n_layers;
        const bool more_bits = i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
        const bool classifier = t.role == Role::classifier || (shared_classifier && t.role == Role::embedding);
        if (classifier || ((t.role == Role::wv || t.role == Role::w2) && more_bits)) chosen = DType::q6_K;
    }
    if (t.cols % traits(chosen).block == 0) return chosen;
    if (traits(chosen).block == 256 && t.cols % traits(DType::q8_0).block == 0) return DType::q8_0;
    return DType::f16;
}

GgufVocab vocab_metadata(const Vocab& v) {
    GgufVocab out;
    gguf::Metadata& m = out.keys;
    m.add_string("tokenizer.ggml.model", v.model);
    if (!v.pre.empty()) m.add_string("tokenizer.ggml.pre", v.pre);
    m.add_strings("tokenizer.ggml.tokens", v.tokens);
    if (!v.scores.empty()) m.add_f32s("tokenizer.ggml.scores", v.scores);
    if (!v.token_types.empty()) m.add_i32s("tokenizer.ggml.token_type", v.token_types);
    if (!v.merges.empty()) m.add_strings("tokenizer.ggml.merges", v.merges);
    if (v.bos >= 0) m.add_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(v.bos));
    if (v.eos >= 0) m.add_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(v.eos));
    if (v.eot >= 0) m.add_u32("tokenizer.ggml.eot_token_id", static_cast<std::uint32_t>(v.eot));
    m.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
    out.tokens = v.tokens.size();
    return out;
}

GgufVocab tokenizer_metadata(const GgufFile& f) {
    const Vocab v = gguf::read_vocab(f);  // checks it is there and consistent
    GgufVocab out;
    for (const gguf::KeyValue& kv : f.metadata()) {
        if (kv.key.starts_with("tokenizer.")) out.keys.copy(kv.key, kv.value);
    }
    out.tokens = v.tokens.size();
    return out;
}

gguf::Writer gguf_model_writer(const Config& c, const GgufModelOptions& o, const std::string& name) {
    if (o.vocab.tokens != static_cast<std::size_t>(c.vocab_size)) {
        throw LoadError(name + ": the vocabulary has " + std::to_string(o.vocab.tokens) + " tokens but the model " +
                        std::to_string(c.vocab_size));
    }
    const GgufModelType* type = nullptr;
    for (const GgufModelType& t : kModelTypes) {
        if (t.type == o.type && t.mixed == o.mixed) type = &t;
    }
    if (type == nullptr) throw LoadError(name + ": cannot write a model as " + traits(o.type).name);
    gguf::Metadata m;
    m.add_string("general.architecture", "llama");
    m.add_string("general.name", o.name);
    m.add_u32("general.file_type", type->file_type);
    if (traits(o.type).block > 1) m.add_u32("general.quantization_version", 2);
    m.add_u32("llama.vocab_size", static_cast<std::uint32_t>(c.vocab_size));
    m.add_u32("llama.context_length", static_cast<std::uint32_t>(c.seq_len));
    m.add_u32("llama.embedding_length", static_cast<std::uint32_t>(c.dim));
    m.add_u32("llama.block_count", static_cast<std::uint32_t>(c.n_layers));
    m.add_u32("llama.feed_forward_length", static_cast<std::uint32_t>(c.hidden_dim));
    m.add_u32("llama.attention.head_count", static_cast<std::uint32_t>(c.n_heads));
    m.add_u32("llama.attention.head_count_kv", static_cast<std::uint32_t>(c.n_kv_heads));
    m.add_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(c.head_size()));
    m.add_f32("llama.rope.freq_base", c.rope_theta);
    m.add_f32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
    m.append(o.vocab.keys);

    std::vector<gguf::TensorOut> tensors;
    if (!c.rope_freq_factors.empty()) {
        tensors.push_back({"rope_freqs.weight", {c.rope_freq_factors.size()}, DType::f32});
    }
    for (const TensorSlot& t : llama_tensors(c)) {
        std::vector<std::uint64_t> dims{static_cast<std::uint64_t>(t.cols)};
        if (!t.is_norm()) dims.push_back(static_cast<std::uint64_t>(t.rows));
        tensors.push_back({t.gguf_name(), dims, gguf_tensor_type(t, *type, c.n_layers, c.shared_classifier)});
    }
    return gguf::Writer(std::move(m), std::move(tensors), name);
}

void write_gguf_model(const Config& c, const RowSource& rows, const GgufModelOptions& o, const ByteSink& out,
                      const std::string& name) {
    const gguf::Writer writer = gguf_model_writer(c, o, name);
    const std::vector<TensorSlot> slots = llama_tensors(c);
    const std::size_t first_slot = c.rope_freq_factors.empty() ? 0 : 1;  // rope_freqs.weight comes first
    writer.write(out, [&](std::size_t tensor, std::int64_t row, float* values) {
        if (tensor < first_slot) {
            std::memcpy(values, c.rope_freq_factors.data(), c.rope_freq_factors.size() * sizeof(float));
        } else {
            rows(slots[tensor - first_slot], row, values);
        }
    });
}

}  // namespace wb
