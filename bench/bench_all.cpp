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

struct Options {
    std::vector<std::string> variants;  // empty: every available one
    std::vector<int> threads;
    std::vector<ModelSpec> models;
    std::vector<Peer> peers;
    int prompt_tokens = 64, gen_tokens = 128, repetitions = 5;
    bool baselines = true, profile = false, quick = false;
    std::string output = "results";
    std::string command;  // argv, for the records
};

constexpr int kGateTokens = 32;
constexpr int kSweepContext = 8192;  // the stories15M shape, its context stretched for the position sweep
constexpr int kPythonTokens = 8;                // pure Python: a short prompt and generation
constexpr std::uint64_t kPythonMaxParams = 30'000'000;  // and only on models it finishes in seconds

void print_help() {
    std::printf(
        "usage: bench_all [options]\n"
        "End-to-end prefill and decode tokens/s of every variant, thread count and model, against the C and\n"
        "Python baselines. Tables go to stdout, progress to stderr, records to OUTPUT/<date>-<host>.jsonl|csv.\n\n"
        "  --variants a,b        variants to run (default: all available; see generate --list-variants)\n"
        "  --threads 1,2         thread counts (default: 1 and all cores)\n"
        "%s"
        "  --model PATH          a checkpoint, llama2.c or GGUF (repeatable)\n"
        "  --synthetic SHAPE     a synthetic model in memory (repeatable): %s\n"
        "                        default models: synthetic stories15M and stories110M, plus stories260K.bin\n"
        "                        when the models directory has it\n"
        "  --prompt-tokens P     prompt length (default 64)\n"
        "  --gen-tokens N        generated tokens (default 128)\n"
        "  --repetitions R       timed runs after one warm-up (default 5)\n"
        "  --no-baselines        skip the C and Python baselines\n"
        "  --peer KIND=PATH      also measure another engine on the same models (repeatable); KIND is one of\n"
        "                        %s: llama.cpp=a llama-bench binary, llama2.c=run binaries\n"
        "                        (comma-separated); KIND:NAME=PATH names it in records and tables\n"
        "  --profile             also record time per operation per position, and sweep decode positions\n"
        "                        128 .. %d on the stories15M shape to find where attention overtakes the matmuls\n"
        "  --quick               a smoke run of about a minute (P=16, N=32, R=2, small models)\n"
        "  --output DIR          where records go (default results)\n"
        "  --help                this text\n"
        "Models directory (tokenizers, stories260K): $WORKBENCH_MODELS or %s\n",
        cli::isa_help().c_str(), shape_names().c_str(), peer_kind_names().c_str(), kSweepContext, WORKBENCH_MODELS_DIR);
}

// "a,b" -> {a, b}; an empty list or an empty item is a usage error.
std::vector<std::string> split(std::string_view flag, std::string_view s) {
    std::vector<std::string> out;
    std::stringstream ss{std::string(s)};
    for (std::string item; std::getline(ss, item, ',');) {
        if (item.empty()) throw cli::UsageError(std::string(flag) + " has an empty item in '" + std::string(s) + "'");
        out.push_back(item);
    }
    if (out.empty() || s.back() == ',') throw cli::UsageError(std::string(flag) + " needs a comma-separated list");
    return out;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 0; i < argc; i++) o.command += (i ? " " : "") + std::string(argv[i]);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool prompt_set = false, gen_set = false, reps_set = false;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            print_help();
            std::exit(0);
        } else if (a == "--isa") {
            cli::isa_argument(args.value());
        } else if (a == "--variants") {
            o.variants = split(a, args.value());
            for (const std::string& v : o.variants) cli::variant_argument(v);
        } else if (a == "--threads") {
            for (const std::string& t : split(a, args.value())) {
                o.threads.push_back(static_cast<int>(cli::parse_int("--threads", t, 1, max_threads())));
            }
        } else if (a == "--model") {
            o.models.push_back(cli::model_file_argument(args.value()));
        } else if (a == "--synthetic") {
            o.models.push_back(cli::synthetic_argument(args.value()));
        } else if (a == "--prompt-tokens") {
            o.prompt_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 20));
            prompt_set = true;
        } else if (a == "--gen-tokens") {
            o.gen_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 20));
            gen_set = true;
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(cli::parse_int(a, args.value(), 1, 1000));
            reps_set = true;
        } else if (a == "--peer") {
            try {
                for (Peer& p : parse_peer_argument(args.value())) {
                    for (const Peer& q : o.peers) {
                        if (q.label() == p.label()) throw cli::UsageError("--peer " + p.label() + " given twice (name one with KIND:NAME=PATH)");
                    }
                    o.peers.push_back(std::move(p));
                }
            } catch (const std::invalid_argument& e) {
                throw cli::UsageError(e.what());
            }
        } else if (a == "--no-baselines") {
            o.baselines = false;
        } else if (a == "--profile") {
            o.profile = true;
        } else if (a == "--quick") {
            o.quick = true;
        } else if (a == "--output") {
            o.output = args.value();
        } else {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        }
    }
    cli::output_directory(o.output);
    if (o.quick) {
        if (!prompt_set) o.prompt_tokens = 16;
        if (!gen_set) o.gen_tokens = 32;
        if (!reps_set) o.repetitions = 2;
    }
    if (o.threads.empty()) o.threads = cores > 1 ? std::vector<int>{1, cores} : std::vector<int>{1};
    if (o.models.empty()) {
        o.models.push_back({"stories15M", std::nullopt, "stories15M"});
        if (!o.quick) o.models.push_back({"stories110M", std::nullopt, "stories110M"});
        const std::string small = cli::models_dir() + "/stories260K.bin";
        if (std::filesystem::exists(small)) o.models.push_back({"stories260K", small, std::nullopt});
    }
    if (o.variants.empty()) {
        for (const Variant& v : variants()) {
            if (resolve_variant(v.name).available()) o.variants.push_back(v.name);
        }
    }
    return o;
}

// A model as every implementation sees it: the checkpoint, its tokenizer, a file for the baselines.
struct Model {
    ModelSpec spec;
    Checkpoint checkpoint;
    std::string tokenizer_path;
    std::string file;  // the checkpoint on disk (a temporary for synthetic models)
    bool temporary_file = false;
};

std::string tokenizer_for(int vocab_size) {
    const std::string dir = cli::models_dir();
    const std::string sized = dir + "/tok" + std::to_string(vocab_size) + ".bin";
    return std::filesystem::exists(sized) ? sized : dir + "/tokenizer.bin";
}

Model load(const ModelSpec& spec, bool need_file) {
    if (spec.path) {
        Checkpoint ck = Checkpoint::open(*spec.path);
        const std::string tok = tokenizer_for(ck.config().vocab_size);
        return {spec, std::move(ck), tok, *spec.path, false};
    }
    const Config c = *find_shape(*spec.shape);
    std::string file;
    if (need_file) {
        file = (std::filesystem::temp_directory_path() / ("wb-" + *spec.shape + "-" + std::to_string(getpid()) + ".bin")).string();
        write_synthetic(c, 1, file);
    }
    return {spec, synthetic_checkpoint(c, 1, *spec.shape), tokenizer_for(c.vocab_size), file, need_file};
}

// The longest run of story words whose encoding (BOS included) has at most `tokens` tokens.
std::string prompt_text(const Tokenizer& tok, int tokens) {
    static const char* const kWords =
        "Once upon a time there was a little girl named Lily who lived in a small house near the big green "
        "forest with her mother her father and a happy brown dog called Max and every morning she ran outside "
        "to look at the flowers the birds and the tall old trees that whispered stories in the wind";
    std::vector<std::string> words;
    std::stringstream ss(kWords);
    for (std::string w; ss >> w;) words.push_back(w);
    std::string best, text;
    for (int i = 0;; i++) {
        const std::string candidate = text.empty() ? words[i % words.size()] : text + " " + words[i % words.size()];
        if (static_cast<int>(tok.encode(candidate, tok.add_bos()).size()) > tokens) break;
        best = text = candidate;
        if (i > 100000) break;
    }
    return best;
}

struct Row {
    std::string label;
    int threads;
    Record record;
};

double decode_of(const std::vector<Row>& rows, const std::string& label, int threads) {
    for (const Row& r : rows) {
        if (r.label == label && r.threads == threads && r.record.status == "ok") return r.record.decode_tok_s.median;
    }
    return 0;
}

// The fastest decode of the named peer's runs in this weight type at this thread count (0: none).
double peer_decode_of(const std::vector<Row>& rows, const std::string& peer, const std::optional<std::string>& type, int threads) {
    double best = 0;
    for (const Row& r : rows) {
        const Record& p = r.record;
        if (p.peer && p.peer->name == peer && type && p.weight_type == type && r.threads == threads && p.status == "ok") {
            best = std::max(best, p.decode_tok_s.median);
        }
    }
    return best;
}

// "median ± sd", or "—" for a rate the program does not report.
std::string rate(const Summary& s) {
    if (!std::isfinite(s.median)) return "—";
    char buf[64];
    std::snprintf(buf, sizeof buf, std::isfinite(s.stddev) ? "%.1f ± %.1f" : "%.1f", s.median, s.stddev);
    return buf;
}

void print_table(const std::string& model, const std::vector<Row>& rows, const std::vector<Peer>& peers) {
    auto ratio = [](double a, double b) -> std::string {
        if (!(a > 0) || !(b > 0)) return "—";
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2fx", a / b);
        return buf;
    };
    std::vector<std::string> peer_names;  // one "vs" column each, like for like in weight type
    for (const Peer& p : peers) {
        if (std::find(peer_names.begin(), peer_names.end(), p.name) == peer_names.end()) peer_names.push_back(p.name);
    }
    std::printf("\n### %s\n\n", model.c_str());
    std::printf("| variant | threads | prefill tok/s | decode tok/s | TTFT ms | vs C runfast/omp | vs Python | vs naive |");
    for (const std::string& n : peer_names) std::printf(" vs %s |", n.c_str());
    std::printf(" status |\n|");
    for (std::size_t i = 0; i < 9 + peer_names.size(); i++) std::printf(" --- |");
    std::printf("\n");
    const double python = decode_of(rows, "python", 1);
    for (const Row& r : rows) {
        const Record& rec = r.record;
        const double c = r.threads == 1 ? decode_of(rows, "c-runfast", 1) : decode_of(rows, "c-runomp", r.threads);
        const double naive = decode_of(rows, "naive", r.threads);
        const double dec = rec.status == "ok" ? rec.decode_tok_s.median : 0.0;
        std::string status = rec.status;
        if (rec.agreement) status += " (agreement " + std::to_string(static_cast<int>(*rec.agreement * 100 + 0.5)) + "%)";
        if (rec.error) status += ": " + *rec.error;
        char ttft[32] = "—";
        if (std::isfinite(rec.ttft_ms.median)) std::snprintf(ttft, sizeof ttft, "%.1f", rec.ttft_ms.median);
        std::printf("| %s | %d | %s | %s | %s | %s | %s | %s |", r.label.c_str(), r.threads, rate(rec.prefill_tok_s).c_str(),
                    rate(rec.decode_tok_s).c_str(), ttft, ratio(dec, c).c_str(), ratio(dec, python).c_str(),
                    ratio(dec, naive).c_str());
        for (const std::string& n : peer_names) {
            std::printf(" %s |", ratio(dec, peer_decode_of(rows, n, rec.weight_type, r.threads)).c_str());
        }
        std::printf(" %s |\n", status.c_str());
    }
    std::fflush(stdout);
}

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
                position_sweep();
            } catch (const Interrupted&) {
                return false;
            }
        }
        for (const ModelSpec& spec : o_.models) {
            std::vector<Row> rows;
            try {
                check_stop();
                run_model(spec, rows);
            } catch (const Interrupted&) {
                completed = false;
            }
            print_table(spec.name, rows, o_.peers);
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
    int variant_runs() const { return o_.repetitions + 2 + (o_.profile ? 1 : 0); }  // + gate and warm-up
    int baseline_runs(const std::string& name) const { return name == "python" ? 1 : o_.repetitions + 1; }
    // Pure Python runs a position about fifty times slower than the compiled programs.
    int baseline_positions(const Config& c, const std::string& name) const {
        return name == "python" ? 50 * 2 * kPythonTokens : run_positions(c);
    }

    // Counts the run's measurements and their work before the first one starts.
    void plan_progress() {
        int jobs = 0;
        double total = 0;
        if (o_.profile) {
            jobs++;
            total += sweep_work();
        }
        for (const ModelSpec& spec : o_.models) {
            const Config c = spec.path ? Checkpoint::open(*spec.path).config() : *find_shape(*spec.shape);
            const int n = static_cast<int>(o_.variants.size() * o_.threads.size());
            jobs += n;
            total += n * work(c, run_positions(c), variant_runs());
            for (const Peer& peer : o_.peers) {
                const int n_peer = static_cast<int>(peer_jobs(peer).size());
                jobs += n_peer;
                total += n_peer * work(c, run_positions(c), o_.repetitions + 1);  // + its warm-up
            }
            if (!o_.baselines) continue;
            for (const Baseline& b : baselines()) {
                for (const int threads : o_.threads) {
                    if (!baseline_runs_at(b, c, threads)) continue;
                    jobs++;
                    total += work(c, baseline_positions(c, b.name), baseline_runs(b.name));
                }
            }
        }
        progress_.emplace(jobs, total);
    }

    static double sweep_work() { return work(*find_shape("stories15M"), 6 * 7, 1); }

    // Starts the next measurement's progress line on stderr ("[3/40] tbb 2 threads stories110M (...):").
    void announce(const std::string& what, int threads, const std::string& model, double job_work) {
        const std::string label = what + " " + std::to_string(threads) + (threads > 1 ? " threads " : " thread ") + model;
        std::fprintf(stderr, "%s:", progress_->start(label, job_work).c_str());
    }

    Record base_record(const Model& m, const std::string& impl, const std::string& variant, int threads, int P, int N) {
        Record r;
        r.timestamp = utc_now();
        r.command = o_.command;
        r.build = build_;
        r.impl = impl;
        r.variant = variant;
        r.threads = threads;
        r.model = m.spec.name;
        r.model_source = m.spec.path ? *m.spec.path : "synthetic";
        r.model_bytes = static_cast<long long>(m.checkpoint.config().matmul_params() * 4);
        r.prompt_tokens = P;
        r.gen_tokens = N;
        r.repetitions = o_.repetitions;
        return r;
    }

    void run_model(const ModelSpec& spec, std::vector<Row>& rows) {
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
        for (const std::string& variant : o_.variants) {
            for (const int threads : o_.threads) {
                check_stop();
                rows.push_back({variant, threads, measure_variant(m, tok, prompt, steps, gate_steps, reference, variant, threads)});
                append_record(rows.back().record, o_.output, stem_);
            }
        }
        if (o_.baselines) run_baselines(m, tok, text, P, N, rows);
        if (!o_.peers.empty()) run_peers(m, text, P, N, rows);
    }

    // Each peer on this model in each weight type it shares with the run's variants, at each thread count it can use.
    void run_peers(const Model& m, const std::string& text, int P, int N, std::vector<Row>& rows) {
        PeerModels files(m.spec.name, peer_model_writer(m.checkpoint, m.tokenizer_path));
        const Checkpoint& ck = m.checkpoint;
        if (!m.file.empty() && (ck.format() == Format::synthetic || (ck.format() == Format::llama2c && ck.version() == 0))) {
            files.provide(PeerFormat::llama2c_v0, DType::f32, m.file);  // the baselines' v0 file
        }
        for (const Peer& peer : o_.peers) {
            const std::vector<std::pair<DType, int>> jobs = peer_jobs(peer);
            if (jobs.empty()) {
                std::fprintf(stderr, "bench_all: %s: %s skipped, no variant of the run streams a type it takes\n",
                             m.spec.name.c_str(), peer.label().c_str());
                continue;
            }
            const std::string output = peer.kind->outputs.empty() ? "" : peer_output(peer);
            for (const auto& [type, threads] : jobs) {
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
        const MatmulKernel& main = k.matmul_for(stored_types(w).front());  // the kernel of most of the weights
        r.matmul = main.name;
        r.attention = k.attention->name;
        r.bytes_per_weight = static_cast<float>(streamed_bytes_per_weight(w, k));
        r.weights_held = holding_name(main.holding);
        r.lossy = k.lossy();
        r.isa = isa_name(k.isa());
        r.weight_type = traits(main.streams).name;
        const Config& c = m.checkpoint.config();
        announce(variant, threads, m.spec.name, work(c, run_positions(c), variant_runs()));
        std::fprintf(stderr, " gate");
        reset_peak_rss();
        ExecContext ctx(threads);
        Transformer model(m.checkpoint, k, ctx);
        auto run_once = [&](int n_steps) {
            Sampler sampler(m.checkpoint.config().vocab_size, 0.0f, 0.9f, 1);
            return generate(model, tok, sampler, prompt, n_steps, [](std::string_view) {});
        };
        const std::vector<int> tokens = run_once(gate_steps).tokens;
        std::size_t same = 0;
        for (std::size_t i = 0; i < tokens.size() && i < reference.size(); i++) same += tokens[i] == reference[i];
        const bool lossy = k.lossy();
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
        if (o_.profile) {
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

    // Decode steps at growing positions on the stories15M shape with the default variant: per-op time
    // at each position, and the first position where attention costs more than all the matmuls.
    void position_sweep() {
        Config c = *find_shape("stories15M");
        c.seq_len = kSweepContext;
        const Checkpoint ck = synthetic_checkpoint(c, 1, "stories15M-8k");
        const std::string variant = default_variant();
        const int threads = o_.threads.front();
        ExecContext ctx(threads);
        Profiler prof;
        Transformer model(ck, resolve_variant(variant), ctx);
        std::vector<int> positions;
        for (int p = 128; p < kSweepContext; p *= 2) positions.push_back(p);
        positions.push_back(kSweepContext - 1);
        JsonWriter j;
        j.begin_object().field("schema", 1).field("kind", "position_profile").field("timestamp", utc_now())
            .field("command", o_.command).field("git_sha", build_.git_sha).field("cpu", build_.cpu)
            .field("model", "stories15M").field("context", kSweepContext).field("variant", variant)
            .field("threads", threads).begin_array("positions");
        for (const int p : positions) j.value(p);
        j.end_array().key("ms").begin_object();
        std::vector<std::vector<double>> ms(static_cast<int>(Op::count));
        constexpr int kSteps = 5;
        announce(variant, threads, "stories15M position sweep", sweep_work());
        std::optional<int> crossover;
        for (const int p : positions) {
            check_stop();
            const int token = 42;
            model.forward(&token, 1, p - 1);  // warm-up
            ctx.observer = &prof;
            prof.reset();
            for (int i = 0; i < kSteps; i++) model.forward(&token, 1, p);
            ctx.observer = nullptr;
            double matmuls = 0;
            for (int op = 0; op < static_cast<int>(Op::count); op++) {
                ms[op].push_back(prof.seconds(static_cast<Op>(op)) * 1e3 / kSteps);
                const Op o = static_cast<Op>(op);
                if (o == Op::qkv || o == Op::o || o == Op::ffn_up_gate || o == Op::ffn_down || o == Op::classifier) {
                    matmuls += ms[op].back();
                }
            }
            if (!crossover && ms[static_cast<int>(Op::attention)].back() > matmuls) crossover = p;
            std::fprintf(stderr, " %d", p);
        }
        for (int op = 0; op < static_cast<int>(Op::count); op++) {
            j.begin_array(op_name(static_cast<Op>(op)));
            for (const double v : ms[op]) j.value(v);
            j.end_array();
        }
        j.end_object().key("attention_overtakes_matmuls_at");
        if (crossover) j.value(*crossover);
        else j.null();
        j.end_object();
        const std::string path = (std::filesystem::path(o_.output) / (stem_ + ".jsonl")).string();
        append_line(path, j.str());
        if (crossover) std::fprintf(stderr, ": attention overtakes the matmuls at position %d\n", *crossover);
        else std::fprintf(stderr, ": attention stays below the matmuls up to position %d\n", kSweepContext - 1);
    }

    struct Baseline {
        std::string name;
        std::vector<std::string> command;
        std::string threads_env;  // empty: single-threaded
        std::string compiler, flags;  // how it is built or run, for its records
    };

    std::vector<Baseline> baselines() const {
        const std::string py = std::string(WORKBENCH_PYTHON), scripts = std::string(WORKBENCH_SOURCE_DIR) + "/bench/baselines/python/";
        return {
            {"c-run", {bin_dir_ + "/baseline-run"}, "", "cc", "-O3 -ffp-contract=off"},
            {"c-runfast", {bin_dir_ + "/baseline-runfast"}, "", "cc", "-Ofast -march=native"},
            {"c-runomp", {bin_dir_ + "/baseline-runomp"}, "OMP_NUM_THREADS", "cc", "-Ofast -march=native -fopenmp"},
            {"numpy", {py, scripts + "llama2_numpy.py"}, "OPENBLAS_NUM_THREADS", py, "NumPy on the system BLAS"},
            {"python", {py, scripts + "llama2_pure.py"}, "", py, "pure CPython"},
        };
    }

    // Single-threaded baselines run at 1 thread only; pure Python only on models it finishes in seconds.
    static bool baseline_runs_at(const Baseline& b, const Config& c, int threads) {
        if (b.threads_env.empty() && threads != 1) return false;
        return b.name != "python" || c.matmul_params() <= kPythonMaxParams;
    }

    void run_baselines(const Model& m, const Tokenizer& tok, const std::string& text, int P, int N, std::vector<Row>& rows) {
        for (const Baseline& b : baselines()) {
            const bool python = b.name == "python";
            if (python && m.checkpoint.config().matmul_params() > kPythonMaxParams) {
                std::fprintf(stderr, "bench_all: %s: pure Python skipped (over %llu parameters)\n", m.spec.name.c_str(),
                             static_cast<unsigned long long>(kPythonMaxParams));
                continue;
            }
            const std::string b_text = python ? prompt_text(tok, kPythonTokens) : text;
            const int b_P = python ? static_cast<int>(tok.encode(b_text, tok.add_bos()).size()) : P;
            const int b_N = python ? kPythonTokens : N;
            for (const int threads : o_.threads) {
                if (!baseline_runs_at(b, m.checkpoint.config(), threads)) continue;
                check_stop();
                rows.push_back({b.name, threads, measure_baseline(m, b, b_text, b_P, b_N, threads, python ? 1 : o_.repetitions)});
                append_record(rows.back().record, o_.output, stem_);
            }
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
