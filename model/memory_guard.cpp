#include "model/memory_guard.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "kernels/exec_context.h"
#include "model/transformer.h"

namespace wb {

namespace {

constexpr std::uint64_t kF32 = sizeof(float);
constexpr double kQ8BytesPerWeight = 1.0 + 4.0 / 64;  // export.py's Q8_0: int8 values, an fp32 scale per 64

// Floats outside the matmul matrices: the embedding table when the classifier is separate, and the norms.
std::uint64_t other_floats(const Config& c) {
    const std::uint64_t d = c.dim, layers = c.n_layers, vocab = c.vocab_size;
    return (c.shared_classifier ? 0 : vocab * d) + layers * 2 * d + d;
}

// Whether prepare() gives the kernel its own copy of a weight (PackedWeight::storage) rather than a view.
bool keeps_a_copy(const MatmulKernel& k) {
    if (!k.available()) return true;  // prepare() may not run here; assume the costlier case
    std::vector<float> w(8 * 64, 1.0f);
    ExecContext ctx(1);
    return k.prepare(WeightView{w.data(), nullptr, 8, 64}, ctx).storage != nullptr;
}

MemoryNeed need_with_weights(const Config& c, std::uint64_t weights) {
    const std::uint64_t seq = c.seq_len, batch = Transformer::kMaxBatch;
    MemoryNeed need;
    need.weights = weights;
    need.kv_cache = static_cast<std::uint64_t>(c.n_layers) * seq * c.kv_dim() * 2 * kF32;
    need.scratch = (batch * (4ull * c.dim + 2ull * c.hidden_dim) + c.vocab_size + seq * c.head_size()) * kF32;
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

MemoryNeed memory_need(const Config& c, const MatmulKernel& matmul) {
    const std::uint64_t matrices = c.matmul_params();
    std::uint64_t weights = (matrices + other_floats(c)) * kF32;
    if (keeps_a_copy(matmul)) {
        weights += static_cast<std::uint64_t>(static_cast<double>(matrices) * matmul.weight_bytes);
    }
    return need_with_weights(c, weights);
}

MemoryNeed q8_memory_need(const Config& c) {
    const std::uint64_t d = c.dim, layers = c.n_layers, vocab = c.vocab_size;
    const auto matrices = static_cast<std::uint64_t>(static_cast<double>(c.matmul_params()) * kQ8BytesPerWeight);
    return need_with_weights(c, matrices + (vocab * d + layers * 2 * d + d) * kF32);  // fp32 embedding lookup, norms
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

void require_memory(const std::string& name, const Config& c, const MatmulKernel& matmul, std::uint64_t available) {
    const MemoryNeed need = memory_need(c, matmul);
    if (need.total() <= available) return;
    std::string message = name + ": needs " + human(need.total()) + " of memory (weights " + human(need.weights) +
                          ", KV cache " + human(need.kv_cache) + ", activations " + human(need.scratch) + ") but " +
                          human(available) + " is available; not loading it";
    if (const MemoryNeed q8 = q8_memory_need(c); q8.total() <= available) {
        message += "; its int8 (Q8_0) form would need " + human(q8.total()) + " and fit";
    }
    throw ResourceError(message);
}

void require_disk(const std::string& path, std::uint64_t bytes, std::uint64_t free) {
    if (bytes <= free) return;
    throw ResourceError(path + ": needs " + human(bytes) + " of disk but only " + human(free) +
                        " is free there; not writing it");
}

}  // namespace wb
