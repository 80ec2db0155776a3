// bench_depth: prefill and decode tokens/s after a context of d tokens is already in the KV cache (llama-bench's
// -d), per variant and cache type, beside peers at the same depth with the same cache type. For each depth the
// cache is filled from position 0 in chunks (timed: the rate of a d-token prompt), then P prompt tokens and N
// decoded tokens are timed at positions d on, R times. Tables to stdout, progress to stderr, records (kind
// "depth", harness/SCHEMA.md) to <output>/<date>-<host>.jsonl and .csv.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_all_models.h"
#include "bench/workbench_runs.h"
#include "cli/args.h"
#include "harness/peers.h"
#include "harness/process.h"
#include "harness/record.h"
#include "harness/timing.h"
#include "model/memory_guard.h"
#include "model/sampler.h"
#include "model/synthetic.h"
#include "model/transformer.h"

namespace {

using namespace wb;

using cli::ModelSpec;

struct Options {
    std::vector<ModelSpec> models;
    std::vector<std::string> variants;
    std::vector<int> threads, depths;
    std::vector<DType> kv_types;
    std::vector<Peer> peers;
    int prompt_tokens = 512, gen_tokens = 64, repetitions = 2;
    bool depths_named = false;
    std::string output = "results";
    std::string command;
};

constexpr int kFillChunk = 512;   // positions filled per forward call, as llama.cpp's default micro-batch
constexpr int kMaxDepth = 1 << 20;
constexpr int kDefaultDepths[] = {0, 4096, 16384};
constexpr DType kDefaultKvTypes[] = {DType::f32, DType::f16, DType::q8_0};

void print_help() {
    std::printf(
        "usage: bench_depth [options]\n"
        "Prefill and decode tokens/s after a context of D tokens (llama-bench's -d): for each depth the KV cache is\n"
        "filled from position 0, then a P-token prompt and N decoded tokens are timed at positions D on. Each\n"
        "variant runs with each KV cache type; peers run at the same depths with the same cache type. Tables go to\n"
        "stdout, progress to stderr, records to OUTPUT/<date>-<host>.jsonl|csv (kind \"depth\").\n\n"
        "  --model PATH          a checkpoint, llama2.c or GGUF (repeatable); its context bounds the depths\n"
        "  --synthetic SHAPE     a synthetic model in memory (repeatable), its context stretched to the deepest\n"
        "                        depth: %s (default: stories15M)\n"
        "  --variants a,b        variants to run (default: per model, the one generate picks; said on stderr)\n"
        "  --threads 1,2         thread counts (default: all %u cores)\n"
        "%s"
        "  --depth D,...         context positions before the timed runs (default 0,4096,16384: those that fit)\n"
        "  --kv-type T,...       KV cache types, each of f32, f16, bf16, q8_0 (default f32,f16,q8_0: those the\n"
        "                        variant's attention reads)\n"
        "  -p, --prompt-tokens P prompt tokens timed at each depth (default 512)\n"
        "  -n, --gen-tokens N    decoded tokens timed at each depth (default 64)\n"
        "  --repetitions R       timed runs at each depth after a warm-up (default 2)\n"
        "  --peer KIND=PATH      also measure a llama-bench at the same depths and cache types (repeatable): one\n"
        "                        with -d (mainline) measures prefill and decode, one with -gp (ik_llama.cpp)\n"
        "                        decode only; flash attention on (-fa 1), -ctk/-ctv the cache type\n"
        "  --output DIR          where records go (default results)\n"
        "  --help                this text\n"
        "A run whose cache would not fit in the memory available is refused before it starts.\n",
        shape_names().c_str(), std::max(1u, std::thread::hardware_concurrency()), cli::isa_help().c_str());
}

int deepest(const Options& o) { return *std::max_element(o.depths.begin(), o.depths.end()); }
// Positions a run needs: the deepest depth plus the longer of its timed prompt and decode.
int positions(const Options& o, int depth) { return depth + std::max(o.prompt_tokens, o.gen_tokens); }

Options parse(int argc, char** argv) {
    Options o;
    o.command = cli::command_line(argc, argv);
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (cli::bench_option(a, args, {o.variants, o.threads, o.models}, print_help)) {
            continue;
        } else if (a == "--depth") {
            o.depths = cli::parse_int_list(a, args.value(), 0, kMaxDepth);
            o.depths_named = true;
        } else if (a == "--kv-type") {
            for (const std::string& t : cli::parse_list(a, args.value())) {
                const DType type = cli::kv_type_argument(t);
                if (std::find(o.kv_types.begin(), o.kv_types.end(), type) == o.kv_types.end()) o.kv_types.push_back(type);
            }
        } else if (a == "-p" || a == "--prompt-tokens") {
            o.prompt_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 16));
        } else if (a == "-n" || a == "--gen-tokens") {
            o.gen_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 16));
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(cli::parse_int(a, args.value(), 1, 1000));
        } else if (a == "--peer") {
            try {
                for (Peer& p : parse_peer_argument(args.value())) {
                    if (p.kind->depth_forms.empty()) throw cli::UsageError("--peer " + p.label() + ": " + p.kind->name + " measures no depth");
                    o.peers.push_back(std::move(p));
                }
            } catch (const std::invalid_argument& e) {
                throw cli::UsageError(e.what());
            }
        } else if (a == "--output") {
            o.output = args.value();
        } else {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        }
    }
    cli::output_directory(o.output);
    if (o.models.empty()) o.models.push_back({"stories15M", std::nullopt, "stories15M"});
    if (o.threads.empty()) o.threads = {static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
    if (o.depths.empty()) o.depths.assign(std::begin(kDefaultDepths), std::end(kDefaultDepths));
    std::sort(o.depths.begin(), o.depths.end());
    o.depths.erase(std::unique(o.depths.begin(), o.depths.end()), o.depths.end());
    return o;
}

// The depths that fit a model of `context` positions: a named depth that does not is a UsageError, a default one
// is dropped (with a line on stderr unless quiet).
std::vector<int> depths_for(const Options& o, const ModelSpec& spec, int context, bool quiet) {
    std::vector<int> fit;
    for (const int d : o.depths) {
        if (!spec.shape && positions(o, d) > context) {
            const std::string why = "depth " + std::to_string(d) + " + " + std::to_string(std::max(o.prompt_tokens, o.gen_tokens)) +
                                    " timed positions pass " + spec.name + "'s context of " + std::to_string(context);
            if (o.depths_named) throw cli::UsageError("--depth: " + why);
            if (!quiet) std::fprintf(stderr, "bench_depth: skipped %s\n", why.c_str());
            continue;
        }
        fit.push_back(d);
    }
    if (fit.empty()) throw cli::UsageError("no depth fits " + spec.name + "'s context of " + std::to_string(context));
    return fit;
}

// The cache types a variant runs with: those named (each must be one its attention reads), else the defaults it reads.
std::vector<DType> kv_types_for(const Options& o, const std::string& variant, const Kernels& k) {
    std::vector<DType> types;
    for (const DType t : o.kv_types) {
        if (!k.attention->reads(t)) {
            throw cli::UsageError("--kv-type " + kv_type_name(t) + ": variant " + variant + "'s " + k.attention->name +
                                  " does not read it");
        }
        types.push_back(t);
    }
    if (!types.empty()) return types;
    for (const DType t : kDefaultKvTypes) {
        if (k.attention->reads(t)) types.push_back(t);
    }
    return types;
}

// Refuses, before anything runs, a depth past a model file's context, a cache type a variant cannot read or hold,
// and a cache that would not fit in the memory available.
void check_runs(const Options& o) {
    const std::optional<std::uint64_t> available = available_memory();
    for (const ModelSpec& spec : o.models) {
        const std::optional<Checkpoint> file = spec.path ? std::optional<Checkpoint>(Checkpoint::open(*spec.path)) : std::nullopt;
        Config c = file ? file->config() : *find_shape(*spec.shape);
        if (!file) c.seq_len = std::max(c.seq_len, positions(o, deepest(o)));
        const int context = positions(o, depths_for(o, spec, c.seq_len, true).back());
        const WeightFootprint w = file ? footprint(*file) : fp32_footprint(c);
        for (const std::string& variant : workbench_variants(o.variants, w, "bench_depth", true)) {
            const Kernels k = resolve_variant(variant);
            for (const DType kv : kv_types_for(o, variant, k)) {
                require_cache_type(k, c, kv);
                if (available) require_memory(spec.name + " at depth " + std::to_string(context - std::max(o.prompt_tokens, o.gen_tokens)),
                                              c, w, k, *available, {1, context, kv});
            }
        }
    }
}

double kv_bytes_per_position(const Config& c, DType kv_type) {
    return 2.0 * c.n_layers * static_cast<double>(row_bytes(kv_type, c.kv_dim()));
}

void print_table_header(const std::string& model, int threads, int P, int N) {
    std::printf("\n### %s, %d thread%s\n\n", model.c_str(), threads, threads > 1 ? "s" : "");
    std::printf("| variant | KV | depth | pp%d t/s | tg%d t/s | tg vs depth 0 | prompt of depth t/s |\n", P, N);
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    std::fflush(stdout);
}

std::string cell(double v) {
    if (!std::isfinite(v)) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : "%.1f", v);
    return buf;
}

// One table row; `at_zero` is the same variant's and cache type's decode at depth 0, when measured.
void print_row(const Record& r, std::optional<double> at_zero) {
    const std::string ratio = at_zero && r.status == "ok" ? cell(100.0 * r.decode_tok_s.median / *at_zero) + "%" : "";
    if (r.status != "ok") {
        std::printf("| %s | %s | %d | %s | | | |\n", r.variant.c_str(), r.kv_type.value_or("").c_str(), r.depth.value_or(0),
                    ("failed: " + r.error.value_or("")).c_str());
    } else {
        std::printf("| %s | %s | %d | %s | %s | %s | %s |\n", r.variant.c_str(), r.kv_type.value_or("").c_str(), r.depth.value_or(0),
                    cell(r.prefill_tok_s.median).c_str(), cell(r.decode_tok_s.median).c_str(), ratio.c_str(),
                    r.fill_tok_s ? cell(*r.fill_tok_s).c_str() : "");
    }
    std::fflush(stdout);
}

class DepthBench {
public:
    explicit DepthBench(const Options& o) : o_(o), build_(build_info()), stem_(results_stem(build_)) {}

    void run() {
        for (const ModelSpec& spec : o_.models) run_model(spec);
        std::fprintf(stderr, "bench_depth: records in %s/%s.jsonl and .csv\n", o_.output.c_str(), stem_.c_str());
    }

private:
    void run_model(const ModelSpec& spec) {
        std::fprintf(stderr, "bench_depth: loading %s\n", spec.name.c_str());
        const bench_all::Model m = bench_all::load(spec, false, positions(o_, deepest(o_)));
        const Checkpoint& ck = m.checkpoint;
        const Config& c = ck.config();
        const std::vector<int> depths = depths_for(o_, spec, c.seq_len, false);
        const int context = positions(o_, depths.back());
        const WeightFootprint w = footprint(ck);
        PeerModels files(spec.name, peer_model_writer(ck, m.tokenizer_path));
        const DType stored = stored_types(w).front();
        if (spec.path && ck.format() == Format::gguf) files.provide(PeerFormat::gguf, stored, *spec.path);
        std::vector<std::pair<std::string, Kernels>> runs;
        for (const std::string& variant : workbench_variants(o_.variants, w, "bench_depth", false)) {
            const Kernels k = resolve_variant(variant);
            if (k.available()) runs.emplace_back(variant, k);
            else std::fprintf(stderr, "bench_depth: %s is not available on this machine; skipped\n", variant.c_str());
        }
        // The cache types of the run, in the order of the first variant that takes each.
        std::vector<DType> kv_types;
        for (const auto& [variant, k] : runs) {
            for (const DType t : kv_types_for(o_, variant, k)) {
                if (std::find(kv_types.begin(), kv_types.end(), t) == kv_types.end()) kv_types.push_back(t);
            }
        }
        for (const int threads : o_.threads) {
            print_table_header(spec.name, threads, o_.prompt_tokens, o_.gen_tokens);
            // Each cache type: every variant at every depth, then each peer at every depth in each weight type the
            // variants stream, so that the runs compared are minutes apart at most.
            for (const DType kv : kv_types) {
                std::vector<DType> streamed;
                for (const auto& [variant, k] : runs) {
                    const std::vector<DType> reads = kv_types_for(o_, variant, k);
                    if (std::find(reads.begin(), reads.end(), kv) == reads.end()) continue;
                    measure_variant(m, w, variant, k, kv, depths, context, threads);
                    const DType type = k.matmul_for(stored).streams;
                    if (std::find(streamed.begin(), streamed.end(), type) == streamed.end()) streamed.push_back(type);
                }
                for (const Peer& peer : o_.peers) {
                    for (const DType type : streamed) measure_peer_at_depths(m, files, peer, type, kv, depths, threads);
                }
            }
        }
    }

    Record base_record(const bench_all::Model& m, const std::string& impl, const std::string& variant, int threads, DType kv, int depth) const {
        Record r = run_record("depth", o_.command, build_, impl, variant, threads, m.spec, m.checkpoint.config());
        r.prompt_tokens = o_.prompt_tokens;
        r.gen_tokens = o_.gen_tokens;
        r.repetitions = o_.repetitions;
        r.kv_type = kv_type_name(kv);
        r.depth = depth;
        r.kv_bytes_per_position = kv_bytes_per_position(m.checkpoint.config(), kv);
        return r;
    }

    void measure_variant(const bench_all::Model& m, const WeightFootprint& w, const std::string& variant, const Kernels& k,
                         DType kv, const std::vector<int>& depths, int context, int threads) {
        const Checkpoint& ck = m.checkpoint;
        const Config& c = ck.config();
        const int V = c.vocab_size, P = o_.prompt_tokens, N = o_.gen_tokens;
        std::vector<int> tokens(static_cast<std::size_t>(context));
        for (int i = 0; i < context; i++) tokens[i] = synthetic_token(0, i, V);
        ExecContext ctx(threads);
        Transformer model(ck, k, ctx, CacheShape{1, context, kv});
        // P prompt tokens at `depth`, then N tokens decoded one at a time from there, each fed the last one's argmax.
        auto timed = [&](int depth, int p, int n, double& prefill_s, double& decode_s) {
            auto t0 = std::chrono::steady_clock::now();
            model.forward(tokens.data() + depth, p, depth);
            prefill_s = seconds_since(t0);
            int next = tokens[depth];
            t0 = std::chrono::steady_clock::now();
            for (int step = 0; step < n; step++) next = argmax(model.forward(&next, 1, depth + step), V);
            decode_s = seconds_since(t0);
        };
        int filled = 0;
        double fill_seconds = 0;
        std::optional<double> at_zero;
        for (const int depth : depths) {
            while (filled < depth) {
                const int chunk = std::min(kFillChunk, depth - filled);
                const auto t0 = std::chrono::steady_clock::now();
                model.forward(tokens.data() + filled, chunk, filled);
                fill_seconds += seconds_since(t0);
                filled += chunk;
                std::fprintf(stderr, "\rbench_depth: %s %s %s threads=%d: filling %d of %d positions, %.1f tok/s%s", m.spec.name.c_str(),
                             variant.c_str(), kv_type_name(kv).c_str(), threads, filled, depth, filled / fill_seconds,
                             filled == depth ? "\n" : "   ");
            }
            Record r = base_record(m, "workbench", variant, threads, kv, depth);
            describe_workbench_run(r, k, w, kv);
            if (depth > 0) r.fill_tok_s = depth / fill_seconds;
            reset_peak_rss();
            std::fprintf(stderr, "bench_depth: %s %s %s threads=%d depth %d: warm-up", m.spec.name.c_str(), variant.c_str(),
                         kv_type_name(kv).c_str(), threads, depth);
            double prefill_s, decode_s;
            timed(depth, std::min(P, 16), std::min(N, 4), prefill_s, decode_s);
            std::vector<double> prefill, decode, ttft;
            for (int rep = 0; rep < o_.repetitions; rep++) {
                std::fprintf(stderr, ", %d", rep + 1);
                timed(depth, P, N, prefill_s, decode_s);
                prefill.push_back(P / prefill_s);
                decode.push_back(N / decode_s);
                ttft.push_back(prefill_s * 1e3);
            }
            r.prefill_tok_s = summarize(prefill);
            r.decode_tok_s = summarize(decode);
            r.ttft_ms = summarize(ttft);
            r.peak_rss_mb = peak_rss_mb();
            std::fprintf(stderr, ": pp%d %.1f tok/s, tg%d %.1f tok/s\n", P, r.prefill_tok_s.median, N, r.decode_tok_s.median);
            append_record(r, o_.output, stem_);
            if (depth == 0) at_zero = r.decode_tok_s.median;
            print_row(r, at_zero);
        }
    }

    // The peer at each depth in the weight type the variant streams, when it takes that type and its binary
    // measures at depth.
    void measure_peer_at_depths(const bench_all::Model& m, PeerModels& files, const Peer& peer, DType type, DType kv,
                                const std::vector<int>& depths, int threads) {
        if (paired_types(*peer.kind, {type}).empty()) {
            std::fprintf(stderr, "bench_depth: %s skipped: it takes no %s model\n", peer.label().c_str(), traits(type).name);
            return;
        }
        if (!runs_threads(peer, threads)) return;
        const Help& help = help_of(peer);
        if (!help.form) {
            std::fprintf(stderr, "bench_depth: %s skipped: its --help offers no depth (-d or -gp)\n", peer.label().c_str());
            return;
        }
        std::optional<double> at_zero;
        for (const int depth : depths) {
            Record r = base_record(m, "peer", peer_variant(peer, type), threads, kv, depth);
            r.build.compiler = r.build.flags = "";
            PeerJob job{"", m.tokenizer_path, "", help.form->measures_prefill ? o_.prompt_tokens : 0, o_.gen_tokens,
                        o_.repetitions, threads, help.output, help.form, depth, kv_type_name(kv)};
            std::fprintf(stderr, "bench_depth: %s %s threads=%d depth %d:", r.variant.c_str(), job.kv_type.c_str(), threads, depth);
            try {
                job.model_file = files.file(peer.kind->format, type);
            } catch (const std::runtime_error& e) {
                fail_peer(peer, type, job, e.what(), r);
            }
            if (r.status == "ok") {
                measure_peer(peer, type, job, [](const std::vector<std::string>& argv, const std::vector<std::string>& env) {
                    return run_process(argv, env, nullptr);
                }, r);
            }
            if (r.status == "ok") std::fprintf(stderr, " tg%d %.1f tok/s\n", o_.gen_tokens, r.decode_tok_s.median);
            else std::fprintf(stderr, " failed: %s\n", r.error.value_or("").c_str());
            append_record(r, o_.output, stem_);
            if (depth == 0 && r.status == "ok") at_zero = r.decode_tok_s.median;
            print_row(r, at_zero);
        }
    }

    struct Help {
        const DepthForm* form = nullptr;
        std::string output;
    };
    // What a peer's binary offers, from its --help (asked once per binary).
    const Help& help_of(const Peer& peer) {
        if (const auto it = helps_.find(peer.binary); it != helps_.end()) return it->second;
        std::string text;
        try {
            const ProcessResult p = run_process({peer.binary, "--help"}, {}, nullptr);
            text = p.out + p.err;
        } catch (const std::exception&) {
        }
        return helps_[peer.binary] = {choose_depth_form(*peer.kind, text), choose_output(*peer.kind, text)};
    }

    const Options& o_;
    BuildInfo build_;
    std::string stem_;
    std::map<std::string, Help> helps_;  // binary -> what its --help offers
};

int bench_main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    check_runs(o);
    DepthBench(o).run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("bench_depth", bench_main, argc, argv); }
