#include "model/synthetic.h"

#include <cmath>
#include <memory>
#include <vector>

#include "model/formats/llama2c.h"

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

}  // namespace

RowSource synthetic_rows(const Config& c, std::uint64_t seed) {
    auto normal = std::make_shared<Normal>(seed);
    const bool shared = c.shared_classifier;
    return [normal, shared](const TensorSlot& t, std::int64_t row, float* out) {
        const bool classifier = t.role == Role::classifier || (t.role == Role::embedding && shared);
        for (std::int64_t j = 0; j < t.cols; j++) {
            // Row 1 (BOS) of the classifier is zero: its logit is 0 while the best logit is several sigma up.
            out[j] = t.is_norm() ? 1.0f : classifier && row == 1 ? 0.0f : (*normal)(0.02f);
        }
    };
}

void write_synthetic(const Config& c, std::uint64_t seed, const std::string& path) {
    FileSink file(path);
    llama2c::write_v0(c, synthetic_rows(c, seed), file.sink(), path);
    file.close();
}

Checkpoint synthetic_checkpoint(const Config& c, std::uint64_t seed, const std::string& name) {
    return checkpoint_from_rows(c, synthetic_rows(c, seed), name);
}

Checkpoint checkpoint_from_rows(const Config& c, const RowSource& rows, const std::string& name) {
    if (const std::string why = c.problem(); !why.empty()) throw LoadError(name + ": implausible config: " + why);
    const std::vector<TensorSlot> slots = llama_tensors(c);
    std::uint64_t floats = 0;
    for (const TensorSlot& t : slots) floats += static_cast<std::uint64_t>(t.rows) * t.cols;
    auto values = std::make_shared<std::vector<float>>(floats);
    Weights w;
    w.layers.resize(static_cast<std::size_t>(c.n_layers));
    float* at = values->data();
    for (const TensorSlot& t : slots) {
        for (std::int64_t r = 0; r < t.rows; r++) rows(t, r, at + r * t.cols);
        set_slot(w, t, WeightView{at, nullptr, static_cast<int>(t.rows), static_cast<int>(t.cols)});
        at += t.rows * t.cols;
    }
    if (c.shared_classifier) w.classifier = WeightView{w.token_embedding, nullptr, c.vocab_size, c.dim};
    return Checkpoint(name, Format::synthetic, 0, c, std::move(w), {values});
}

}  // namespace wb
