// trace: where does a variant part from a reference? Every operation of every layer, compared.
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "cli/args.h"
#include "harness/trace.h"
#include "kernels/exec_context.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

void print_help() {
    std::printf(
        "usage: trace MODEL [--variant NAME] [options]\n"
        "       trace --synthetic SHAPE [--variant NAME] [options]\n"
        "Runs the variant and a reference on the same tokens (the prompt, then the reference's greedy picks),\n"
        "compares every operation of every layer, and names the first one whose error passes the tolerance\n"
        "of the kernel that produced it. Each operation of the variant is fed the reference's inputs, so an\n"
        "error shows where it is made (--free lets errors compound as in a real run).\n\n"
        "  --variant NAME   the variant under test, default the one generate picks for the model (said on stderr)\n"
        "  --against NAME   the reference, default naive\n"
        "  -i <string>      prompt (default: empty, BOS alone)\n"
        "  -n <int>         positions to run, prompt included, default 16\n"
        "  -z <string>      tokenizer, default: the vocabulary the model file carries, else\n"
        "                   MODELS/tokenizer.bin (MODELS: $WORKBENCH_MODELS or %s)\n"
        "  --threads N      threads for both runs, 1..%d (default 1)\n"
        "%s"
        "  --synthetic SHAPE random weights of a standard shape: %s\n"
        "  --free           do not feed the variant the reference's values; errors compound\n"
        "  --dump DIR       write every tensor of both runs as .npy, DIR/<variant>/L03.attn_out.pos0-53.npy,\n"
        "                   with an index.json per run (scripts/compare_dumps.py compares two folders)\n"
        "  --help           this text\n"
        "Exit status: 0 every operation within tolerance, 1 one beyond it (or a bad file), 2 bad arguments.\n"
        "Stages: a matmul is judged as its kernel's tolerance is stated and tested, each output's error over\n"
        "sum_j |w_ij x_j| (vs bound: the checkpoint's weights, the reference's input of the same call), so\n"
        "int8 rounding spread over many products passes and a wrong product does not; every other stage by\n"
        "max|variant - reference| over max|reference| of the same tensor (max rel), and the forward pass's\n"
        "own code (norms, RoPE, residuals, SwiGLU) must match exactly. Kernels that round their weights (q4)\n"
        "declare a tolerance against the weights they hold, so their matmuls show here.\n",
        WORKBENCH_MODELS_DIR, max_threads(), cli::isa_help().c_str(), shape_names().c_str());
}

int trace_main(int argc, char** argv) {
    std::optional<std::string> model_path, synthetic, variant;
    std::optional<std::string> tokenizer_path;
    std::string against = "naive", prompt;
    TraceOptions o;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            print_help();
            return 0;
        } else if (a == "--variant") {
            variant = std::string(args.value());
        } else if (a == "--against") {
            against = args.value();
        } else if (a == "-i") {
            prompt = args.value();
        } else if (a == "-n") {
            o.steps = static_cast<int>(cli::parse_int(a, args.value(), 1, 1 << 20));
        } else if (a == "-z") {
            tokenizer_path = args.value();
        } else if (a == "--isa") {
            cli::isa_argument(args.value());
        } else if (a == "--threads") {
            o.threads = static_cast<int>(cli::parse_int(a, args.value(), 1, max_threads()));
        } else if (a == "--synthetic") {
            synthetic = std::string(args.value());
        } else if (a == "--free") {
            o.force = false;
        } else if (a == "--dump") {
            o.dump_dir = args.value();
            if (o.dump_dir.empty()) throw cli::UsageError("--dump needs a directory");
        } else if (!a.empty() && a[0] == '-') {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        } else if (!model_path) {
            model_path = std::string(a);
        } else {
            throw cli::UsageError("unexpected argument '" + std::string(a) + "'");
        }
    }
    if (model_path.has_value() == synthetic.has_value()) throw cli::UsageError("give one MODEL path or --synthetic SHAPE");
    if (variant) cli::variant_argument(*variant);  // unknown names fail before the model loads
    const Kernels ref = cli::variant_argument(against);

    std::optional<Checkpoint> ck;
    if (synthetic) {
        const std::optional<Config> shape = find_shape(*synthetic);
        if (!shape) throw cli::UsageError("unknown shape '" + *synthetic + "' (known: " + shape_names() + ")");
        ck.emplace(synthetic_checkpoint(*shape, 1, *synthetic));
    } else {
        ck.emplace(Checkpoint::open(*model_path));
    }
    const WeightFootprint w = footprint(*ck);
    std::string said;
    const Kernels cand = cli::model_variant(variant.value_or(""), w, said);
    for (const Kernels& k : {cand, ref}) {
        if (!k.available()) throw std::runtime_error(std::string("variant ") + k.variant->name + " is not available on this machine");
    }
    if (const std::optional<std::uint64_t> available = available_memory()) {  // both runs hold their weights at once
        require_memory(ck->name(), ck->config(), w, cand, *available / 2);
    }
    const std::unique_ptr<Tokenizer> tok =
        model_tokenizer(ck->vocab(), ck->name(), ck->config().vocab_size, tokenizer_path, cli::models_dir() + "/tokenizer.bin");
    const std::vector<int> tokens = tok->encode(prompt, tok->add_bos());

    const TraceResult r = trace(*ck, tokens, cand, ref, o);
    if (!said.empty()) std::fprintf(stderr, "trace: %s\n", said.c_str());
    std::printf("%s against %s on %s, %zu positions (%zu prompt)%s\n", cand.variant->name, ref.variant->name,
                ck->name().c_str(), r.tokens.size(), tokens.size(),
                o.force ? ", each op fed the reference's inputs" : ", errors compounding");
    std::printf("%-6s %-14s %12s %12s %12s %12s %10s  %s\n", "layer", "stage", "max abs", "max rel", "vs bound",
                "min cosine", "tolerance", "kernel");
    for (const StageError& e : r.stages) {
        const std::string layer = e.layer < 0 ? "out" : std::to_string(e.layer);
        char bound[16] = "-";
        if (e.max_vs_bound >= 0) std::snprintf(bound, sizeof bound, "%.3e", e.max_vs_bound);
        std::printf("%-6s %-14s %12.3e %12.3e %12s %12.9f %10.1e  %s%s\n", layer.c_str(), stage_info(e.stage).name,
                    e.max_abs, e.max_rel, bound, e.min_cosine, e.tolerance, e.kernel, e.over() ? "  << beyond tolerance" : "");
    }
    if (!o.dump_dir.empty()) std::printf("tensors written to %s/%s and %s/%s\n", o.dump_dir.c_str(), ref.variant->name,
                                         o.dump_dir.c_str(), cand.variant->name);
    if (!r.first) {
        std::printf("every operation is within tolerance\n");
        return 0;
    }
    const FirstExcess& f = *r.first;
    std::printf("first beyond tolerance: %s at positions %d..%d: error %.3e > %.1e (%s)\n",
                tensor_name(f.stage, f.layer, f.pos0, f.pos1).c_str(), f.pos0, f.pos1, f.rel, f.tolerance, f.kernel);
    return 1;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("trace", trace_main, argc, argv); }
