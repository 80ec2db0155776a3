#include "model/transformer.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>


namespace wb {

namespace {

void rmsnorm(float* out, const float* x, const float* weight, int size, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < size; j++) ss += x[j] * x[j];
    ss /= static_cast<float>(size);
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < size; j++) out[j] = weight[j] * (ss * x[j]);
}

void rotate(float* vec, int i, float fcr, float fci) {
    const float v0 = vec[i];
    const float v1 = vec[i + 1];
    vec[i] = v0 * fcr - v1 * fci;
    vec[i + 1] = v0 * fci + v1 * fcr;
}

}  // namespace

Transformer::Transformer(const Checkpoint& checkpoint, const Kernels& kernels, ExecContext& ctx)
    : checkpoint_(checkpoint), cfg_(checkpoint.config()), kernels_(kernels), ctx_(ctx) {
    if (!kernels_.available()) {
        throw std::invalid_argument(std::string("variant ") + kernels_.variant->name + " is not available on this machine");
    }
    auto pack = [&](const WeightView& w) { return kernels_.matmul->prepare(w, ctx_); };
    for (const LayerWeights& lw : checkpoint_.weights().layers) {
        layers_.push_back({pack(lw.wq), pack(lw.wk), pack(lw.wv), pack(lw.wo), pack(lw.w1), pack(lw.w2), pack(lw.w3)});
    }
    classifier_ = pack(checkpoint_.weights().classifier);

    const std::size_t B = kMaxBatch, dim = cfg_.dim, hidden = cfg_.hidden_dim;
    x_.resize(B * dim);
    xb_.resize(B * dim);
    xb2_.resize(B * dim);
    q_.resize(B * dim);
    hb_.resize(B * hidden);
    hb2_.resize(B * hidden);
    logits_.resize(static_cast<std::size_t>(cfg_.vocab_size));
    const std::size_t cache = static_cast<std::size_t>(cfg_.n_layers) * cfg_.seq_len * cfg_.kv_dim();
    key_cache_.assign(cache, 0.0f);
    value_cache_.assign(cache, 0.0f);

    // RoPE angles, computed with llama2.c's exact expressions (theta 10000, no factors) so results match it
    // bit for bit; pair i's frequency is divided by its factor when the model has them (Llama 3.1 scaling).
    const int hs = cfg_.head_size();
    const std::vector<float>& factors = cfg_.rope_freq_factors;
    rope_.resize(static_cast<std::size_t>(cfg_.seq_len) * hs);
    for (int pos = 0; pos < cfg_.seq_len; pos++) {
        for (int i = 0; i < hs; i += 2) {
            float freq = 1.0f / powf(cfg_.rope_theta, static_cast<float>(i) / static_cast<float>(hs));
            if (!factors.empty()) freq /= factors[static_cast<std::size_t>(i / 2)];
            const float val = static_cast<float>(pos) * freq;
            rope_[static_cast<std::size_t>(pos) * hs + i] = cosf(val);
            rope_[static_cast<std::size_t>(pos) * hs + i + 1] = sinf(val);
        }
    }
}

void Transformer::matmul(const PackedWeight& w, const float* x, float* y, int m, Stage stage, int layer, int pos) {
    Observed seen(ctx_.observer, stage, layer, pos, {y, m, w.d});
    kernels_.matmul->run(w, x, y, m, ctx_);
}

float* Transformer::forward(const int* tokens, int T, int pos, bool all_logits) {
    if (T < 1 || pos < 0 || pos + T > cfg_.seq_len) {
        throw std::out_of_range("positions " + std::to_string(pos) + ".." + std::to_string(pos + T - 1) +
                                " are outside the context of " + std::to_string(cfg_.seq_len));
    }
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= cfg_.vocab_size) {
            throw std::out_of_range("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
        }
    }
    const std::size_t V = static_cast<std::size_t>(cfg_.vocab_size);
    if (all_logits && logits_.size() < V * T) logits_.resize(V * T);
    for (int done = 0; done < T;) {
        const int span = std::min(kMaxBatch, T - done);
        const bool last_span = done + span == T;
        float* out = all_logits ? logits_.data() + V * done : last_span ? logits_.data() : nullptr;
        forward_span(tokens + done, span, pos + done, out, all_logits);
        done += span;
    }
    return logits_.data();
}

void Transformer::forward_span(const int* tokens, int T, int pos, float* logits_out, bool all_logits) {
    const Config& c = cfg_;
    const int dim = c.dim, kv_dim = c.kv_dim(), hidden = c.hidden_dim, hs = c.head_size();
    const Weights& w = checkpoint_.weights();
    Observer* obs = ctx_.observer;
    float *x = x_.data(), *xb = xb_.data(), *xb2 = xb2_.data(), *q = q_.data(), *hb = hb_.data(), *hb2 = hb2_.data();

    for (int t = 0; t < T; t++) {
        std::memcpy(x + t * dim, w.token_embedding + static_cast<std::size_t>(tokens[t]) * dim, dim * sizeof(float));
    }

    for (int l = 0; l < c.n_layers; l++) {
        const LayerWeights& lw = w.layers[static_cast<std::size_t>(l)];
        const PackedLayer& pl = layers_[static_cast<std::size_t>(l)];
        const std::size_t layer_off = static_cast<std::size_t>(l) * c.seq_len * kv_dim;
        float* k_rows = key_cache_.data() + layer_off + static_cast<std::size_t>(pos) * kv_dim;
        float* v_rows = value_cache_.data() + layer_off + static_cast<std::size_t>(pos) * kv_dim;

        {
            Observed seen(obs, Stage::attn_norm, l, pos, {xb, T, dim});
            for (int t = 0; t < T; t++) rmsnorm(xb + t * dim, x + t * dim, lw.rms_att, dim, c.rms_eps);
        }
        // Keys and values go straight into this layer's cache rows pos .. pos+T-1.
        matmul(pl.wq, xb, q, T, Stage::q, l, pos);
        matmul(pl.wk, xb, k_rows, T, Stage::k, l, pos);
        matmul(pl.wv, xb, v_rows, T, Stage::v, l, pos);
        {
            Observed seen(obs, Stage::q_rope, l, pos, {q, T, dim});
            for (int t = 0; t < T; t++) rope(q + t * dim, dim, pos + t);
        }
        {
            Observed seen(obs, Stage::k_rope, l, pos, {k_rows, T, kv_dim});
            for (int t = 0; t < T; t++) rope(k_rows + t * kv_dim, kv_dim, pos + t);
        }
        {
            Observed seen(obs, Stage::attention, l, pos, {xb, T, dim});
            const AttentionArgs args{q, key_cache_.data() + layer_off, value_cache_.data() + layer_off,
                                     xb, T, pos, c.n_heads, c.n_kv_heads, hs};
            kernels_.attention->run(args, ctx_);
        }
        matmul(pl.wo, xb, xb2, T, Stage::attn_out, l, pos);
        {
            Observed seen(obs, Stage::attn_residual, l, pos, {x, T, dim});
            for (int i = 0; i < T * dim; i++) x[i] += xb2[i];
        }

        {
            Observed seen(obs, Stage::ffn_norm, l, pos, {xb, T, dim});
            for (int t = 0; t < T; t++) rmsnorm(xb + t * dim, x + t * dim, lw.rms_ffn, dim, c.rms_eps);
        }
        matmul(pl.w1, xb, hb, T, Stage::gate, l, pos);
        matmul(pl.w3, xb, hb2, T, Stage::up, l, pos);
        {
            Observed seen(obs, Stage::swiglu, l, pos, {hb, T, hidden});
            for (int i = 0; i < T * hidden; i++) {
                float val = hb[i];
                val *= (1.0f / (1.0f + expf(-val)));
                hb[i] = val * hb2[i];
            }
        }
        matmul(pl.w2, hb, xb, T, Stage::down, l, pos);
        {
            Observed seen(obs, Stage::ffn_residual, l, pos, {x, T, dim});
            for (int i = 0; i < T * dim; i++) x[i] += xb[i];
        }
    }

    // Only the rows whose logits are wanted go through the final norm and the classifier.
    if (logits_out == nullptr) return;
    const int first = all_logits ? 0 : T - 1;
    const int rows = T - first;
    {
        Observed seen(obs, Stage::final_norm, -1, pos + first, {xb, rows, dim});
        for (int t = first; t < T; t++) rmsnorm(xb + (t - first) * dim, x + t * dim, w.rms_final, dim, c.rms_eps);
    }
    matmul(classifier_, xb, logits_out, rows, Stage::logits, -1, pos + first);
}

// Rotates the pairs of one row of queries or keys (width floats, heads of head_size) for position pos.
void Transformer::rope(float* row, int width, int pos) const {
    const int hs = cfg_.head_size();
    const float* angles = rope_.data() + static_cast<std::size_t>(pos) * hs;
    for (int i = 0; i < width; i += 2) rotate(row, i, angles[i % hs], angles[i % hs + 1]);
}

}  // namespace wb
