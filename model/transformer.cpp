#include "model/transformer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include <xsimd/xsimd.hpp>

#include "kernels/registry.h"
#include "model/stack_rows.h"

namespace wb {

namespace {

void rmsnorm(float* out, const float* x, const float* weight, int size, float eps) {
    // The sum of squares in batches of partial sums (a sequential sum is one add's latency per element).
    using batch = xsimd::batch<float>;
    batch partial(0.0f);
    int j = 0;
    for (; j + static_cast<int>(batch::size) <= size; j += batch::size) {
        const batch v = batch::load_unaligned(x + j);
        partial += v * v;
    }
    float ss = xsimd::hadd(partial);
    for (; j < size; j++) ss += x[j] * x[j];
    ss /= static_cast<float>(size);
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (j = 0; j < size; j++) out[j] = weight[j] * (ss * x[j]);
}

// gate[i] <- silu(gate[i]) * up[i], in batches (xsimd's exp is within an ulp or two of expf, at a tenth of its cost).
void swiglu(float* gate, const float* up, std::size_t n) {
    using batch = xsimd::batch<float>;
    const batch one(1.0f);
    std::size_t i = 0;
    for (; i + batch::size <= n; i += batch::size) {
        const batch g = batch::load_unaligned(gate + i);
        ((g * (one / (one + xsimd::exp(-g)))) * batch::load_unaligned(up + i)).store_unaligned(gate + i);
    }
    for (; i < n; i++) gate[i] = gate[i] * (1.0f / (1.0f + expf(-gate[i]))) * up[i];
}

void rotate(float* vec, int i, float fcr, float fci) {
    const float v0 = vec[i];
    const float v1 = vec[i + 1];
    vec[i] = v0 * fcr - v1 * fci;
    vec[i + 1] = v0 * fci + v1 * fcr;
}

}  // namespace

static bool is_kv_type(DType t) { return std::find(std::begin(kKvTypes), std::end(kKvTypes), t) != std::end(kKvTypes); }

std::string kv_type_name(DType t) {
    if (!is_kv_type(t)) throw std::invalid_argument(std::string("a KV cache cannot hold ") + traits(t).name + " rows");
    std::string name = traits(t).name;
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return name;
}

DType parse_kv_type(std::string_view name) {
    if (const TypeTraits* t = find_type(name); t != nullptr && is_kv_type(t->type)) return t->type;
    std::string known;
    for (const DType t : kKvTypes) known += (known.empty() ? "" : ", ") + kv_type_name(t);
    throw std::invalid_argument("unknown KV cache type '" + std::string(name) + "' (known: " + known + ")");
}

void require_cache_type(const Kernels& kernels, const Config& c, DType kv_type) {
    const std::string kv_name = kv_type_name(kv_type);  // throws for a type the cache cannot hold
    if (!kernels.attention->reads(kv_type)) {
        std::string readers;
        for (const AttentionKernel* a : attention_kernels()) {
            if (a->reads(kv_type) && readers.find(a->name) == std::string::npos) {
                readers += std::string(readers.empty() ? "" : ", ") + a->name;
            }
        }
        throw std::invalid_argument(std::string("variant ") + kernels.variant->name + "'s " + kernels.attention->name +
                                    " reads only an f32 KV cache, not " + kv_name + " (attention that reads it: " +
                                    readers + ")");
    }
    if (c.kv_dim() % traits(kv_type).block != 0) {
        throw std::invalid_argument(std::string("a ") + kv_name + " KV cache stores rows in blocks of " +
                                    std::to_string(traits(kv_type).block) + ", and this model's rows hold " +
                                    std::to_string(c.kv_dim()) + " keys");
    }
}

Transformer::Transformer(const Checkpoint& checkpoint, const Kernels& kernels, ExecContext& ctx, CacheShape cache)
    : checkpoint_(checkpoint),
      cfg_(checkpoint.config()),
      kernels_(kernels),
      ctx_(ctx),
      n_seq_(cache.sequences),
      n_ctx_(cache.positions(cfg_)),
      kv_type_(cache.kv_type),
      kv_row_bytes_(row_bytes(cache.kv_type, cfg_.kv_dim())) {
    if (!kernels_.available()) {
        throw std::invalid_argument(std::string("variant ") + kernels_.variant->name + " is not available on this machine");
    }
    if (n_seq_ < 1 || n_ctx_ < 1 || n_ctx_ > cfg_.seq_len) {
        throw std::invalid_argument("a KV cache of " + std::to_string(n_seq_) + " sequences of " + std::to_string(n_ctx_) +
                                    " positions does not suit a model of context " + std::to_string(cfg_.seq_len));
    }
    require_cache_type(kernels_, cfg_, kv_type_);
    for (const LayerWeights& lw : checkpoint_.weights().layers) {
        layers_.push_back({prepare_group({lw.wq, lw.wk, lw.wv}), prepare_group({lw.w1, lw.w3}), prepare(lw.wo), prepare(lw.w2)});
    }
    classifier_ = prepare(checkpoint_.weights().classifier);

    const std::size_t B = kMaxBatch, dim = cfg_.dim, hidden = cfg_.hidden_dim, kv_dim = cfg_.kv_dim();
    x_.resize(B * dim);
    xb_.resize(B * dim);
    xb2_.resize(B * dim);
    q_.resize(B * dim);
    k_.resize(B * kv_dim);
    v_.resize(B * kv_dim);
    hb_.resize(B * hidden);
    hb2_.resize(B * hidden);
    stacked_.resize(B * std::max(dim + 2 * kv_dim, 2 * hidden));
    logits_.resize(static_cast<std::size_t>(n_seq_) * cfg_.vocab_size);
    key_cache_.assign(cache.bytes(cfg_) / 2, std::byte{0});  // bytes() counts keys and values
    value_cache_.assign(key_cache_.size(), std::byte{0});
    per_seq_.resize(static_cast<std::size_t>(n_seq_));

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

void Transformer::matmul(const Projection& w, const float* x, float* y, int m, Stage stage, int layer, int pos) {
    Observed seen(ctx_.observer, stage, layer, pos, {y, m, w.weight.d});
    w.kernel->run(w.weight, x, y, m, ctx_);
}

Transformer::Projection Transformer::prepare(const WeightView& w) {
    const MatmulKernel* kernel = &kernels_.matmul_for(w.dtype);
    Projection p{kernel->prepare(w, ctx_), kernel};
    if (p.weight.storage != nullptr) checkpoint_.release(w);
    return p;
}

std::vector<Transformer::Projection> Transformer::prepare_group(std::initializer_list<WeightView> parts) {
    std::vector<Projection> group;
    const MatmulKernel* kernel = &kernels_.matmul_for(parts.begin()->dtype);
    bool one_kernel = true;
    for (const WeightView& w : parts) one_kernel = one_kernel && &kernels_.matmul_for(w.dtype) == kernel;
    // The stacked copy is transient: a kernel that copies keeps its own layout of it, one that views it is given
    // the parts instead (nothing is prepared and thrown away into the context's weight memory).
    if (one_kernel) {
        PackedWeight whole = kernel->prepare(stack_rows(parts).view, ctx_);
        if (whole.storage != nullptr) {
            for (const WeightView& w : parts) checkpoint_.release(w);
            group.push_back({std::move(whole), kernel, 0, static_cast<int>(parts.size())});
            return group;
        }
    }
    for (int i = 0; i < static_cast<int>(parts.size()); i++) {
        Projection p = prepare(parts.begin()[i]);
        p.first = i;
        group.push_back(std::move(p));
    }
    return group;
}

void Transformer::project(const Projection& p, const float* x, int m, float* const* out, const int* width,
                          const Stage* stage, int layer, int pos) {
    const int first = p.first;
    if (p.count == 1) {
        matmul(p, x, out[first], m, stage[first], layer, pos);
        return;
    }
    {
        Observed call(ctx_.observer, stage[first], layer, pos, {out[first], m, width[first]});
        p.kernel->run(p.weight, x, stacked_.data(), m, ctx_);
        const float* y = stacked_.data();
        for (int t = 0; t < m; t++, y += p.weight.d) {
            for (int i = first, column = 0; i < first + p.count; column += width[i++]) {
                std::memcpy(out[i] + static_cast<std::size_t>(t) * width[i], y + column, width[i] * sizeof(float));
            }
        }
    }
    for (int i = first + 1; i < first + p.count; i++) Observed seen(ctx_.observer, stage[i], layer, pos, {out[i], m, width[i]});
}

std::byte* Transformer::cache_row(std::vector<std::byte>& cache, int layer, int seq, int pos) {
    const std::size_t row = (static_cast<std::size_t>(layer) * n_seq_ + seq) * n_ctx_ + pos;
    return cache.data() + row * kv_row_bytes_;
}

float* Transformer::forward(const int* tokens, int T, int pos, bool all_logits) {
    one_sequence_.clear();
    for (int t = 0; t < T; t++) one_sequence_.add(tokens[t], 0, pos + t);
    return forward(one_sequence_, all_logits);
}

void Transformer::check(const Batch& b) {
    const int rows = b.rows();
    if (rows < 1 || b.seq.size() != b.token.size() || b.pos.size() != b.token.size()) {
        throw std::out_of_range("a batch needs at least one row and a sequence and position for every token");
    }
    std::fill(per_seq_.begin(), per_seq_.end(), -1);  // each sequence's next position in the batch
    for (int r = 0; r < rows; r++) {
        const int s = b.seq[r], p = b.pos[r];
        if (b.token[r] < 0 || b.token[r] >= cfg_.vocab_size) {
            throw std::out_of_range("token id " + std::to_string(b.token[r]) + " is outside the vocabulary");
        }
        if (s < 0 || s >= n_seq_) {
            throw std::out_of_range("sequence " + std::to_string(s) + " is outside the KV cache of " +
                                    std::to_string(n_seq_) + " sequence" + (n_seq_ == 1 ? "" : "s"));
        }
        if (p < 0 || p >= n_ctx_) {
            throw std::out_of_range("position " + std::to_string(p) + " of sequence " + std::to_string(s) +
                                    " is outside the context of " + std::to_string(n_ctx_));
        }
        if (per_seq_[s] >= 0 && p != per_seq_[s]) {
            throw std::out_of_range("sequence " + std::to_string(s) + " has position " + std::to_string(p) +
                                    " after " + std::to_string(per_seq_[s] - 1) + " in one batch; its positions must be consecutive");
        }
        per_seq_[s] = p + 1;
    }
}

float* Transformer::forward(const Batch& batch, bool all_logits) {
    check(batch);
    // A row gives logits when all are wanted or no later row of the batch continues its sequence.
    const int rows = batch.rows();
    wants_logits_.assign(static_cast<std::size_t>(rows), 0);
    std::fill(per_seq_.begin(), per_seq_.end(), 0);  // rows of each sequence seen from the end
    int outputs = 0;
    for (int r = rows - 1; r >= 0; r--) {
        const bool last = per_seq_[batch.seq[r]]++ == 0;
        wants_logits_[r] = all_logits || last;
        outputs += wants_logits_[r];
    }
    const std::size_t V = static_cast<std::size_t>(cfg_.vocab_size);
    if (logits_.size() < V * outputs) logits_.resize(V * outputs);
    int written = 0;
    for (int done = 0; done < rows;) {
        const int chunk = std::min(kMaxBatch, rows - done);
        forward_chunk(batch, done, chunk, &written);
        done += chunk;
    }
    return logits_.data();
}

void Transformer::forward_chunk(const Batch& batch, int first, int T, int* outputs) {
    const Config& c = cfg_;
    const int dim = c.dim, kv_dim = c.kv_dim(), hidden = c.hidden_dim, hs = c.head_size();
    const Weights& w = checkpoint_.weights();
    Observer* obs = ctx_.observer;
    float *x = x_.data(), *xb = xb_.data(), *xb2 = xb2_.data(), *q = q_.data(), *k = k_.data(), *v = v_.data(),
          *hb = hb_.data(), *hb2 = hb2_.data();
    const int* tokens = batch.token.data() + first;
    const int* seqs = batch.seq.data() + first;
    const int* positions = batch.pos.data() + first;
    const int pos = positions[0];  // the observer's position of the chunk

    // Attention spans: runs of rows of one sequence at consecutive positions.
    spans_.clear();
    for (int t = 0; t < T; t++) {
        AttentionSpan* last = spans_.empty() ? nullptr : &spans_.back();
        if (last && last->seq == seqs[t] && last->pos + last->rows == positions[t]) {
            last->rows++;
        } else {
            spans_.push_back({t, 1, seqs[t], positions[t]});
        }
    }

    for (int t = 0; t < T; t++) {
        std::memcpy(x + t * dim, w.token_embedding + static_cast<std::size_t>(tokens[t]) * dim, dim * sizeof(float));
    }

    for (int l = 0; l < c.n_layers; l++) {
        const LayerWeights& lw = w.layers[static_cast<std::size_t>(l)];
        const PackedLayer& pl = layers_[static_cast<std::size_t>(l)];

        {
            Observed seen(obs, Stage::attn_norm, l, pos, {xb, T, dim});
            for (int t = 0; t < T; t++) rmsnorm(xb + t * dim, x + t * dim, lw.rms_att, dim, c.rms_eps);
        }
        {
            float* const out[] = {q, k, v};
            const int width[] = {dim, kv_dim, kv_dim};
            constexpr Stage stage[] = {Stage::q, Stage::k, Stage::v};
            for (const Projection& p : pl.qkv) project(p, xb, T, out, width, stage, l, pos);
        }
        {
            Observed seen(obs, Stage::q_rope, l, pos, {q, T, dim});
            for (int t = 0; t < T; t++) rope(q + t * dim, dim, positions[t]);
        }
        {
            Observed seen(obs, Stage::k_rope, l, pos, {k, T, kv_dim});
            for (int t = 0; t < T; t++) rope(k + t * kv_dim, kv_dim, positions[t]);
        }
        // Each span's keys and values go to its sequence's cache rows, in the cache's type, where attention finds them.
        const auto store_row = traits(kv_type_).quantize_row;
        for (const AttentionSpan& s : spans_) {
            for (int i = 0; i < s.rows; i++) {
                const std::size_t row = static_cast<std::size_t>(s.first_row + i) * kv_dim;
                store_row(k + row, cache_row(key_cache_, l, s.seq, s.pos + i), kv_dim);
                store_row(v + row, cache_row(value_cache_, l, s.seq, s.pos + i), kv_dim);
            }
        }
        {
            Observed seen(obs, Stage::attention, l, pos, {xb, T, dim});
            const AttentionArgs args{q,  cache_row(key_cache_, l, 0, 0), cache_row(value_cache_, l, 0, 0),
                                     xb, T, spans_, static_cast<std::size_t>(n_ctx_) * kv_row_bytes_,
                                     c.n_heads, c.n_kv_heads, hs, kv_type_};
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
        {
            float* const out[] = {hb, hb2};
            const int width[] = {hidden, hidden};
            constexpr Stage stage[] = {Stage::gate, Stage::up};
            for (const Projection& p : pl.gate_up) project(p, xb, T, out, width, stage, l, pos);
        }
        {
            Observed seen(obs, Stage::swiglu, l, pos, {hb, T, hidden});
            // Row by row, so a row's result does not depend on where the batch puts it.
            for (int t = 0; t < T; t++) swiglu(hb + t * hidden, hb2 + t * hidden, static_cast<std::size_t>(hidden));
        }
        matmul(pl.w2, hb, xb, T, Stage::down, l, pos);
        {
            Observed seen(obs, Stage::ffn_residual, l, pos, {x, T, dim});
            for (int i = 0; i < T * dim; i++) x[i] += xb[i];
        }
    }

    // Only the rows whose logits are wanted go through the final norm and the classifier.
    const char* wanted = wants_logits_.data() + first;
    int rows = 0, first_out = -1;
    for (int t = 0; t < T; t++) {
        if (!wanted[t]) continue;
        if (first_out < 0) first_out = t;
        rows++;
    }
    if (rows == 0) return;
    {
        Observed seen(obs, Stage::final_norm, -1, positions[first_out], {xb, rows, dim});
        for (int t = first_out, i = 0; t < T; t++) {
            if (wanted[t]) rmsnorm(xb + (i++) * dim, x + t * dim, w.rms_final, dim, c.rms_eps);
        }
    }
    float* logits_out = logits_.data() + static_cast<std::size_t>(*outputs) * c.vocab_size;
    matmul(classifier_, xb, logits_out, rows, Stage::logits, -1, positions[first_out]);
    *outputs += rows;
}

void Transformer::copy_sequence(int from, int to, int positions) {
    if (from < 0 || from >= n_seq_ || to < 0 || to >= n_seq_ || positions < 0 || positions > n_ctx_) {
        throw std::out_of_range("cannot copy " + std::to_string(positions) + " positions from sequence " +
                                std::to_string(from) + " to " + std::to_string(to) + " in a cache of " +
                                std::to_string(n_seq_) + " sequences of " + std::to_string(n_ctx_));
    }
    if (from == to) return;
    const std::size_t n = static_cast<std::size_t>(positions) * kv_row_bytes_;
    for (int l = 0; l < cfg_.n_layers; l++) {
        std::memcpy(cache_row(key_cache_, l, to, 0), cache_row(key_cache_, l, from, 0), n);
        std::memcpy(cache_row(value_cache_, l, to, 0), cache_row(value_cache_, l, from, 0), n);
    }
}

// Rotates the pairs of one row of queries or keys (width floats, heads of head_size) for position pos.
void Transformer::rope(float* row, int width, int pos) const {
    const int hs = cfg_.head_size();
    const float* angles = rope_.data() + static_cast<std::size_t>(pos) * hs;
    for (float* head = row; head < row + width; head += hs) {
        for (int i = 0; i < hs; i += 2) rotate(head, i, angles[i], angles[i + 1]);
    }
}

}  // namespace wb
