#include "model/synthetic.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

namespace wb {

namespace {

class Normal {
public:
    explicit Normal(std::uint64_t seed) : state_(seed) {}
    float operator()(float stddev) {
        if (has_spare_) {
            has_spare_ = false;
            return spare_ * stddev;
        }
        const double u1 = (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
        const double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
        has_spare_ = true;
        return static_cast<float>(r * std::cos(2.0 * M_PI * u2)) * stddev;
    }

private:
    std::uint64_t next() {  // splitmix64
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::uint64_t state_;
    float spare_ = 0.0f;
    bool has_spare_ = false;
};

using Sink = std::function<void(const void*, std::size_t)>;

// Streams a v0 file in order, a chunk of floats at a time.
void synthesize(const Config& c, std::uint64_t seed, const Sink& sink) {
    const std::int32_t header[7] = {c.dim,        c.hidden_dim, c.n_layers,
                                    c.n_heads,    c.n_kv_heads, c.shared_classifier ? c.vocab_size : -c.vocab_size,
                                    c.seq_len};
    sink(header, sizeof header);
    Normal normal(seed);
    std::vector<float> chunk(1 << 16);
    auto emit = [&](std::uint64_t count, const std::function<float(std::uint64_t)>& value) {
        for (std::uint64_t done = 0; done < count;) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), count - done));
            for (std::size_t i = 0; i < n; i++) chunk[i] = value(done + i);
            sink(chunk.data(), n * sizeof(float));
            done += n;
        }
    };
    const std::uint64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    auto random = [&](std::uint64_t) { return normal(0.02f); };
    auto ones = [](std::uint64_t) { return 1.0f; };
    auto zeros = [](std::uint64_t) { return 0.0f; };
    // Row 1 (BOS) of the classifier is zero: its logit is 0 while the best logit is several sigma up.
    auto classifier = [&](std::uint64_t i) { return i / d == 1 ? 0.0f : normal(0.02f); };
    emit(V * d, c.shared_classifier ? std::function<float(std::uint64_t)>(classifier) : random);
    emit(L * d, ones);
    emit(L * d * d, random);       // wq
    emit(L * kv * d * 2, random);  // wk, wv
    emit(L * d * d, random);       // wo
    emit(L * d, ones);
    emit(L * h * d * 3, random);  // w1, w2, w3
    emit(d, ones);
    emit(static_cast<std::uint64_t>(c.seq_len) * c.head_size(), zeros);  // freq_cis, unused
    if (!c.shared_classifier) emit(V * d, classifier);
}

}  // namespace

void write_synthetic(const Config& c, std::uint64_t seed, const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
    if (!f) throw LoadError(path + ": cannot create: " + std::strerror(errno));
    bool ok = true;
    synthesize(c, seed, [&](const void* p, std::size_t n) { ok = ok && std::fwrite(p, 1, n, f.get()) == n; });
    if (!ok || std::fflush(f.get()) != 0) throw LoadError(path + ": write failed: " + std::strerror(errno));
}

Checkpoint synthetic_checkpoint(const Config& c, std::uint64_t seed, const std::string& name) {
    std::vector<std::byte> bytes;
    bytes.reserve(v0_file_bytes(c));
    synthesize(c, seed, [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        bytes.insert(bytes.end(), b, b + n);
    });
    return Checkpoint::from_bytes(std::move(bytes), name);
}

}  // namespace wb
