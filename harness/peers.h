// Peers: other engines (llama.cpp's llama-bench, llama2.c's run) measured in the same run on the same
// models. A kind of peer is a row of data: the model format and weight types it takes, its command
// template, how its thread count is set and the parser of its output. Everything here is free of
// bench_all's state so tests can build commands and parse captured outputs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/process.h"
#include "harness/record.h"
#include "kernels/kernel.h"
#include "model/checkpoint.h"

namespace wb {

enum class PeerFormat { gguf, llama2c_v0 };
const char* format_name(PeerFormat f);  // "GGUF", "llama2.c v0"

// What a parser read from one call of a peer program. A rate with no samples was not measured.
struct PeerOutput {
    Summary prefill_tok_s, decode_tok_s;
    std::string version;  // the build commit the program names; empty when it names none
    std::string backend;  // "CPU", ...; empty when it names none
    std::string error;    // non-empty: nothing usable was read, and this says why
};

// (stdout, stderr, exit code, the depth the job asked for) -> what they say about that depth's tests.
using PeerParser = PeerOutput (*)(const std::string& out, const std::string& err, int exit_code, int depth);

// A way a peer's binary measures prefill and decode after a context of {depth} tokens with a cache of {kv_type}:
// taken when its --help has `marker`.
struct DepthForm {
    const char* marker;  // "--n-depth", "-gp"
    std::span<const char* const> arguments;  // argv after the binary, placeholders as PeerKind::arguments
    bool measures_prefill;  // false: decode at depth only
};

struct PeerKind {
    const char* name;  // "llama.cpp": also what --peer names
    PeerFormat format;
    std::span<const DType> types;  // weight types it is given, one model file each
    // argv after the binary; {model} {tokenizer} {prompt} {prompt_tokens} {gen_tokens} {steps} {repetitions}
    // {threads} {output} are filled in.
    std::span<const char* const> arguments;
    const char* threads_env;  // "NAME" set to the thread count, or null when {threads} is an argument
    // Present in a binary that can use more than one thread; null when every binary can. Others run at 1 thread.
    const char* parallel_marker;
    bool repeats_itself;      // one call runs {repetitions} timed runs (after its own warm-up), else one call per run
    bool several_binaries;    // PATH may list several builds, comma-separated; each names its records
    // Output formats the {output} placeholder may take, preferred first; the first one the binary's --help
    // mentions is used. Empty: no {output}.
    std::span<const char* const> outputs;
    PeerParser parse;
    const char* help;  // what PATH is
    std::span<const DepthForm> depth_forms = {};  // preferred first; empty: it measures at depth 0 only
};

const PeerKind* find_peer_kind(std::string_view name);
std::string peer_kind_names();  // "llama.cpp, llama2.c"

// One --peer: a kind, the name its records and table columns carry, and one binary.
struct Peer {
    const PeerKind* kind;
    std::string name;    // the kind's name, or the NAME of KIND:NAME=PATH
    std::string binary;  // path
    std::string label() const;  // "llama.cpp", or "llama2.c run_omp" for kinds with several binaries
};

// "KIND=PATH" or "KIND:NAME=PATH" -> one Peer per binary. Throws std::invalid_argument (one line) for an
// unknown kind, a missing or empty PATH, or a PATH that is not an executable file.
std::vector<Peer> parse_peer_argument(std::string_view argument);

// What one measurement of a peer is given.
struct PeerJob {
    std::string model_file, tokenizer_file;  // tokenizer: llama2.c's tokenizer.bin
    std::string prompt;                      // prompt text (kinds that take text)
    int prompt_tokens = 0, gen_tokens = 0, repetitions = 1, threads = 1;
    std::string output;  // the output format chosen by choose_output
    // A depth job (bench_depth): the form its binary takes, the context before the timed runs, the cache type.
    const DepthForm* depth_form = nullptr;
    int depth = 0;
    std::string kv_type = "";  // llama.cpp's name: f32, f16, bf16, q8_0
};

struct PeerCommand {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // extra "NAME=value" entries
};
PeerCommand peer_command(const Peer& peer, const PeerJob& job);

// The output format a binary supports, from its --help text (kinds without {output}: "").
std::string choose_output(const PeerKind& kind, const std::string& help_text);
// The depth form a binary takes, from its --help text; null when it measures no depth.
const DepthForm* choose_depth_form(const PeerKind& kind, const std::string& help_text);

// Whether the peer's binary can use `threads` threads (its parallel_marker, if any, is in the file).
bool runs_threads(const Peer& peer, int threads);

// The types of `kind` that pair with the run's types, in the kind's order (like for like).
std::vector<DType> paired_types(const PeerKind& kind, const std::vector<DType>& run_types);

// The peer's records' variant: "llama.cpp Q8_0", "llama2.c run_omp F32".
std::string peer_variant(const Peer& peer, DType type);

// The first line of a failed program's output worth showing: a line of stderr that reads like an error, else
// its first non-empty line, else stdout's, else the exit status.
std::string first_error_line(const std::string& out, const std::string& err, int exit_code);

// Runs a program (no shell): bench_all's runs it with signal handling, tests pass captured outputs.
using RunProgram = std::function<ProcessResult(const std::vector<std::string>& argv, const std::vector<std::string>& env)>;

// Runs one job (warm-up and repetitions as the kind does them) and fills the peer's part of r: its rates,
// peer_version (the build commit, else "sha256:" of the binary), backend, status, error. Failures never throw:
// they become status "failed" with the first error line (exceptions from `run` other than std::exception
// pass through, so bench_all's interruption still stops the run).
void measure_peer(const Peer& peer, DType type, const PeerJob& job, const RunProgram& run, Record& r);

// The record of a job that could not start (its model file could not be written): status "failed", error `why`.
void fail_peer(const Peer& peer, DType type, const PeerJob& job, const std::string& why, Record& r);

// "sha256:<hex>" of a file, or "unknown" when it cannot be read.
std::string file_sha256(const std::string& path);

// Writes the model a peer is given, in a format and type, to a path; says first how many bytes that takes.
struct PeerModelWriter {
    std::function<std::uint64_t(PeerFormat format, DType type)> bytes;
    std::function<void(PeerFormat format, DType type, const std::string& path)> write;
};

// A loaded checkpoint for the peers, through model/formats' writers: GGUF of any type they write (vocabulary
// from the checkpoint, else from the llama2.c tokenizer file), or llama2.c v0.
PeerModelWriter peer_model_writer(const Checkpoint& checkpoint, const std::string& tokenizer_path);

// The model files of one model for the peers of a run, written on first use into a temporary directory
// (after checking the disk has room) and removed with it.
class PeerModels {
public:
    PeerModels(std::string model_name, PeerModelWriter writer);
    ~PeerModels();
    PeerModels(const PeerModels&) = delete;
    PeerModels& operator=(const PeerModels&) = delete;

    // A file that already exists in this format and type (not removed afterwards).
    void provide(PeerFormat format, DType type, const std::string& path);
    // The file's path; throws std::runtime_error (ResourceError when the disk is too small) when it cannot be written.
    const std::string& file(PeerFormat format, DType type);

private:
    std::string model_name_;
    PeerModelWriter writer_;
    std::string dir_;  // created on first write
    std::map<std::pair<PeerFormat, DType>, std::string> files_;
    std::map<std::pair<PeerFormat, DType>, std::string> failures_;  // a file that could not be written, and why
};

// Parsers, one per output form (each also takes the others' forms where a kind's forks differ). At a depth above
// 0, llama-bench's tests are read from JSON: mainline's n_depth, or ik_llama.cpp's -gp test ("tg64@pp4096").
PeerOutput parse_llama_bench(const std::string& out, const std::string& err, int exit_code, int depth = 0);  // jsonl, json, csv, md
PeerOutput parse_llama2c(const std::string& out, const std::string& err, int exit_code, int depth = 0);

}  // namespace wb
