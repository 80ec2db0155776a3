#include "bench/bench_all_options.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "model/synthetic.h"
#include "variants/variants.h"

namespace wb::bench_all {

namespace {

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
        "  --rounds K            A/B rounds (default 1): per model and thread count, every variant, baseline\n"
        "                        and peer runs once, then all again, K times; records carry their round, and\n"
        "                        a table is printed per round, so each ratio compares neighbouring minutes\n"
        "  --kv-type T           the variants' KV cache type: f32 (default), f16, bf16 or q8_0; by default only\n"
        "                        the variants whose attention reads it run. Not f32, a run counts as lossy: its\n"
        "                        greedy tokens' agreement with naive on an f32 cache is recorded\n"
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

}  // namespace

Options parse(int argc, char** argv) {
    Options o;
    o.command = cli::command_line(argc, argv);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool prompt_set = false, gen_set = false, reps_set = false;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (cli::bench_option(a, args, {o.variants, o.threads, o.models}, print_help)) {
            continue;
        } else if (a == "--prompt-tokens") {
            o.prompt_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 20));
            prompt_set = true;
        } else if (a == "--gen-tokens") {
            o.gen_tokens = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 20));
            gen_set = true;
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(cli::parse_int(a, args.value(), 1, 1000));
            reps_set = true;
        } else if (a == "--rounds") {
            o.rounds = static_cast<int>(cli::parse_int(a, args.value(), 1, 100));
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
        } else if (a == "--kv-type") {
            o.kv_type = cli::kv_type_argument(args.value());
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
        const std::string small = (std::filesystem::path(cli::models_dir()) / "stories260K.bin").string();
        if (std::filesystem::exists(small)) o.models.push_back({"stories260K", small, std::nullopt});
    }
    if (o.variants.empty()) {
        for (const Variant& v : variants()) {
            const Kernels k = resolve_variant(v.name);
            if (k.available() && k.attention->reads(o.kv_type)) o.variants.push_back(v.name);
        }
    } else {
        for (const std::string& name : o.variants) {
            const Kernels k = resolve_variant(name);
            if (!k.attention->reads(o.kv_type)) {
                throw cli::UsageError("--kv-type " + kv_type_name(o.kv_type) + ": variant " + name + "'s " +
                                      k.attention->name + " reads only an f32 KV cache");
            }
        }
    }
    return o;
}

}  // namespace wb::bench_all
