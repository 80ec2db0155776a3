// libFuzzer target: the bytes of a checkpoint file (v0, v1, or anything with the v1/v2 magic).
// Checkpoint::from_bytes must throw LoadError or return weights that lie inside the input:
// every array's first and last element is read, so AddressSanitizer faults on any bad bound.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "model/checkpoint.h"

namespace {

using namespace wb;

float touch(const float* p, std::uint64_t count) { return p[0] + p[count - 1]; }

// The first and last rows through their type's dequantize_rows, which reads every byte of them.
float touch(const WeightView& w, int rows, int cols) {
    if (w.d != rows || w.n != cols) std::abort();  // a view whose shape lies
    if (w.dtype != DType::f32 && w.dtype != DType::q8_v2) std::abort();  // a .bin holds nothing else
    const std::uint64_t count = static_cast<std::uint64_t>(rows) * cols;
    if (w.dtype == DType::q8_v2 && (w.group_size <= 0 || count % w.group_size != 0)) std::abort();
    std::vector<float> row(static_cast<std::size_t>(cols));
    float sum = 0.0f;
    for (const int r : {0, rows - 1}) {
        traits(w.dtype).dequantize_rows(w, r, 1, row.data());
        sum += row.front() + row.back();
    }
    return sum;
}

float touch_all(const Checkpoint& ck) {
    const Config& c = ck.config();
    const Weights& w = ck.weights();
    if (w.layers.size() != static_cast<std::size_t>(c.n_layers)) std::abort();
    const std::uint64_t dim = static_cast<std::uint64_t>(c.dim);
    const int d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
    float sum = touch(w.token_embedding, dim * c.vocab_size) + touch(w.rms_final, dim) +
                touch(w.classifier, c.vocab_size, d);
    for (const LayerWeights& l : w.layers) {
        sum += touch(l.rms_att, dim) + touch(l.rms_ffn, dim);
        sum += touch(l.wq, d, d) + touch(l.wk, kv, d) + touch(l.wv, kv, d) + touch(l.wo, d, d);
        sum += touch(l.w1, h, d) + touch(l.w2, d, h) + touch(l.w3, h, d);
    }
    return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto* first = reinterpret_cast<const std::byte*>(data);
    try {
        const Checkpoint ck = Checkpoint::from_bytes(std::vector<std::byte>(first, first + size), "fuzz input");
        volatile float sink = touch_all(ck);
        (void)sink;
    } catch (const LoadError&) {
        // Refusing bad bytes is the expected outcome; any other exception escapes and is reported.
    }
    return 0;
}
