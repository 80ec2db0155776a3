// synth: writes a synthetic checkpoint of a standard shape as a llama2.c v0 file.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/args.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"

namespace {

using namespace wb;

int synth_main(int argc, char** argv) {
    std::optional<std::string> shape_name, out;
    long long seed = 1;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: synth --shape SHAPE [--seed S] -o FILE\n"
                "Writes a llama2.c v0 checkpoint with deterministic random weights (N(0, 0.02) matrices, unit norms).\n"
                "  --shape SHAPE  one of: %s\n"
                "  --seed S       seed, a whole number >= 0 (default 1); the same seed gives the same file\n"
                "  -o FILE        output path\n",
                shape_names().c_str());
            return 0;
        } else if (a == "--shape") {
            shape_name = std::string(args.value());
        } else if (a == "--seed") {
            seed = cli::parse_int(a, args.value(), 0, INT64_MAX);
        } else if (a == "-o") {
            out = std::string(args.value());
        } else {
            throw cli::UsageError("unknown argument '" + std::string(a) + "'");
        }
    }
    if (!shape_name || !out) throw cli::UsageError("--shape and -o are required");
    const std::optional<Config> shape = find_shape(*shape_name);
    if (!shape) throw cli::UsageError("unknown shape '" + *shape_name + "' (known: " + shape_names() + ")");
    if (const std::optional<std::uint64_t> free = disk_space_for(*out)) require_disk(*out, v0_file_bytes(*shape), *free);
    write_synthetic(*shape, static_cast<std::uint64_t>(seed), *out);
    std::fprintf(stderr, "synth: wrote %s (%s, %.1f MB)\n", out->c_str(), shape->summary().c_str(),
                 static_cast<double>(v0_file_bytes(*shape)) / 1e6);
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("synth", synth_main, argc, argv); }
