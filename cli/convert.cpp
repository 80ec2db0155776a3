// convert: any checkpoint the workbench reads (llama2.c v0/v1/v2, GGUF) as GGUF of a chosen type or as a
// llama2.c v0 file, so the same model can be handed to llama.cpp and to llama2.c.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/args.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/memory_guard.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

void print_help() {
    std::printf(
        "usage: convert IN OUT --to gguf [--type TYPE] [-z TOKENIZER | --vocab GGUF] [--name NAME]\n"
        "       convert IN OUT --to llama2c\n"
        "Reads IN (llama2.c v0, v1 or v2, or GGUF; found by its magic) and writes OUT.\n"
        "  --to gguf       GGUF v3 that llama.cpp loads; matrices and the embedding as TYPE, one of %s\n"
        "                  (default f32); norms stay F32, a matrix whose rows are not whole blocks of TYPE is F16\n"
        "                  (Q8_0 for K types); q4_k_m and q5_k_m put the classifier and some V and down\n"
        "                  projections in Q6_K, as llama-quantize does\n"
        "  --to llama2c    a llama2.c v0 file (fp32) that llama2.c's run.c reads; refused for models whose RoPE\n"
        "                  or RMSNorm settings v0 cannot carry (Llama 3)\n"
        "  -z TOKENIZER    the GGUF's vocabulary from a llama2.c tokenizer.bin; default: the vocabulary IN carries,\n"
        "                  else MODELS/tokenizer.bin (MODELS: $WORKBENCH_MODELS or %s)\n"
        "  --vocab GGUF    copy another GGUF's tokenizer.* keys instead\n"
        "  --name NAME     general.name (default: IN's file name without its extension)\n"
        "Exit status: 0 ok, 1 bad input file or write failure, 2 bad arguments.\n",
        gguf_model_type_names().c_str(), WORKBENCH_MODELS_DIR);
}

int convert_main(int argc, char** argv) {
    std::optional<std::string> in, out, to, type_name, tokenizer, vocab_file, name;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            print_help();
            return 0;
        } else if (a == "--to") {
            to = std::string(args.value());
            if (*to != "gguf" && *to != "llama2c") throw cli::UsageError("--to expects gguf or llama2c, got '" + *to + "'");
        } else if (a == "--type") {
            type_name = std::string(args.value());
        } else if (a == "-z") {
            tokenizer = std::string(args.value());
        } else if (a == "--vocab") {
            vocab_file = std::string(args.value());
        } else if (a == "--name") {
            name = std::string(args.value());
        } else if (!a.empty() && a[0] == '-') {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        } else if (!in) {
            in = std::string(a);
        } else if (!out) {
            out = std::string(a);
        } else {
            throw cli::UsageError("unexpected argument '" + std::string(a) + "'");
        }
    }
    if (!in || !out) throw cli::UsageError("give IN and OUT");
    if (!to) throw cli::UsageError("--to gguf or --to llama2c is required");
    if (*to == "llama2c" && (type_name || tokenizer || vocab_file || name)) {
        throw cli::UsageError("--type, -z, --vocab and --name go with --to gguf (llama2.c v0 is fp32 and carries no vocabulary)");
    }
    if (tokenizer && vocab_file) throw cli::UsageError("give -z or --vocab, not both");
    const GgufModelType* type = find_gguf_model_type(type_name.value_or("f32"));
    if (type == nullptr) throw cli::UsageError("--type expects one of " + gguf_model_type_names() + ", got '" + *type_name + "'");
    std::error_code same_error;
    if (std::filesystem::equivalent(*in, *out, same_error)) throw cli::UsageError("OUT is IN; write to another file");

    const Checkpoint ck = Checkpoint::open(*in);
    const Config& c = ck.config();
    const RowSource rows = checkpoint_rows(ck);
    if (*to == "llama2c") {
        if (!c.llama2c_compatible()) {
            throw LoadError(*in + ": a llama2.c v0 file cannot carry this model's RoPE or RMSNorm settings (" + c.summary() + ")");
        }
        const std::uint64_t bytes = llama2c::v0_file_bytes(c);
        if (const std::optional<std::uint64_t> free = disk_space_for(*out)) require_disk(*out, bytes, *free);
        FileSink file(*out);
        llama2c::write_v0(c, rows, file.sink(), *out);
        file.close();
        std::fprintf(stderr, "convert: wrote %s (llama2.c v0, %s, %.1f MB)\n", out->c_str(), c.summary().c_str(),
                     static_cast<double>(bytes) / 1e6);
        return 0;
    }
    GgufModelOptions options;
    options.type = type->type;
    options.mixed = type->mixed;
    options.name = name.value_or(std::filesystem::path(*in).stem().string());
    if (vocab_file) {
        options.vocab = tokenizer_metadata(gguf::GgufFile::open(*vocab_file));
    } else if (!tokenizer && ck.format() == Format::gguf && ck.vocab() != nullptr) {
        options.vocab = tokenizer_metadata(gguf::GgufFile::open(*in));
    } else {
        options.vocab = vocab_metadata(llama2c::read_tokenizer_vocab(tokenizer.value_or(cli::models_dir() + "/tokenizer.bin")));
    }
    const std::uint64_t bytes = gguf_model_writer(c, options, *out).file_bytes();
    if (const std::optional<std::uint64_t> free = disk_space_for(*out)) require_disk(*out, bytes, *free);
    FileSink file(*out);
    write_gguf_model(c, rows, options, file.sink(), *out);
    file.close();
    std::fprintf(stderr, "convert: wrote %s (GGUF %s, %s, %.1f MB)\n", out->c_str(), type->name, c.summary().c_str(),
                 static_cast<double>(bytes) / 1e6);
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("convert", convert_main, argc, argv); }
