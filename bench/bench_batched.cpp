// bench_batched: aggregate throughput of many sequences decoded together, as llama.cpp's llama-batched-bench
// measures it. For each B: one batch prefills P tokens of each of B sequences, then N steps decode one token
// of every sequence each (B rows a step). Tables to stdout (llama-batched-bench's columns), progress to
// stderr, records (kind "batched", harness/SCHEMA.md) to <output>/<date>-<host>.jsonl and .csv.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/workbench_runs.h"
#include "cli/args.h"
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
    std::vector<int> threads, npp, ntg, npl;
    int repetitions = 1;
    std::string output = "results";
    std::string command;
};

constexpr int kMaxSequences = 1 << 16;
constexpr int kWarmupTokens = 16;

void print_help() {
    std::printf(
        "usage: bench_batched [options]\n"
        "Aggregate tokens/s of B sequences decoded together, as llama-batched-bench measures it: for each B, one\n"
        "batch prefills P tokens of each of B sequences, then N steps decode one token of every sequence each.\n"
        "Columns: PP = P, TG = N, B, N_KV = B(P+N) cache rows, T_PP/S_PP prefill seconds and tokens/s (B*P),\n"
        "T_TG/S_TG decode seconds and tokens/s (B*N), T/S the whole. Tables go to stdout, progress to stderr,\n"
        "records to OUTPUT/<date>-<host>.jsonl|csv (kind \"batched\").\n\n"
        "  --model PATH          a checkpoint, llama2.c or GGUF (repeatable)\n"
        "  --synthetic SHAPE     a synthetic model in memory (repeatable): %s\n"
        "                        default: synthetic stories15M and stories110M\n"
        "  --variants a,b        variants to run (default: per model, the one generate picks: %s for fp32,\n"
        "                        tbb-quant for a Q4_K_M file, ...; said on stderr)\n"
        "  --threads 1,2         thread counts (default: all %u cores)\n"
        "%s"
        "  --npp P,...           prompt tokens per sequence (default 128)\n"
        "  --ntg N,...           generated tokens per sequence (default 128)\n"
        "  --npl B,...           sequences decoded together (default 1,2,4,8,16,32,64)\n"
        "  --repetitions R       timed runs of each configuration after the warm-up (default 1)\n"
        "  --quick               a few seconds: synthetic stories15M, P=16, N=8, B=1,2,4\n"
        "  --output DIR          where records go (default results)\n"
        "  --help                this text\n"
        "The KV cache holds the largest B of sequences of the largest P+N positions; a run that would not fit\n"
        "in the memory available is refused before it starts.\n",
        shape_names().c_str(), default_variant().c_str(), std::max(1u, std::thread::hardware_concurrency()),
        cli::isa_help().c_str());
}

Options parse(int argc, char** argv) {
    Options o;
    o.command = cli::command_line(argc, argv);
    bool quick = false;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (cli::bench_option(a, args, {o.variants, o.threads, o.models}, print_help)) {
            continue;
        } else if (a == "--npp") {
            o.npp = cli::parse_int_list(a, args.value(), 1, 1 << 20);
        } else if (a == "--ntg") {
            o.ntg = cli::parse_int_list(a, args.value(), 1, 1 << 20);
        } else if (a == "--npl") {
            o.npl = cli::parse_int_list(a, args.value(), 1, kMaxSequences);
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(cli::parse_int(a, args.value(), 1, 1000));
        } else if (a == "--quick") {
            quick = true;
        } else if (a == "--output") {
            o.output = args.value();
        } else {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        }
    }
    cli::output_directory(o.output);
    if (o.models.empty()) {
        o.models.push_back({"stories15M", std::nullopt, "stories15M"});
        if (!quick) o.models.push_back({"stories110M", std::nullopt, "stories110M"});
    }
    if (o.threads.empty()) o.threads = {static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
    if (o.npp.empty()) o.npp = {quick ? 16 : 128};
    if (o.ntg.empty()) o.ntg = {quick ? 8 : 128};
    if (o.npl.empty()) o.npl = quick ? std::vector<int>{1, 2, 4} : std::vector<int>{1, 2, 4, 8, 16, 32, 64};
    return o;
}

int largest(const std::vector<int>& v) { return *std::max_element(v.begin(), v.end()); }

Checkpoint load(const ModelSpec& spec) {
    if (spec.path) return Checkpoint::open(*spec.path);
    return synthetic_checkpoint(*find_shape(*spec.shape), 1, *spec.shape);
}

// Refuses, before anything runs, a run whose sequences pass a model's context or whose cache would not fit.
void check_fits(const Options& o) {
    const int positions = largest(o.npp) + largest(o.ntg);
    const std::optional<std::uint64_t> available = available_memory();
    for (const ModelSpec& spec : o.models) {
        const std::optional<Checkpoint> file = spec.path ? std::optional<Checkpoint>(Checkpoint::open(*spec.path)) : std::nullopt;
        const Config c = file ? file->config() : *find_shape(*spec.shape);
        if (positions > c.seq_len) {
            throw cli::UsageError("--npp " + std::to_string(largest(o.npp)) + " + --ntg " + std::to_string(largest(o.ntg)) +
                                  " = " + std::to_string(positions) + " positions per sequence pass " + spec.name +
                                  "'s context of " + std::to_string(c.seq_len));
        }
        if (!available) continue;
        const WeightFootprint w = file ? footprint(*file) : fp32_footprint(c);
        for (const std::string& v : workbench_variants(o.variants, w, "bench_batched", true)) {
            require_memory(spec.name + " with " + std::to_string(largest(o.npl)) + " sequences", c, w,
                           resolve_variant(v), *available, {largest(o.npl), positions});
        }
    }
}

struct Timing {
    double prefill_seconds, decode_seconds;
};

// One prefill of B x P rows, then N decode steps of B rows, each sequence fed its greedy token.
Timing run_once(Transformer& model, int P, int N, int B) {
    const int V = model.config().vocab_size;
    Batch batch;
    for (int s = 0; s < B; s++) {
        for (int i = 0; i < P; i++) batch.add(synthetic_token(s, i, V), s, i);
    }
    std::vector<int> next(static_cast<std::size_t>(B));
    const auto t0 = std::chrono::steady_clock::now();
    const float* logits = model.forward(batch);
    for (int s = 0; s < B; s++) next[s] = argmax(logits + static_cast<std::size_t>(s) * V, V);
    const double prefill = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    for (int step = 0; step < N; step++) {
        batch.clear();
        for (int s = 0; s < B; s++) batch.add(next[s], s, P + step);
        logits = model.forward(batch);
        for (int s = 0; s < B; s++) next[s] = argmax(logits + static_cast<std::size_t>(s) * V, V);
    }
    return {prefill, seconds_since(t1)};
}

void print_table_header(const std::string& model, const std::string& variant, int threads) {
    std::printf("\n### %s, %s, %d thread%s\n\n", model.c_str(), variant.c_str(), threads, threads > 1 ? "s" : "");
    std::printf("|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n");
    std::printf("|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n");
    std::fflush(stdout);
}

// One table row from a record's medians.
void print_row(const Record& r) {
    const int P = r.prompt_tokens, N = r.gen_tokens, B = r.batch;
    const double t_pp = r.ttft_ms.median / 1e3, t_tg = B * static_cast<double>(N) / r.decode_tok_s.median;
    const double t = t_pp + t_tg;
    std::printf("| %5d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |\n", P, N, B, B * (P + N), t_pp,
                B * P / t_pp, t_tg, r.decode_tok_s.median, t, B * (P + N) / t);
    std::fflush(stdout);
}

int bench_main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    check_fits(o);
    const BuildInfo build = build_info();
    const std::string stem = results_stem(build);
    const CacheShape cache{largest(o.npl), largest(o.npp) + largest(o.ntg)};
    for (const ModelSpec& spec : o.models) {
        std::fprintf(stderr, "bench_batched: loading %s\n", spec.name.c_str());
        const Checkpoint ck = load(spec);
        const WeightFootprint w = footprint(ck);
        for (const std::string& variant : workbench_variants(o.variants, w, "bench_batched", false)) {
            const Kernels k = resolve_variant(variant);
            if (!k.available()) {
                std::fprintf(stderr, "bench_batched: %s is not available on this machine; skipped\n", variant.c_str());
                continue;
            }
            for (const int threads : o.threads) {
                reset_peak_rss();
                ExecContext ctx(threads);
                Transformer model(ck, k, ctx, cache);
                std::fprintf(stderr, "bench_batched: %s %s threads=%d: warm-up\n", spec.name.c_str(), variant.c_str(), threads);
                run_once(model, std::min(kWarmupTokens, largest(o.npp)), std::min(kWarmupTokens, largest(o.ntg)), 1);
                print_table_header(spec.name, variant, threads);
                for (const int P : o.npp) {
                    for (const int N : o.ntg) {
                        for (const int B : o.npl) {
                            Record r = run_record("batched", o.command, build, "workbench", variant, threads, spec, ck.config());
                            describe_workbench_run(r, k, w, cache.kv_type);
                            r.batch = B;
                            r.prompt_tokens = P;
                            r.gen_tokens = N;
                            r.repetitions = o.repetitions;
                            std::vector<double> s_pp, s_tg, t_pp;
                            for (int rep = 0; rep < o.repetitions; rep++) {
                                const Timing t = run_once(model, P, N, B);
                                s_pp.push_back(B * P / t.prefill_seconds);
                                s_tg.push_back(B * N / t.decode_seconds);
                                t_pp.push_back(t.prefill_seconds * 1e3);
                            }
                            r.prefill_tok_s = summarize(s_pp);
                            r.decode_tok_s = summarize(s_tg);
                            r.ttft_ms = summarize(t_pp);
                            r.peak_rss_mb = peak_rss_mb();
                            append_record(r, o.output, stem);
                            std::fprintf(stderr, "bench_batched: %s %s threads=%d P=%d N=%d B=%d: S_PP %.1f t/s, S_TG %.1f t/s\n",
                                         spec.name.c_str(), variant.c_str(), threads, P, N, B, r.prefill_tok_s.median,
                                         r.decode_tok_s.median);
                            print_row(r);
                        }
                    }
                }
            }
        }
    }
    std::fprintf(stderr, "bench_batched: records in %s/%s.jsonl and .csv\n", o.output.c_str(), stem.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("bench_batched", bench_main, argc, argv); }
