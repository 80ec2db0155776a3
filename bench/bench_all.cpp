// bench_all: end-to-end tokens/s of every variant (minimal first version: one synthetic model, one run each).
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "model/generate.h"
#include "model/synthetic.h"

namespace {

using namespace wb;

int bench_main(int argc, char** argv) {
    cli::Args args(argc, argv);
    while (args.next()) {
        if (args.current() == "--help") {
            std::printf("usage: bench_all\nRuns every available variant on a synthetic stories15M model and prints tokens/s.\n");
            return 0;
        }
        throw cli::UsageError("unknown argument '" + std::string(args.current()) + "'");
    }
    const Config shape = *find_shape("stories15M");
    const Checkpoint ck = synthetic_checkpoint(shape, 1, "stories15M");
    const Tokenizer tok(cli::models_dir() + "/tokenizer.bin", shape.vocab_size);
    std::printf("| variant | prefill tok/s | decode tok/s |\n| --- | --- | --- |\n");
    for (const Variant& v : variants()) {
        const Kernels k = resolve_variant(v.name);
        if (!k.available()) continue;
        std::fprintf(stderr, "bench_all: %s ...\n", v.name);
        ExecContext ctx(1);
        Transformer model(ck, k, ctx);
        Sampler greedy(shape.vocab_size, 0.0f, 0.9f, 1);
        const GenerationResult r = generate(model, tok, greedy, "Once upon a time there was a little robot", 64,
                                            [](std::string_view) {});
        std::printf("| %s | %.1f | %.1f |\n", v.name, r.timing.prefill_tok_s(), r.timing.decode_tok_s());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("bench_all", bench_main, argc, argv); }
