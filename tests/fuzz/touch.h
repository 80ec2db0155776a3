// For the loader fuzzers: reads the first and last row of every weight a checkpoint hands out, through its
// type's dequantize_rows (which reads every byte of them), so AddressSanitizer faults on any bad bound, and
// aborts on a view whose shape lies.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "model/checkpoint.h"

namespace wb::fuzz {

inline float touch(const float* p, std::uint64_t count) { return p[0] + p[count - 1]; }

inline float touch(const WeightView& w, int rows, int cols) {
    if (w.d != rows || w.n != cols) std::abort();
    const std::uint64_t count = static_cast<std::uint64_t>(rows) * cols;
    if (w.dtype == DType::q8_v2 && (w.group_size <= 0 || count % w.group_size != 0)) std::abort();
    if (cols % traits(w.dtype).block != 0) std::abort();
    std::vector<float> row(static_cast<std::size_t>(cols));
    float sum = 0.0f;
    for (const int r : {0, rows - 1}) {
        traits(w.dtype).dequantize_rows(w, r, 1, row.data());
        sum += row.front() + row.back();
    }
    return sum;
}

inline float touch_all(const Checkpoint& ck) {
    const Config& c = ck.config();
    const Weights& w = ck.weights();
    if (w.layers.size() != static_cast<std::size_t>(c.n_layers)) std::abort();
    if (!c.problem().empty()) std::abort();  // a reader let an implausible config through
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

}  // namespace wb::fuzz
