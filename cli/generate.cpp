// generate: llama2.c's run command line on the workbench's forward pass, with a choice of variant.
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "harness/profiler.h"
#include "model/generate.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "variants/variants.h"

namespace {

using namespace wb;

void print_help() {
    std::printf(
        "usage: generate MODEL [options]\n"
        "       generate --synthetic SHAPE [options]\n"
        "Generates text from a checkpoint (llama2.c v0/v1/v2 or GGUF, found by its magic) on the workbench's forward pass.\n\n"
        "  -t <float>   temperature in [0, inf), default 1.0 (0 = greedy)\n"
        "  -p <float>   top-p (nucleus) in [0, 1], default 0.9\n"
        "  -s <int>     random seed, default: time-based (seed <= 0)\n"
        "  -n <int>     positions to run, prompt included; default 256, 0 or more than the context = the context\n"
        "  -i <string>  prompt\n"
        "  -f <file>    prompt read from a file (a long context), instead of -i\n"
        "  -z <string>  tokenizer (llama2.c tokenizer.bin or GGUF), default: the vocabulary the model file\n"
        "               carries, else MODELS/tokenizer.bin (MODELS: $WORKBENCH_MODELS or %s);\n"
        "               a -z given with a model that carries one must hold the same tokens\n"
        "  -m <string>  mode: generate|chat, default generate (chat: Llama 3's header template when the\n"
        "               vocabulary is Llama 3's, Llama 2's [INST] template otherwise)\n"
        "  -y <string>  system prompt (chat mode)\n"
        "  --variant NAME     kernels to run (default: the fastest variant that runs the file's weight types as\n"
        "                     stored, said on stderr: F32 %s, BF16 tbb-bf16, Q8_0 tbb-q8, Q4_0 tbb-q4,\n"
        "                     Q4_K_M and other mixes tbb-quant)\n"
        "  -v                 before generating, list every weight matrix, the kernel that runs it and the type it\n"
        "                     runs in (\"converted\" where that is not the stored type), on stderr\n"
        "  --list-weights     the same list on stdout, and exit\n"
        "  --threads N        threads, 1..%d (default: all %u cores)\n"
        "  --synthetic SHAPE  random weights of a standard shape instead of a file: %s\n"
        "  --parallel B       B continuations of the prompt decoded together (seeds s, s+1, ...), printed one\n"
        "                     after another under a header each; the timing line counts every one's tokens\n"
        "  --kv-type T        the KV cache's type: f32 (default), f16, bf16 or q8_0 (blocks of 32 along a row;\n"
        "                     lossy); the variant's attention must read it (flash, naive)\n"
        "  --profile          print time per operation per token (stderr) after the run\n"
        "%s"
        "  --list-variants    print the variants and the level each runs at here, one a line, and exit\n"
        "  --help             this text\n"
        "Text goes to stdout; one timing line (prefill tok/s, decode tok/s, time to first token) to stderr.\n"
        "Exit status: 0 ok, 1 bad input file or run failure, 2 bad arguments.\n",
        WORKBENCH_MODELS_DIR, default_variant().c_str(), max_threads(), std::thread::hardware_concurrency(),
        shape_names().c_str(), cli::isa_help().c_str());
}

void list_variants() {
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        std::printf("%-10s %-16s %-18s %-12s %s\n", v.name, v.matmul, v.attention,
                    k.available() ? isa_name(k.isa()) : "unavailable", v.description);
    }
}

void print_profile(const Profiler& p, int positions) {
    double total = 0;
    for (int op = 0; op < static_cast<int>(Op::count); op++) total += p.seconds(static_cast<Op>(op));
    std::fprintf(stderr, "%-12s %10s %12s %7s\n", "op", "total ms", "ms/position", "share");
    for (int op = 0; op < static_cast<int>(Op::count); op++) {
        const double s = p.seconds(static_cast<Op>(op));
        std::fprintf(stderr, "%-12s %10.2f %12.4f %6.1f%%\n", op_name(static_cast<Op>(op)), s * 1e3, s * 1e3 / positions,
                     total > 0 ? 100 * s / total : 0.0);
    }
}

// Refuses a model and KV cache that would not fit in the memory available now (unless that cannot be read).
void require_fitting(const std::string& name, const Config& c, const WeightFootprint& w, const Kernels& kernels,
                     CacheShape cache = {}) {
    if (const std::optional<std::uint64_t> available = available_memory()) {
        require_memory(name, c, w, kernels, *available, cache);
    }
}

constexpr int kMaxParallel = 4096;

// The whole file, one trailing line break dropped (editors end files with one).
std::string read_prompt_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw std::runtime_error("-f " + path + ": not a readable file");
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) throw std::runtime_error("-f " + path + ": cannot read it");
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

int generate_main(int argc, char** argv) {
    std::optional<std::string> model_path, synthetic;
    std::string prompt, system_prompt, mode = "generate";
    std::optional<std::string> tokenizer_path;
    std::string variant;
    double temperature = 1.0, topp = 0.9;
    long long seed = 0, steps = 256;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool profile = false, help = false, list = false, verbose = false, list_weights = false;
    int parallel = 0;  // 0: one continuation, streamed
    DType kv_type = DType::f32;
    bool prompt_given = false;
    std::optional<std::string> prompt_file;

    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            help = true;
        } else if (a == "--list-variants") {
            list = true;
        } else if (a == "-v") {
            verbose = true;
        } else if (a == "--list-weights") {
            list_weights = true;
        } else if (a == "-t") {
            temperature = cli::parse_double(a, args.value());
        } else if (a == "-p") {
            topp = cli::parse_double(a, args.value());
        } else if (a == "-s") {
            seed = cli::parse_int(a, args.value(), INT64_MIN, INT64_MAX);
        } else if (a == "-n") {
            steps = cli::parse_int(a, args.value(), INT64_MIN, INT64_MAX);
        } else if (a == "-i") {
            if (prompt_file) throw cli::UsageError("give -i or -f, not both");
            prompt = args.value();
            prompt_given = true;
        } else if (a == "-f") {
            if (prompt_given) throw cli::UsageError("give -i or -f, not both");
            prompt_file = std::string(args.value());
        } else if (a == "-z") {
            tokenizer_path = args.value();
        } else if (a == "-m") {
            mode = args.value();
            if (mode != "generate" && mode != "chat") throw cli::UsageError("-m expects generate or chat, got '" + mode + "'");
        } else if (a == "-y") {
            system_prompt = args.value();
        } else if (a == "--variant") {
            variant = args.value();
        } else if (a == "--isa") {
            cli::isa_argument(args.value());
        } else if (a == "--threads") {
            threads = static_cast<int>(cli::parse_int(a, args.value(), 1, max_threads()));
        } else if (a == "--parallel") {
            parallel = static_cast<int>(cli::parse_int(a, args.value(), 1, kMaxParallel));
        } else if (a == "--kv-type") {
            kv_type = cli::kv_type_argument(args.value());
        } else if (a == "--profile") {
            profile = true;
        } else if (a == "--synthetic") {
            synthetic = std::string(args.value());
        } else if (!a.empty() && a[0] == '-') {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        } else if (!model_path) {
            model_path = std::string(a);
        } else {
            throw cli::UsageError("unexpected argument '" + std::string(a) + "'");
        }
    }
    if (help) {
        print_help();
        return 0;
    }
    if (list) {
        list_variants();
        return 0;
    }
    if (model_path.has_value() == synthetic.has_value()) throw cli::UsageError("give one MODEL path or --synthetic SHAPE");
    if (prompt_file) prompt = read_prompt_file(*prompt_file);
    if (parallel > 0 && mode == "chat") throw cli::UsageError("--parallel works in generate mode, not chat");
    if (temperature < 0) {
        std::fprintf(stderr, "generate: temperature %g is below 0; using 0 (greedy)\n", temperature);
        temperature = 0;
    }
    if (topp < 0 || topp > 1) {
        std::fprintf(stderr, "generate: top-p %g is outside [0, 1]; using 0.9\n", topp);
        topp = 0.9;
    }
    if (!variant.empty()) cli::variant_argument(variant);  // unknown names fail before the model loads

    // Steps past the context (or 0) mean the whole context; --parallel B keeps B sequences of that many positions.
    auto steps_in = [&](const Config& c) { return steps <= 0 || steps > c.seq_len ? c.seq_len : static_cast<int>(steps); };
    auto cache_for = [&](const Config& c) {
        return parallel > 0 ? CacheShape{parallel, steps_in(c), kv_type} : CacheShape{1, 0, kv_type};
    };
    std::optional<Checkpoint> checkpoint;
    std::optional<Kernels> kernels;
    std::string said;  // the default's reason, printed with the timing line
    if (synthetic) {
        const std::optional<Config> shape = find_shape(*synthetic);
        if (!shape) throw cli::UsageError("unknown shape '" + *synthetic + "' (known: " + shape_names() + ")");
        const WeightFootprint w = fp32_footprint(*shape);
        kernels.emplace(cli::model_variant(variant, w, said));
        require_fitting(*synthetic, *shape, w, *kernels, cache_for(*shape));
        checkpoint.emplace(synthetic_checkpoint(*shape, 1, *synthetic));
    } else {
        checkpoint.emplace(Checkpoint::open(*model_path));  // maps the file; no page is read yet
        const WeightFootprint w = footprint(*checkpoint);
        kernels.emplace(cli::model_variant(variant, w, said));
        require_fitting(*model_path, checkpoint->config(), w, *kernels, cache_for(checkpoint->config()));
    }
    try {
        require_cache_type(*kernels, checkpoint->config(), kv_type);
    } catch (const std::invalid_argument& e) {
        throw cli::UsageError(std::string("--kv-type: ") + e.what());
    }
    if (list_weights && !said.empty()) std::fprintf(stderr, "generate: %s\n", said.c_str());
    if (list_weights || verbose) cli::list_weights(list_weights ? stdout : stderr, *checkpoint, *kernels);
    if (list_weights) return 0;
    const Config& cfg = checkpoint->config();
    const CacheShape cache = cache_for(cfg);
    steps = steps_in(cfg);
    const std::unique_ptr<Tokenizer> tokenizer_owner = model_tokenizer(
        checkpoint->vocab(), model_path.value_or(*synthetic), cfg.vocab_size, tokenizer_path, cli::models_dir() + "/tokenizer.bin");
    const Tokenizer& tokenizer = *tokenizer_owner;
    const auto rng_seed = static_cast<std::uint64_t>(seed > 0 ? seed : static_cast<long long>(std::time(nullptr)));
    Sampler sampler(cfg.vocab_size, static_cast<float>(temperature), static_cast<float>(topp), rng_seed);
    ExecContext ctx(threads);
    Profiler profiler;
    if (profile) ctx.observer = &profiler;
    Transformer model(*checkpoint, *kernels, ctx, cache);

    const TextSink out = [](std::string_view s) {
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
    };
    if (mode == "chat") {
        chat(model, tokenizer, sampler, prompt, system_prompt, static_cast<int>(steps), std::cin, out);
        if (!said.empty()) std::fprintf(stderr, "generate: %s\n", said.c_str());
        return 0;
    }
    if (parallel > 0) {
        std::vector<Sampler> samplers;
        for (int k = 0; k < parallel; k++) {
            samplers.emplace_back(cfg.vocab_size, static_cast<float>(temperature), static_cast<float>(topp), rng_seed + k);
        }
        std::vector<std::string> texts(static_cast<std::size_t>(parallel));
        std::vector<TextSink> sinks;
        for (std::string& text : texts) sinks.emplace_back([&text](std::string_view s) { text += s; });
        const ParallelResult r = generate_parallel(model, tokenizer, samplers, prompt, static_cast<int>(steps), sinks);
        for (int k = 0; k < parallel; k++) {
            std::printf("--- continuation %d of %d (seed %llu) ---\n", k + 1, parallel,
                        static_cast<unsigned long long>(rng_seed + k));
            std::fwrite(texts[k].data(), 1, texts[k].size(), stdout);
        }
        std::fflush(stdout);
        if (profile) print_profile(profiler, r.timing.prefill_tokens + r.timing.decode_tokens);
        if (!said.empty()) std::fprintf(stderr, "generate: %s\n", said.c_str());
        std::fprintf(stderr, "%s\n", format_timing_line(r.timing).c_str());
        return 0;
    }
    const GenerationResult r = generate(model, tokenizer, sampler, prompt, static_cast<int>(steps), out);
    if (profile) print_profile(profiler, r.timing.prefill_tokens + r.timing.decode_tokens);
    if (!said.empty()) std::fprintf(stderr, "generate: %s\n", said.c_str());
    std::fprintf(stderr, "%s\n", format_timing_line(r.timing).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("generate", generate_main, argc, argv); }
