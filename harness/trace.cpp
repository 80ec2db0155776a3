#include "harness/trace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/json.h"
#include "kernels/exec_context.h"
#include "model/transformer.h"

namespace wb {

namespace {

struct Event {
    Stage stage;
    int layer, pos, rows, cols;
    std::vector<float> values;
};

class Recorder : public Observer {
public:
    void after(Stage s, int layer, int pos, Tensor out) override {
        const float* p = out.data;
        events.push_back({s, layer, pos, out.rows, out.cols, std::vector<float>(p, p + std::size_t(out.rows) * out.cols)});
    }
    std::vector<Event> events;
};

// A matmul stage's input stage and weight (null for other stages).
struct MatmulSource {
    Stage input;
    const WeightView* weight;
};
std::optional<MatmulSource> matmul_source(const Checkpoint& ck, Stage s, int layer) {
    const Weights& w = ck.weights();
    if (s == Stage::logits) return MatmulSource{Stage::final_norm, &w.classifier};
    if (layer < 0 || layer >= static_cast<int>(w.layers.size())) return std::nullopt;
    const LayerWeights& l = w.layers[static_cast<std::size_t>(layer)];
    switch (s) {
        case Stage::q: return MatmulSource{Stage::attn_norm, &l.wq};
        case Stage::k: return MatmulSource{Stage::attn_norm, &l.wk};
        case Stage::v: return MatmulSource{Stage::attn_norm, &l.wv};
        case Stage::attn_out: return MatmulSource{Stage::attention, &l.wo};
        case Stage::gate: return MatmulSource{Stage::ffn_norm, &l.w1};
        case Stage::up: return MatmulSource{Stage::ffn_norm, &l.w3};
        case Stage::down: return MatmulSource{Stage::swiglu, &l.w2};
        default: return std::nullopt;
    }
}

// Measures each candidate op against the reference's event of the same place, then (forcing) overwrites it.
class Comparer : public Observer {
public:
    Comparer(const Checkpoint& ck, const std::vector<Event>& ref, const Kernels& cand, const Kernels& refk, bool force,
             Recorder* keep)
        : ck_(ck), ref_(ref), cand_(cand), refk_(refk), force_(force), keep_(keep) {}

    void after(Stage s, int layer, int pos, Tensor out) override {
        if (keep_) keep_->after(s, layer, pos, out);
        if (next_ >= ref_.size()) throw std::logic_error("the candidate ran more operations than the reference");
        const Event& r = ref_[next_++];
        if (r.stage != s || r.layer != layer || r.pos != pos || r.rows != out.rows || r.cols != out.cols) {
            throw std::logic_error(std::string("the runs differ at ") + stage_info(s).name + ": not the same operations");
        }
        const std::size_t n = r.values.size();
        double max_abs = 0, scale = 0, dot = 0, na = 0, nb = 0;
        for (std::size_t i = 0; i < n; i++) {
            const double a = out.data[i], b = r.values[i], d = std::fabs(a - b);
            if (!(d <= max_abs)) max_abs = std::isnan(d) ? INFINITY : d;
            scale = std::max(scale, std::fabs(b));
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        const double rel = max_abs == 0 ? 0 : scale > 0 ? max_abs / scale : INFINITY;
        const double cosine = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
        StageError& e = error_for(s, layer);
        e.max_abs = std::max(e.max_abs, max_abs);
        e.max_rel = std::max(e.max_rel, rel);
        e.min_cosine = std::min(e.min_cosine, std::isnan(cosine) ? 0.0 : cosine);
        double judged = rel;
        if (stage_info(s).matmul) {
            if (const std::optional<double> vs = vs_bound(s, layer, pos, out, r)) {
                e.max_vs_bound = std::max(e.max_vs_bound, *vs);
                judged = *vs;
            }
        }
        if (judged > e.tolerance && !first) first = FirstExcess{s, layer, pos, pos + out.rows - 1, judged, e.tolerance, e.kernel};
        if (force_) std::copy(r.values.begin(), r.values.end(), out.data);
    }

    std::vector<StageError> stages;
    std::optional<FirstExcess> first;

private:
    // max_i |out_i - ref_i| / sum_j |w_ij x_j|, with x the reference's input of this call; nullopt when the input
    // or weight cannot be matched to the output (a shape the forward pass announces differently).
    std::optional<double> vs_bound(Stage s, int layer, int pos, Tensor out, const Event& r) const {
        const std::optional<MatmulSource> src = matmul_source(ck_, s, layer);
        if (!src) return std::nullopt;
        const Event* in = nullptr;
        for (std::size_t i = next_ - 1; i-- > 0;) {
            const Event& e = ref_[i];
            if (e.stage == src->input && e.layer == layer && e.pos == pos) {
                in = &e;
                break;
            }
        }
        const WeightView& w = *src->weight;
        if (in == nullptr || in->rows != out.rows || in->cols != w.n || out.cols != w.d) return std::nullopt;
        std::vector<float> row(static_cast<std::size_t>(w.n));
        double worst = 0;
        for (int i = 0; i < w.d; i++) {
            traits(w.dtype).dequantize_rows(w, i, 1, row.data());
            for (int t = 0; t < out.rows; t++) {
                const float* x = in->values.data() + static_cast<std::size_t>(t) * w.n;
                double bound = 0;
                for (int j = 0; j < w.n; j++) bound += std::fabs(static_cast<double>(row[static_cast<std::size_t>(j)]) * x[j]);
                const std::size_t at = static_cast<std::size_t>(t) * w.d + static_cast<std::size_t>(i);
                const double d = std::fabs(static_cast<double>(out.data[at]) - r.values[at]);
                const double vs = d == 0 ? 0 : bound > 0 ? d / bound : INFINITY;
                if (!(vs <= worst)) worst = std::isnan(vs) ? INFINITY : vs;
            }
        }
        return worst;
    }

    StageError& error_for(Stage s, int layer) {
        for (StageError& e : stages) {
            if (e.stage == s && e.layer == layer) return e;
        }
        StageError e{s, layer};
        if (stage_info(s).matmul) {
            // The kernels that run this stage's weight, by its stored type.
            const std::optional<MatmulSource> src = matmul_source(ck_, s, layer);
            const DType stored = src ? src->weight->dtype : DType::f32;
            e.tolerance = cand_.matmul_for(stored).tolerance + refk_.matmul_for(stored).tolerance;
            e.kernel = cand_.matmul_for(stored).name;
        } else if (is_attention(s)) {
            e.tolerance = cand_.attention->tolerance + refk_.attention->tolerance;
            e.kernel = cand_.attention->name;
        } else {
            e.kernel = "forward pass";  // the same code on the same inputs: any difference is a fault
        }
        stages.push_back(e);
        return stages.back();
    }

    const Checkpoint& ck_;
    const std::vector<Event>& ref_;
    const Kernels& cand_;
    const Kernels& refk_;
    bool force_;
    Recorder* keep_;
    std::size_t next_ = 0;
};

int argmax(const float* v, int n) {
    return static_cast<int>(std::max_element(v, v + n) - v);
}

// The prompt in one call, then one greedy token per call; tokens are the prompt then what was picked,
// or, when `tokens` already holds a whole run, exactly those.
void run(Transformer& model, std::vector<int>& tokens, std::size_t prompt, int steps) {
    const int vocab = model.config().vocab_size;
    const bool given = tokens.size() > prompt;
    const float* logits = model.forward(tokens.data(), static_cast<int>(prompt), 0);
    for (int pos = static_cast<int>(prompt); pos < steps; pos++) {
        if (!given) tokens.push_back(argmax(logits, vocab));
        logits = model.forward(&tokens[static_cast<std::size_t>(pos)], 1, pos);
    }
}

void dump(const std::string& dir, const std::string& variant, const std::string& model, const std::vector<int>& tokens,
          const std::vector<Event>& events) {
    const std::filesystem::path root = std::filesystem::path(dir) / variant;
    std::filesystem::create_directories(root);
    JsonWriter j;
    j.begin_object().field("variant", variant).field("model", model).begin_array("tokens");
    for (const int t : tokens) j.value(t);
    j.end_array().begin_array("tensors");
    for (const Event& e : events) {
        const std::string name = tensor_name(e.stage, e.layer, e.pos, e.pos + e.rows - 1);
        write_npy((root / (name + ".npy")).string(), e.values.data(), e.rows, e.cols);
        j.begin_object().field("file", name + ".npy").field("stage", stage_info(e.stage).name).field("layer", e.layer)
            .field("pos0", e.pos).field("pos1", e.pos + e.rows - 1).field("rows", e.rows).field("cols", e.cols).end_object();
    }
    j.end_array().end_object();
    std::ofstream out(root / "index.json");
    out << j.str() << "\n";
    if (!out) throw std::runtime_error("cannot write " + (root / "index.json").string());
}

}  // namespace

std::string tensor_name(Stage s, int layer, int pos0, int pos1) {
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, layer < 0 ? "out" : "L%02d", layer);
    return std::string(prefix) + "." + stage_info(s).name + ".pos" + std::to_string(pos0) + "-" + std::to_string(pos1);
}

void write_npy(const std::string& path, const float* values, int rows, int cols) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;  // magic, version, length, header, newline
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        static_cast<unsigned char>(header.size() & 0xFF),
                                        static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(preamble), sizeof preamble);
    out << header;
    out.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(sizeof(float) * rows * cols));
    if (!out) throw std::runtime_error("cannot write " + path);
}

TraceResult trace(const Checkpoint& ck, const std::vector<int>& prompt, const Kernels& candidate, const Kernels& reference,
                  const TraceOptions& o) {
    if (prompt.empty()) throw std::invalid_argument("the trace needs at least one prompt token");
    const int steps = std::max(o.steps, static_cast<int>(prompt.size()));
    if (steps > ck.config().seq_len) {
        throw std::out_of_range(std::to_string(steps) + " positions are more than the context of " +
                                std::to_string(ck.config().seq_len));
    }
    TraceResult result;
    result.tokens = prompt;
    Recorder ref_events;
    {
        ExecContext ctx(o.threads);
        Transformer model(ck, reference, ctx);
        ctx.observer = &ref_events;
        run(model, result.tokens, prompt.size(), steps);
    }
    Recorder cand_events;
    Comparer compare(ck, ref_events.events, candidate, reference, o.force, o.dump_dir.empty() ? nullptr : &cand_events);
    {
        ExecContext ctx(o.threads);
        Transformer model(ck, candidate, ctx);
        ctx.observer = &compare;
        run(model, result.tokens, prompt.size(), steps);
    }
    result.stages = std::move(compare.stages);
    result.first = compare.first;
    if (!o.dump_dir.empty()) {
        dump(o.dump_dir, reference.variant->name, ck.name(), result.tokens, ref_events.events);
        dump(o.dump_dir, candidate.variant->name, ck.name(), result.tokens, cand_events.events);
    }
    return result;
}

}  // namespace wb
