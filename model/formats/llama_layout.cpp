#include "model/formats/llama_layout.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wb {

namespace {

// One row per role: its GGUF name, whether it repeats per layer, and its field in LayerWeights.
struct RoleRow {
    Role role;
    const char* gguf;
    WeightView LayerWeights::*matrix;
    const float* LayerWeights::*vector;
};

constexpr RoleRow kRoles[] = {
    {Role::embedding, "token_embd.weight", nullptr, nullptr},
    {Role::attn_norm, "attn_norm.weight", nullptr, &LayerWeights::rms_att},
    {Role::wq, "attn_q.weight", &LayerWeights::wq, nullptr},
    {Role::wk, "attn_k.weight", &LayerWeights::wk, nullptr},
    {Role::wv, "attn_v.weight", &LayerWeights::wv, nullptr},
    {Role::wo, "attn_output.weight", &LayerWeights::wo, nullptr},
    {Role::ffn_norm, "ffn_norm.weight", nullptr, &LayerWeights::rms_ffn},
    {Role::w1, "ffn_gate.weight", &LayerWeights::w1, nullptr},
    {Role::w2, "ffn_down.weight", &LayerWeights::w2, nullptr},
    {Role::w3, "ffn_up.weight", &LayerWeights::w3, nullptr},
    {Role::final_norm, "output_norm.weight", nullptr, nullptr},
    {Role::classifier, "output.weight", nullptr, nullptr},
};

const RoleRow& row_of(Role r) { return kRoles[static_cast<std::size_t>(r)]; }

WeightView fp32_view(const float* p, std::int64_t rows, std::int64_t cols) {
    return WeightView{p, nullptr, static_cast<int>(rows), static_cast<int>(cols)};
}

}  // namespace

std::string TensorSlot::gguf_name() const {
    const char* name = row_of(role).gguf;
    return layer < 0 ? name : "blk." + std::to_string(layer) + "." + name;
}

std::vector<TensorSlot> llama_tensors(const Config& c) {
    const std::int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), V = c.vocab_size;
    struct Shape {
        Role role;
        std::int64_t rows, cols;
    };
    const Shape per_layer[] = {{Role::attn_norm, 1, d}, {Role::wq, d, d},       {Role::wk, kv, d},
                               {Role::wv, kv, d},       {Role::wo, d, d},       {Role::ffn_norm, 1, d},
                               {Role::w1, h, d},        {Role::w2, d, h},       {Role::w3, h, d}};
    std::vector<TensorSlot> out{{Role::embedding, -1, V, d}};
    for (const Shape& s : per_layer) {
        for (int l = 0; l < c.n_layers; l++) out.push_back({s.role, l, s.rows, s.cols});
    }
    out.push_back({Role::final_norm, -1, 1, d});
    if (!c.shared_classifier) out.push_back({Role::classifier, -1, V, d});
    return out;
}

WeightView slot_view(const Weights& w, const TensorSlot& t) {
    const RoleRow& r = row_of(t.role);
    if (r.matrix != nullptr) return w.layers[static_cast<std::size_t>(t.layer)].*r.matrix;
    if (r.vector != nullptr) return fp32_view(w.layers[static_cast<std::size_t>(t.layer)].*r.vector, 1, t.cols);
    if (t.role == Role::embedding) return fp32_view(w.token_embedding, t.rows, t.cols);
    if (t.role == Role::final_norm) return fp32_view(w.rms_final, 1, t.cols);
    return w.classifier;
}

void set_slot(Weights& w, const TensorSlot& t, const WeightView& view) {
    const RoleRow& r = row_of(t.role);
    const auto* floats = static_cast<const float*>(view.data);
    if (t.layer >= 0 && w.layers.size() <= static_cast<std::size_t>(t.layer)) w.layers.resize(t.layer + 1);
    if (r.matrix != nullptr) {
        w.layers[static_cast<std::size_t>(t.layer)].*r.matrix = view;
    } else if (r.vector != nullptr) {
        w.layers[static_cast<std::size_t>(t.layer)].*r.vector = floats;
    } else if (t.role == Role::embedding) {
        w.token_embedding = floats;
    } else if (t.role == Role::final_norm) {
        w.rms_final = floats;
    } else {
        w.classifier = view;
    }
}

RowSource checkpoint_rows(const Checkpoint& ck) {
    return [&ck](const TensorSlot& t, std::int64_t row, float* out) {
        const WeightView v = slot_view(ck.weights(), t);
        traits(v.dtype).dequantize_rows(v, row, 1, out);
    };
}

FileSink::FileSink(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (file_ == nullptr) throw LoadError(path + ": cannot create: " + std::strerror(errno));
}

FileSink::~FileSink() {
    if (file_ == nullptr) return;
    std::fclose(file_);
    std::remove(path_.c_str());  // never left half written
}

ByteSink FileSink::sink() {
    return [this](const void* p, std::size_t n) {
        if (std::fwrite(p, 1, n, file_) != n) throw LoadError(path_ + ": write failed: " + std::strerror(errno));
    };
}

void FileSink::close() {
    const bool ok = std::fflush(file_) == 0;
    const int error = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed) throw LoadError(path_ + ": write failed: " + std::strerror(error));
}

}  // namespace wb
