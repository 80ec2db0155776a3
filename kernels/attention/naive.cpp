// The reference attention: llama2.c's per-head loops, applied to each query row in turn.
#include <cmath>
#include <cstring>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::attention {

static void run_naive(const AttentionArgs& a, ExecContext& ctx) {
    const int dim = a.n_heads * a.head_size;
    const int kv_dim = a.n_kv_heads * a.head_size;
    const int kv_mul = a.n_heads / a.n_kv_heads;
    float* att = ctx.scratch(static_cast<std::size_t>(a.pos + a.m));
    for (int r = 0; r < a.m; r++) {
        const int last = a.pos + r;  // this query sees keys 0 .. last
        for (int h = 0; h < a.n_heads; h++) {
            const float* q = a.q + static_cast<long>(r) * dim + h * a.head_size;
            const long kv_off = static_cast<long>(h / kv_mul) * a.head_size;
            for (int t = 0; t <= last; t++) {
                const float* k = a.k_cache + static_cast<long>(t) * kv_dim + kv_off;
                float score = 0.0f;
                for (int i = 0; i < a.head_size; i++) score += q[i] * k[i];
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
                const float* v = a.v_cache + static_cast<long>(t) * kv_dim + kv_off;
                for (int i = 0; i < a.head_size; i++) out[i] += att[t] * v[i];
            }
        }
    }
}

extern const AttentionKernel naive{
    "attention.naive", "reference per-head loops: scores, softmax, weighted sum of values", 0.0f,
    always_available, run_naive,
};

}  // namespace wb::attention
