// The reference attention: llama2.c's per-head loops, applied to each query row of each span in turn; keys and
// values of any cache type are converted to fp32 as they are read.
#include <cmath>
#include <cstring>

#include "kernels/attention/kv_rows.h"
#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::attention {

static void run_naive(const AttentionArgs& a, ExecContext& ctx) {
    const int dim = a.n_heads * a.head_size;
    const std::size_t row_bytes = a.row_bytes();
    const int kv_mul = a.n_heads / a.n_kv_heads;
    float* att = ctx.scratch(static_cast<std::size_t>(a.max_keys() + 2 * a.head_size));
    float* k = att + a.max_keys();  // one key, then one value, as fp32
    float* v = k + a.head_size;
    for (const AttentionSpan& span : a.spans) {
        const std::byte* k_cache = a.stored_keys(span);
        const std::byte* v_cache = a.stored_values(span);
        for (int i = 0; i < span.rows; i++) {
            const int r = span.first_row + i;
            const int last = span.pos + i;  // this query sees keys 0 .. last of its sequence
            for (int h = 0; h < a.n_heads; h++) {
                const float* q = a.q + static_cast<long>(r) * dim + h * a.head_size;
                const int kv_off = h / kv_mul * a.head_size;
                for (int t = 0; t <= last; t++) {
                    kv::read(a.kv_type, k_cache + t * row_bytes, kv_off, a.head_size, k);
                    float score = 0.0f;
                    for (int j = 0; j < a.head_size; j++) score += q[j] * k[j];
                    att[t] = score / sqrtf(static_cast<float>(a.head_size));
                }
                float max_val = att[0];
                for (int t = 1; t <= last; t++) {
                    if (att[t] > max_val) max_val = att[t];
                }
                float sum = 0.0f;
                for (int t = 0; t <= last; t++) {
                    att[t] = expf(att[t] - max_val);
                    sum += att[t];
                }
                for (int t = 0; t <= last; t++) att[t] /= sum;
                float* out = a.out + static_cast<long>(r) * dim + h * a.head_size;
                std::memset(out, 0, static_cast<std::size_t>(a.head_size) * sizeof(float));
                for (int t = 0; t <= last; t++) {
                    kv::read(a.kv_type, v_cache + t * row_bytes, kv_off, a.head_size, v);
                    for (int j = 0; j < a.head_size; j++) out[j] += att[t] * v[j];
                }
            }
        }
    }
}

extern const AttentionKernel naive{
    "attention.naive", "reference per-head loops: scores, softmax, weighted sum of values", 0.0f,
    Isa::scalar, run_naive, kKvAll,
};

}  // namespace wb::attention
