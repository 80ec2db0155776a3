#include "model/memory_guard.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "kernels/exec_context.h"
#include "model/formats/llama_layout.h"
#include "model/transformer.h"

namespace wb {

namespace {

constexpr std::uint64_t kF32 = sizeof(float);
constexpr double kQ8BytesPerWeight = 34.0 / 32;  // GGUF's Q8_0: 32 int8 values and an fp16 scale per block

std::uint64_t stored_bytes(const WeightView& w) {
    const std::uint64_t elements = static_cast<std::uint64_t>(w.d) * w.n;
    if (w.dtype == DType::q8_v2) return elements + elements / w.group_size * sizeof(float);
    return row_bytes(w.dtype, w.n) * static_cast<std::uint64_t>(w.d);
}

void add_matrix(WeightFootprint& f, DType type, std::uint64_t elements, std::uint64_t bytes) {
    for (WeightFootprint::Matrices& m : f.matrices) {
        if (m.type == type) {
            m.elements += elements;
            m.bytes += bytes;
            return;
        }
    }
    f.matrices.push_back({type, elements, bytes});
}

MemoryNeed need_with_weights(const Config& c, std::uint64_t weights, CacheShape cache) {
    const std::uint64_t seq = c.seq_len, batch = Transformer::kMaxBatch;
    const std::uint64_t sequences = cache.sequences;
    MemoryNeed need;
    need.weights = weights;
    need.kv_cache = cache.bytes(c);
    const std::uint64_t fused = std::max(static_cast<std::uint64_t>(c.dim) + 2ull * c.kv_dim(), 2ull * c.hidden_dim);
    need.scratch = (batch * (4ull * c.dim + 2ull * c.hidden_dim + 2ull * c.kv_dim() + fused) +
                    sequences * c.vocab_size + seq * c.head_size()) * kF32;
    return need;
}

std::string human(std::uint64_t bytes) {
    const double gib = static_cast<double>(bytes) / (1ull << 30);
    char text[32];
    if (gib >= 1.0) {
        std::snprintf(text, sizeof text, "%.1f GiB", gib);
    } else {
        std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
    }
    return text;
}

}  // namespace

WeightFootprint footprint(const Checkpoint& ck) {
    const Config& c = ck.config();
    const Weights& w = ck.weights();
    WeightFootprint f;
    for (const TensorSlot& t : llama_tensors(c)) {
        if (t.is_norm()) {
            f.fp32_bytes += static_cast<std::uint64_t>(t.cols) * kF32;
        } else if (t.role != Role::embedding) {
            const WeightView v = slot_view(w, t);
            add_matrix(f, v.dtype, static_cast<std::uint64_t>(v.d) * v.n, stored_bytes(v));
        }
    }
    const WeightView& classifier = w.classifier;
    const std::uint64_t table = static_cast<std::uint64_t>(c.vocab_size) * c.dim;
    if (c.shared_classifier) add_matrix(f, classifier.dtype, table, stored_bytes(classifier));
    if (classifier.data != w.token_embedding) f.fp32_bytes += table * kF32;  // a lookup table of its own
    return f;
}

std::vector<DType> stored_types(const WeightFootprint& w) {
    std::vector<WeightFootprint::Matrices> by_size = w.matrices;
    std::stable_sort(by_size.begin(), by_size.end(), [](const auto& a, const auto& b) { return a.elements > b.elements; });
    std::vector<DType> types;
    for (const WeightFootprint::Matrices& m : by_size) types.push_back(m.type);
    return types;
}

double streamed_bytes_per_weight(const WeightFootprint& w, const Kernels& k) {
    double bytes = 0, elements = 0;
    for (const WeightFootprint::Matrices& m : w.matrices) {
        bytes += static_cast<double>(m.elements) * k.matmul_for(m.type).bytes_per_weight();
        elements += static_cast<double>(m.elements);
    }
    return elements > 0 ? bytes / elements : k.matmul->bytes_per_weight();
}

WeightFootprint fp32_footprint(const Config& c) {
    const std::uint64_t d = c.dim, layers = c.n_layers, vocab = c.vocab_size;
    WeightFootprint f;
    add_matrix(f, DType::f32, c.matmul_params(), c.matmul_params() * kF32);
    f.fp32_bytes = ((c.shared_classifier ? 0 : vocab * d) + layers * 2 * d + d) * kF32;
    return f;
}

template <class KernelFor>
static MemoryNeed need_for(const Config& c, const WeightFootprint& w, KernelFor kernel_for, CacheShape cache) {
    std::uint64_t weights = w.fp32_bytes;
    for (const WeightFootprint::Matrices& m : w.matrices) {
        weights += m.bytes;
        const MatmulKernel& matmul = kernel_for(m.type);
        if (matmul.copies(m.type)) {
            weights += static_cast<std::uint64_t>(static_cast<double>(m.elements) * matmul.bytes_per_weight());
        }
    }
    return need_with_weights(c, weights, cache);
}

MemoryNeed memory_need(const Config& c, const WeightFootprint& w, const MatmulKernel& matmul, CacheShape cache) {
    return need_for(c, w, [&](DType) -> const MatmulKernel& { return matmul; }, cache);
}

MemoryNeed memory_need(const Config& c, const WeightFootprint& w, const Kernels& kernels, CacheShape cache) {
    return need_for(c, w, [&](DType t) -> const MatmulKernel& { return kernels.matmul_for(t); }, cache);
}

MemoryNeed memory_need(const Config& c, const MatmulKernel& matmul, CacheShape cache) {
    return memory_need(c, fp32_footprint(c), matmul, cache);
}

MemoryNeed q8_memory_need(const Config& c, CacheShape cache) {
    const std::uint64_t d = c.dim, layers = c.n_layers, vocab = c.vocab_size;
    const auto matrices = static_cast<std::uint64_t>(static_cast<double>(c.matmul_params()) * kQ8BytesPerWeight);
    return need_with_weights(c, matrices + (vocab * d + layers * 2 * d + d) * kF32, cache);  // fp32 embedding, norms
}

std::optional<std::uint64_t> available_memory() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kib = 0;
    while (in >> key >> kib) {
        if (key == "MemAvailable:") return kib * 1024;
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return std::nullopt;
}

std::optional<std::uint64_t> disk_space_for(const std::string& path) {
    const std::filesystem::path p(path);
    const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    struct statvfs fs {};
    if (statvfs(dir.c_str(), &fs) != 0) return std::nullopt;
    std::uint64_t bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) bytes += static_cast<std::uint64_t>(st.st_size);
    return bytes;
}

static void refuse_unless_fits(const std::string& name, const Config& c, const MemoryNeed& need, std::uint64_t available,
                               CacheShape cache) {
    if (need.total() <= available) return;
    const std::string sequences = cache.sequences == 1 ? "" :
        " for " + std::to_string(cache.sequences) + " sequences of " +
        std::to_string(cache.positions(c)) + " positions";
    std::string other_types;  // the same cache in the other types
    for (const DType t : kKvTypes) {
        if (t == cache.kv_type) continue;
        CacheShape as_t = cache;
        as_t.kv_type = t;
        other_types += std::string(other_types.empty() ? "" : ", ") + kv_type_name(t) + " " + human(as_t.bytes(c));
    }
    std::string message = name + ": needs " + human(need.total()) + " of memory (weights " + human(need.weights) +
                          ", KV cache " + human(need.kv_cache) + " as " + kv_type_name(cache.kv_type) + sequences +
                          " (as " + other_types + "), activations " + human(need.scratch) + ") but " + human(available) +
                          " is available; not loading it";
    if (const MemoryNeed q8 = q8_memory_need(c, cache); q8.total() <= available) {
        message += "; its int8 (Q8_0) form would need " + human(q8.total()) + " and fit";
    }
    throw ResourceError(message);
}

void require_memory(const std::string& name, const Config& c, const MatmulKernel& matmul, std::uint64_t available,
                    CacheShape cache) {
    require_memory(name, c, fp32_footprint(c), matmul, available, cache);
}

void require_memory(const std::string& name, const Config& c, const WeightFootprint& w, const MatmulKernel& matmul,
                    std::uint64_t available, CacheShape cache) {
    refuse_unless_fits(name, c, memory_need(c, w, matmul, cache), available, cache);
}

void require_memory(const std::string& name, const Config& c, const WeightFootprint& w, const Kernels& kernels,
                    std::uint64_t available, CacheShape cache) {
    refuse_unless_fits(name, c, memory_need(c, w, kernels, cache), available, cache);
}

void require_disk(const std::string& path, std::uint64_t bytes, std::uint64_t free) {
    if (bytes <= free) return;
    throw ResourceError(path + ": needs " + human(bytes) + " of disk but only " + human(free) +
                        " is free there; not writing it");
}

}  // namespace wb
