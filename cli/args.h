// Strict command-line parsing shared by the programs: every bad argument is a one-line UsageError.
#pragma once

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/checkpoint.h"
#include "model/memory_guard.h"
#include "variants/variants.h"

namespace wb::cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Walks argv; value() takes the argument after the current flag or throws "FLAG needs a value".
class Args {
public:
    Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
    bool next() { return ++at_ < argc_; }
    std::string_view current() const { return argv_[at_]; }
    std::string_view value();

private:
    int argc_;
    char** argv_;
    int at_ = 0;
};

long long parse_int(std::string_view flag, std::string_view text, long long lo, long long hi);
double parse_double(std::string_view flag, std::string_view text);
// "a,b" -> {a, b}; an empty list or an empty item is a UsageError.
std::vector<std::string> parse_list(std::string_view flag, std::string_view text);
// A comma-separated list of whole numbers, each in [lo, hi].
std::vector<int> parse_int_list(std::string_view flag, std::string_view text, int lo, int hi);

// --isa LEVEL: the instruction-set cap for the rest of the process (the same as WORKBENCH_ISA=LEVEL, which it sets,
// so every lookup after it and every child process takes it); a level the CPU lacks is a UsageError naming the
// levels it has.
void isa_argument(std::string_view level);
// The --isa line of a program's --help.
std::string isa_help();

// --kv-type T: the KV cache type named (f32, f16, bf16, q8_0); any other is a UsageError listing them.
DType kv_type_argument(std::string_view name);

// The variant named on a command line; an unknown name is a UsageError listing the known ones.
Kernels variant_argument(std::string_view name);

// The variant a run on a model of these matrices uses: `named` when given, else default_variant_for(stored types),
// whose line for stderr ("variant tbb-quant: the fastest variant that runs ...") goes to `said` (left empty for a
// named one); programs print it once the run has worked, so a bad input still gets a one-line error.
Kernels model_variant(const std::string& named, const WeightFootprint& w, std::string& said);
// One line per matrix of ck: its name, stored type, the kernel that runs it and the type it runs in, "converted"
// where that is not the stored type (generate -v and --list-weights).
void list_weights(std::FILE* out, const Checkpoint& ck, const Kernels& k);

// A model named on a benchmark's command line: a checkpoint file or a synthetic shape in memory.
struct ModelSpec {
    std::string name;                  // the file's stem, or the shape
    std::optional<std::string> path;   // a checkpoint file (--model PATH)
    std::optional<std::string> shape;  // or a synthetic shape (--synthetic SHAPE)
};
// --model PATH: a UsageError when no such file exists.
ModelSpec model_file_argument(std::string_view path);
// --synthetic SHAPE: a UsageError naming the known shapes for any other.
ModelSpec synthetic_argument(std::string_view shape);

// The options both benchmarks take: --help (prints `help`, exits 0), --isa, --variants a,b, --threads 1,2,
// --model PATH and --synthetic SHAPE (repeatable). Takes the option `a` (and its value from args) and returns true
// when it is one of these; false leaves it to the caller.
struct RunSelection {
    std::vector<std::string>& variants;
    std::vector<int>& threads;
    std::vector<ModelSpec>& models;
};
bool bench_option(std::string_view a, Args& args, const RunSelection& into, void (*help)());
// argv joined by spaces, for the records' `command`.
std::string command_line(int argc, char** argv);

// --output DIR: created when missing; a UsageError when it cannot be written to.
void output_directory(const std::string& dir);

// The models directory: $WORKBENCH_MODELS, else the one configured at build time.
std::string models_dir();

// Runs body, turning exceptions into "PROGRAM: message" on stderr and an exit code
// (2 for usage errors, 1 for everything else).
int run_main(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace wb::cli
