// bench_all: end-to-end tokens/s of every variant x thread count x model, against the baselines.
// Records go to <output>/<date>-<host>.jsonl and .csv (harness/SCHEMA.md); tables to stdout;
// progress to stderr. SIGINT/SIGTERM drops the measurement under way, keeps every finished record,
// prints the partial tables and exits 130.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/baseline_table.h"
#include "bench/bench_all_models.h"
#include "bench/bench_all_options.h"
#include "bench/bench_all_table.h"
#include "bench/position_sweep.h"
#include "bench/workbench_runs.h"
#include "cli/args.h"
#include "harness/json.h"
#include "harness/machine.h"
#include "harness/peers.h"
#include "harness/process.h"
#include "harness/progress.h"
#include "harness/record.h"
#include "harness/timing.h"
#include "model/generate.h"
#include "model/synthetic.h"

namespace {

using namespace wb;
using namespace wb::bench_all;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_child = 0;

void on_signal(int) {
    g_stop = 1;
    if (g_child > 0) kill(static_cast<pid_t>(g_child), SIGTERM);
}

struct Interrupted {};
void check_stop() {
    if (g_stop) throw Interrupted{};
}

using cli::ModelSpec;

class Bench {
public:
    explicit Bench(Options o) : o_(std::move(o)), build_(build_info()), stem_(results_stem(build_)) {
        bin_dir_ = std::filesystem::canonical("/proc/self/exe").parent_path().string();
    }

    // Returns false when interrupted.
    bool run() {
        plan_progress();
        bool completed = true;
        if (o_.profile) {
            try {
                position_sweep({o_.threads.front(), o_.command, build_,
                                (std::filesystem::path(o_.output) / (stem_ + ".jsonl")).string(),
                                [&](const std::string& variant, const std::string& what) {
                                    announce_sweep(variant, o_.threads.front(), what);
                                },
                                check_stop});
            } catch (const Interrupted&) {
                return false;
            }
        }
        for (const ModelSpec& spec : o_.models) {
            std::vector<std::vector<Row>> rounds(static_cast<std::size_t>(o_.rounds));
            try {
                check_stop();
                run_model(spec, rounds);
            } catch (const Interrupted&) {
                completed = false;
            }
            for (std::size_t i = 0; i < rounds.size(); i++) {
                if (rounds[i].empty()) continue;
                const std::string title = o_.rounds == 1 ? spec.name
                                                         : spec.name + ", round " + std::to_string(i + 1) + " of " + std::to_string(o_.rounds);
                print_table(title, rounds[i], o_.peers);
            }
            if (!completed) break;
        }
        std::fprintf(stderr, "bench_all: %s; records in %s/%s.jsonl and .csv\n", progress_->summary().c_str(),
                     o_.output.c_str(), stem_.c_str());
        return completed;
    }

private:
    // Relative cost of a measurement for the time-left estimate: weights x positions x runs.
    static double work(const Config& c, int positions, int runs) {
        return static_cast<double>(c.matmul_params()) * positions * runs;
    }
    int run_positions(const Config& c) const { return std::min(o_.prompt_tokens + o_.gen_tokens, c.seq_len); }
    // + gate and warm-up, + the profiled run in the last round
    int variant_runs(int round) const { return o_.repetitions + 2 + (o_.profile && round == o_.rounds ? 1 : 0); }
    int baseline_runs(const std::string& name) const { return name == "python" ? 1 : o_.repetitions + 1; }
    // Pure Python runs a position about fifty times slower than the compiled programs.
    int baseline_positions(const Config& c, const std::string& name) const {
        return name == "python" ? 50 * 2 * kPythonTokens : run_positions(c);
    }

    // Plans the run's measurements, each under its kind (what runs at which thread count), before the first starts.
    void plan_progress() {
        progress_.emplace();
        if (o_.profile) progress_->plan("position sweep", position_sweep_work());
        for (const ModelSpec& spec : o_.models) {
            const Config c = spec.path ? Checkpoint::open(*spec.path).config() : *find_shape(*spec.shape);
            for (int round = 1; round <= o_.rounds; round++) {
                for (const int threads : o_.threads) {
                    for (const std::string& v : o_.variants) {
                        progress_->plan(job_kind(v, threads), work(c, run_positions(c), variant_runs(round)));
                    }
                    for (const Peer& peer : o_.peers) {
                        for (const auto& [type, t] : peer_jobs(peer)) {
                            if (t == threads) {
                                progress_->plan(job_kind(peer_variant(peer, type), t), work(c, run_positions(c), o_.repetitions + 1));
                            }
                        }
                    }
                    if (!o_.baselines) continue;
                    for (const Baseline& b : baselines(bin_dir_)) {
                        if (!baseline_runs_at(b, c, threads)) continue;
                        progress_->plan(job_kind(b.name, threads), work(c, baseline_positions(c, b.name), baseline_runs(b.name)));
                    }
                }
            }
        }
    }

    // What a measurement's time per unit of work is learned under: the program and its thread count.
    static std::string job_kind(const std::string& what, int threads) { return what + "@" + std::to_string(threads); }

    // Starts the next measurement's progress line on stderr ("[3/40] tbb 2 threads stories110M (...):").
    void announce(const std::string& what, int threads, const std::string& model, double job_work) {
        start_job(what + " " + std::to_string(threads) + (threads > 1 ? " threads " : " thread ") + model,
                  job_kind(what, threads), job_work);
    }
    void announce_sweep(const std::string& variant, int threads, const std::string& what) {
        start_job(variant + " " + std::to_string(threads) + (threads > 1 ? " threads " : " thread ") + what,
                  "position sweep", position_sweep_work());
    }
    void start_job(const std::string& label, const std::string& kind, double job_work) {
        std::fprintf(stderr, "%s:", progress_->start(label, kind, job_work).c_str());
    }

    Record base_record(const Model& m, const std::string& impl, const std::string& variant, int threads, int P, int N) {
        Record r = run_record("e2e", o_.command, build_, impl, variant, threads, m.spec, m.checkpoint.config());
        r.prompt_tokens = P;
        r.gen_tokens = N;
        r.repetitions = o_.repetitions;
        r.round = round_;
        return r;
    }

    // Each round's rows go to rounds[round - 1].
    void run_model(const ModelSpec& spec, std::vector<std::vector<Row>>& rounds) {
        std::fprintf(stderr, "bench_all: loading %s\n", spec.name.c_str());
        Model m = load(spec, o_.baselines);
        struct Cleanup {
            const Model& m;
            ~Cleanup() {
                if (m.temporary_file) std::filesystem::remove(m.file);
            }
        } cleanup{m};
        const Config& c = m.checkpoint.config();
        const std::unique_ptr<Tokenizer> tok_owner = model_tokenizer(m.checkpoint.vocab(), m.spec.name, c.vocab_size, std::nullopt, m.tokenizer_path);
        const Tokenizer& tok = *tok_owner;
        const int budget = c.seq_len;
        const int P_wanted = std::min(o_.prompt_tokens, budget / 2);
        const std::string text = prompt_text(tok, P_wanted);
        const std::vector<int> prompt = tok.encode(text, tok.add_bos());
        const int P = static_cast<int>(prompt.size());
        const int N = std::min(o_.gen_tokens, budget - P + 1);
        const int steps = P + N - 1;
        const int gate_steps = std::min(budget, P + kGateTokens - 1);

        const std::vector<int> reference = greedy(m, tok, prompt, gate_steps, "naive").tokens;
        PeerModels files(m.spec.name, peer_model_writer(m.checkpoint, m.tokenizer_path));
        const Checkpoint& ck = m.checkpoint;
        if (!m.file.empty() && (ck.format() == Format::synthetic || (ck.format() == Format::llama2c && ck.version() == 0))) {
            files.provide(PeerFormat::llama2c_v0, DType::f32, m.file);  // the baselines' v0 file
        }
        // A thread count at a time and, within it, round after round of variants, baselines and peers, so that every
        // ratio of a round's table compares runs minutes apart, not a whole model's run apart (the machine drifts).
        for (const int threads : o_.threads) {
            for (round_ = 1; round_ <= o_.rounds; round_++) {
                std::vector<Row>& rows = rounds[static_cast<std::size_t>(round_ - 1)];
                for (const std::string& variant : o_.variants) {
                    check_stop();
                    rows.push_back({variant, threads, measure_variant(m, tok, prompt, steps, gate_steps, reference, variant, threads)});
                    append_record(rows.back().record, o_.output, stem_);
                }
                if (o_.baselines) run_baselines(m, tok, text, P, N, threads, rows);
                if (!o_.peers.empty()) run_peers(m, files, text, P, N, threads, rows);
            }
        }
    }

    // Each peer on this model in each weight type it shares with the run's variants, at this thread count when it
    // can use it.
    void run_peers(const Model& m, PeerModels& files, const std::string& text, int P, int N, int at_threads,
                   std::vector<Row>& rows) {
        for (const Peer& peer : o_.peers) {
            const std::vector<std::pair<DType, int>> jobs = peer_jobs(peer);
            if (jobs.empty()) {
                if (at_threads == o_.threads.front() && round_ == 1) {
                    std::fprintf(stderr, "bench_all: %s: %s skipped, no variant of the run streams a type it takes\n",
                                 m.spec.name.c_str(), peer.label().c_str());
                }
                continue;
            }
            const std::string output = peer.kind->outputs.empty() ? "" : peer_output(peer);
            for (const auto& [type, threads] : jobs) {
                if (threads != at_threads) continue;
                check_stop();
                rows.push_back({peer_variant(peer, type), threads, measure_peer_run(m, files, peer, type, text, P, N, threads, output)});
                append_record(rows.back().record, o_.output, stem_);
            }
        }
    }

    // A peer's measurements on each model: each weight type it shares with the run's variants, at each thread
    // count its binary can use.
    std::vector<std::pair<DType, int>> peer_jobs(const Peer& peer) const {
        std::vector<DType> run_types;
        for (const std::string& v : o_.variants) {
            const DType t = resolve_variant(v).matmul->streams;
            if (std::find(run_types.begin(), run_types.end(), t) == run_types.end()) run_types.push_back(t);
        }
        std::vector<std::pair<DType, int>> jobs;
        for (const DType type : paired_types(*peer.kind, run_types)) {
            for (const int threads : o_.threads) {
                if (runs_threads(peer, threads)) jobs.emplace_back(type, threads);
            }
        }
        return jobs;
    }

    // The output format the peer's binary supports, from its --help (asked once per binary).
    std::string peer_output(const Peer& peer) {
        auto [it, fresh] = peer_outputs_.try_emplace(peer.binary);
        if (fresh) {
            std::string help;
            try {
                const ProcessResult p = run_process({peer.binary, "--help"}, {}, &g_child);
                help = p.out + p.err;
            } catch (const std::exception&) {
            }
            it->second = choose_output(*peer.kind, help);
        }
        return it->second;
    }

    Record measure_peer_run(const Model& m, PeerModels& files, const Peer& peer, DType type, const std::string& text, int P,
                            int N, int threads, const std::string& output) {
        Record r = base_record(m, "peer", peer_variant(peer, type), threads, P, N);
        r.build.compiler = r.build.flags = "";  // the peer's own build, named by peer.version
        const Config& c = m.checkpoint.config();
        announce(r.variant, threads, m.spec.name, work(c, run_positions(c), o_.repetitions + 1));
        PeerJob job{"", m.tokenizer_path, text, P, N, o_.repetitions, threads, output};
        const RunProgram run = [](const std::vector<std::string>& argv, const std::vector<std::string>& env) {
            ProcessResult p = run_process(argv, env, &g_child);
            check_stop();
            return p;
        };
        try {
            job.model_file = files.file(peer.kind->format, type);
        } catch (const std::runtime_error& e) {
            fail_peer(peer, type, job, e.what(), r);
        }
        if (r.status == "ok") measure_peer(peer, type, job, run, r);
        if (r.status == "ok") std::fprintf(stderr, " decode %.1f tok/s\n", r.decode_tok_s.median);
        else std::fprintf(stderr, " failed: %s\n", r.error.value_or("").c_str());
        return r;
    }

    // One greedy run of a variant on one thread (the correctness gate's reference).
    GenerationResult greedy(const Model& m, const Tokenizer& tok, const std::vector<int>& prompt, int steps,
                            const std::string& variant) {
        ExecContext ctx(1);
        Transformer model(m.checkpoint, resolve_variant(variant), ctx);
        Sampler sampler(m.checkpoint.config().vocab_size, 0.0f, 0.9f, 1);
        return generate(model, tok, sampler, prompt, steps, [](std::string_view) {});
    }

    Record measure_variant(const Model& m, const Tokenizer& tok, const std::vector<int>& prompt, int steps,
                           int gate_steps, const std::vector<int>& reference, const std::string& variant, int threads) {
        const Kernels k = resolve_variant(variant);
        const int P = static_cast<int>(prompt.size());
        Record r = base_record(m, "workbench", variant, threads, P, steps - P + 1);
        const WeightFootprint w = footprint(m.checkpoint);
        describe_workbench_run(r, k, w, o_.kv_type);  // lossy also on a cache other than f32: the gate is naive on f32
        const Config& c = m.checkpoint.config();
        announce(variant, threads, m.spec.name, work(c, run_positions(c), variant_runs(round_)));
        std::fprintf(stderr, " gate");
        reset_peak_rss();
        ExecContext ctx(threads);
        Transformer model(m.checkpoint, k, ctx, CacheShape{1, 0, o_.kv_type});
        auto run_once = [&](int n_steps) {
            Sampler sampler(m.checkpoint.config().vocab_size, 0.0f, 0.9f, 1);
            return generate(model, tok, sampler, prompt, n_steps, [](std::string_view) {});
        };
        const std::vector<int> tokens = run_once(gate_steps).tokens;
        std::size_t same = 0;
        for (std::size_t i = 0; i < tokens.size() && i < reference.size(); i++) same += tokens[i] == reference[i];
        const bool lossy = *r.lossy;
        if (lossy) r.agreement = static_cast<double>(same) / static_cast<double>(std::max<std::size_t>(1, reference.size()));
        if (!lossy && (tokens != reference)) {
            std::fprintf(stderr, " diverged from naive at %zu of %zu tokens, not timed\n", same, reference.size());
            r.status = "diverged";
            return r;
        }
        std::vector<double> prefill, decode, ttft;
        for (int rep = -1; rep < o_.repetitions; rep++) {  // rep -1 is the warm-up
            check_stop();
            std::fprintf(stderr, rep < 0 ? ", warm-up" : ", %d", rep + 1);
            const GenerationResult g = run_once(steps);
            if (rep < 0) continue;
            prefill.push_back(g.timing.prefill_tok_s());
            decode.push_back(g.timing.decode_tok_s());
            ttft.push_back(g.timing.ttft_seconds * 1e3);
        }
        r.prefill_tok_s = summarize(prefill);
        r.decode_tok_s = summarize(decode);
        r.ttft_ms = summarize(ttft);
        r.peak_rss_mb = peak_rss_mb();
        if (o_.profile && round_ == o_.rounds) {  // the last round's record is the one the report reads
            Profiler prof;
            ctx.observer = &prof;
            run_once(steps);
            ctx.observer = nullptr;
            std::vector<std::pair<std::string, double>> ops;
            for (int op = 0; op < static_cast<int>(Op::count); op++) {
                ops.emplace_back(op_name(static_cast<Op>(op)), prof.seconds(static_cast<Op>(op)) * 1e3 / steps);
            }
            r.profile = ops;
        }
        std::fprintf(stderr, ": decode %.1f tok/s\n", r.decode_tok_s.median);
        return r;
    }

    // The baselines that run at this thread count.
    void run_baselines(const Model& m, const Tokenizer& tok, const std::string& text, int P, int N, int threads,
                       std::vector<Row>& rows) {
        for (const Baseline& b : baselines(bin_dir_)) {
            const bool python = b.name == "python";
            if (python && m.checkpoint.config().matmul_params() > kPythonMaxParams) {
                if (threads == o_.threads.front() && round_ == 1) {
                    std::fprintf(stderr, "bench_all: %s: pure Python skipped (over %llu parameters)\n", m.spec.name.c_str(),
                                 static_cast<unsigned long long>(kPythonMaxParams));
                }
                continue;
            }
            if (!baseline_runs_at(b, m.checkpoint.config(), threads)) continue;
            const std::string b_text = python ? prompt_text(tok, kPythonTokens) : text;
            const int b_P = python ? static_cast<int>(tok.encode(b_text, tok.add_bos()).size()) : P;
            const int b_N = python ? kPythonTokens : N;
            check_stop();
            rows.push_back({b.name, threads, measure_baseline(m, b, b_text, b_P, b_N, threads, python ? 1 : o_.repetitions)});
            append_record(rows.back().record, o_.output, stem_);
        }
    }

    Record measure_baseline(const Model& m, const Baseline& b, const std::string& text, int P, int N, int threads, int reps) {
        Record r = base_record(m, "baseline", b.name, threads, P, N);
        r.repetitions = reps;
        r.weight_type = traits(DType::f32).name;
        r.build.compiler = b.compiler;
        r.build.flags = b.flags;
        std::vector<std::string> argv = b.command;
        for (const std::string& a : {m.file, std::string("-z"), m.tokenizer_path, std::string("-t"), std::string("0"),
                                     std::string("-n"), std::to_string(P + N - 1), std::string("-i"), text}) {
            argv.push_back(a);
        }
        std::vector<std::string> env;
        if (!b.threads_env.empty()) env.push_back(b.threads_env + "=" + std::to_string(threads));
        const Config& c = m.checkpoint.config();
        announce(b.name, threads, m.spec.name, work(c, baseline_positions(c, b.name), baseline_runs(b.name)));
        std::vector<double> prefill, decode, ttft;
        for (int rep = reps > 1 ? -1 : 0; rep < reps; rep++) {
            check_stop();
            std::fprintf(stderr, rep < 0 ? " warm-up" : " %d", rep + 1);
            const ProcessResult p = run_process(argv, env, &g_child);
            check_stop();
            const std::optional<ParsedTiming> t = parse_timing_line(p.err);
            if (p.exit_code != 0 || !t) {
                const std::string why = p.err.substr(0, p.err.find('\n'));
                std::fprintf(stderr, " failed (exit %d): %s\n", p.exit_code, why.c_str());
                r.status = "failed";
                return r;
            }
            if (rep < 0) continue;
            prefill.push_back(t->prefill_tok_s);
            decode.push_back(t->decode_tok_s);
            ttft.push_back(t->ttft_ms);
            r.peak_rss_mb = std::max(r.peak_rss_mb, p.peak_rss_mb);
        }
        r.prefill_tok_s = summarize(prefill);
        r.decode_tok_s = summarize(decode);
        r.ttft_ms = summarize(ttft);
        std::fprintf(stderr, ": decode %.1f tok/s\n", r.decode_tok_s.median);
        return r;
    }

    Options o_;
    BuildInfo build_;
    std::string stem_, bin_dir_;
    std::optional<Progress> progress_;
    int round_ = 1;  // the A/B round under way
    std::map<std::string, std::string> peer_outputs_;  // binary -> its output format
};

int bench_main(int argc, char** argv) {
    Options o = parse(argc, argv);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    Bench bench(std::move(o));
    if (!bench.run()) {
        std::fprintf(stderr, "bench_all: interrupted; the records above are complete, the measurement under way was dropped\n");
        return 130;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("bench_all", bench_main, argc, argv); }
