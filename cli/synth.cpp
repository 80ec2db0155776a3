// synth: writes a synthetic checkpoint of a standard shape as a llama2.c v0 file or as GGUF.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/args.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

constexpr int kMaxContext = 1 << 20;

int synth_main(int argc, char** argv) {
    std::optional<std::string> shape_name, out, tokenizer, vocab_file, type_name;
    std::string format = "bin";
    long long seed = 1;
    std::optional<int> context;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: synth --shape SHAPE [--seed S] [--context N] [--format bin|gguf] [--type TYPE] [-z TOKENIZER | --vocab GGUF] -o FILE\n"
                "Writes a model with deterministic random weights (N(0, 0.02) matrices, unit norms).\n"
                "  --shape SHAPE    one of: %s\n"
                "  --seed S         seed, a whole number >= 0 (default 1); the same seed gives the same weights\n"
                "  --context N      the model's context in positions, 1..%d (default: the shape's; the weights do\n"
                "                   not depend on it)\n"
                "  --format F       bin: a llama2.c v0 file (default; not for llama3 shapes, whose RoPE v0 cannot carry)\n"
                "                   gguf: GGUF v3 that llama.cpp loads, with a vocabulary\n"
                "  --type TYPE      gguf only: matrices and embedding as one of %s (default f32); norms stay F32,\n"
                "                   a matrix whose rows are not whole blocks of TYPE is F16 (Q8_0 for K types);\n"
                "                   q4_k_m and q5_k_m put the classifier and some V and down projections in Q6_K\n"
                "  -z TOKENIZER     gguf only: the vocabulary from a llama2.c tokenizer.bin (default MODELS/tokenizer.bin)\n"
                "  --vocab GGUF     gguf only: copy another GGUF's tokenizer.* keys (e.g. llama3-vocab.gguf)\n"
                "  -o FILE          output path\n"
                "Exit status: 0 ok, 1 failure (disk, vocabulary), 2 bad arguments.\n",
                shape_names().c_str(), kMaxContext, gguf_model_type_names().c_str());
            return 0;
        } else if (a == "--shape") {
            shape_name = std::string(args.value());
        } else if (a == "--context") {
            context = static_cast<int>(cli::parse_int(a, args.value(), 1, kMaxContext));
        } else if (a == "--seed") {
            seed = cli::parse_int(a, args.value(), 0, INT64_MAX);
        } else if (a == "--format") {
            format = args.value();
            if (format != "bin" && format != "gguf") throw cli::UsageError("--format expects bin or gguf, got '" + format + "'");
        } else if (a == "--type") {
            type_name = std::string(args.value());
        } else if (a == "-z") {
            tokenizer = std::string(args.value());
        } else if (a == "--vocab") {
            vocab_file = std::string(args.value());
        } else if (a == "-o") {
            out = std::string(args.value());
        } else {
            throw cli::UsageError("unknown argument '" + std::string(a) + "'");
        }
    }
    if (!shape_name || !out) throw cli::UsageError("--shape and -o are required");
    std::optional<Config> shape = find_shape(*shape_name);
    if (!shape) throw cli::UsageError("unknown shape '" + *shape_name + "' (known: " + shape_names() + ")");
    if (context) shape->seq_len = *context;
    if (format == "bin") {
        if (type_name || tokenizer || vocab_file) throw cli::UsageError("--type, -z and --vocab go with --format gguf");
        if (!shape->llama2c_compatible()) {
            throw cli::UsageError("shape " + *shape_name + " has rope theta or factors a llama2.c v0 file cannot carry; use --format gguf");
        }
        if (const std::optional<std::uint64_t> free = disk_space_for(*out)) require_disk(*out, llama2c::v0_file_bytes(*shape), *free);
        write_synthetic(*shape, static_cast<std::uint64_t>(seed), *out);
        std::fprintf(stderr, "synth: wrote %s (llama2.c v0, %s, %.1f MB)\n", out->c_str(), shape->summary().c_str(),
                     static_cast<double>(llama2c::v0_file_bytes(*shape)) / 1e6);
        return 0;
    }
    if (tokenizer && vocab_file) throw cli::UsageError("give -z or --vocab, not both");
    const GgufModelType* type = find_gguf_model_type(type_name.value_or("f32"));
    if (type == nullptr) throw cli::UsageError("--type expects one of " + gguf_model_type_names() + ", got '" + *type_name + "'");
    GgufModelOptions options;
    options.type = type->type;
    options.mixed = type->mixed;
    options.name = "synthetic " + *shape_name;
    options.vocab = vocab_file ? tokenizer_metadata(gguf::GgufFile::open(*vocab_file))
                               : vocab_metadata(llama2c::read_tokenizer_vocab(tokenizer.value_or(cli::models_dir() + "/tokenizer.bin")));
    const std::uint64_t bytes = gguf_model_writer(*shape, options, *out).file_bytes();
    if (const std::optional<std::uint64_t> free = disk_space_for(*out)) require_disk(*out, bytes, *free);
    FileSink file(*out);
    write_gguf_model(*shape, synthetic_rows(*shape, static_cast<std::uint64_t>(seed)), options, file.sink(), *out);
    file.close();
    std::fprintf(stderr, "synth: wrote %s (GGUF %s, %s, %.1f MB)\n", out->c_str(), type->name, shape->summary().c_str(),
                 static_cast<double>(bytes) / 1e6);
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("synth", synth_main, argc, argv); }
