// The one result-record schema (harness/SCHEMA.md) and its writers: JSON lines and a CSV twin,
// each rewritten atomically so an interrupted run leaves complete records only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/profiler.h"

namespace wb {

struct Summary {
    std::vector<double> samples;
    double median = 0, stddev = 0, min = 0, max = 0;
};
Summary summarize(std::vector<double> samples);
Summary not_measured();  // a rate a program does not report: no samples, every figure NaN (null in JSON)

struct BuildInfo {
    std::string git_sha, compiler, flags, cpu, host;
    std::string blas_core;  // the OpenBLAS core matmul.blas runs on here (kernels/matmul/blas.h)
};
BuildInfo build_info();  // of this binary, the source tree it came from and this machine

// The peer a record measured (impl "peer").
struct PeerInfo {
    std::string kind;     // "llama.cpp", "llama2.c"
    std::string name;     // the name its --peer gave (the kind's, unless KIND:NAME)
    std::string binary;   // path of the program run
    std::string version;  // its build commit, or "sha256:<hex>" of the binary where it prints none
    std::string backend;  // the backend it names ("CPU"); empty when it names none
};

struct Record {
    std::string kind = "e2e";  // e2e: one sequence's generation; batched: B sequences decoded together; depth: after a context
    std::string timestamp;  // UTC ISO 8601
    std::string command;    // the command line that produced it
    BuildInfo build;
    std::string impl;     // "workbench", "baseline" or "peer"
    std::string variant;  // variant, baseline or peer name ("llama.cpp Q8_0")
    std::optional<std::string> matmul, attention;
    std::optional<std::string> weight_type;  // the number format the weights stream in: "F32", "Q8_0", ...
    std::optional<std::string> isa;  // the instruction-set level the workbench's kernels ran at (kernels/isa.h)
    std::optional<PeerInfo> peer;
    int threads = 1;
    std::string model, model_source;
    long long model_bytes = 0;
    int prompt_tokens = 0, gen_tokens = 0, repetitions = 0;
    int batch = 1;  // sequences decoded together; prompt_tokens and gen_tokens are per sequence
    std::optional<int> round;  // bench_all's A/B round (1..R): the runs of one model and thread count, once per round
    std::optional<double> bytes_per_weight;  // what the matmul kernel streams per weight element (workbench runs)
    std::optional<std::string> weights_held;  // workbench runs: "views" (the mapped file) or "packs" (a copy), kernels/kernel.h
    std::optional<bool> lossy;                 // workbench runs: a kernel's tolerance is above kExactTolerance
    std::optional<std::string> kv_type;        // workbench runs: the KV cache's type ("f32", "f16", "bf16", "q8_0")
    // Depth records: the positions already in the cache when prefill and decode are timed, the cache's bytes per
    // position (keys and values of every layer, as stored), and tok/s of filling them from position 0 (a prompt
    // of `depth` tokens; workbench runs).
    std::optional<int> depth;
    std::optional<double> kv_bytes_per_position, fill_tok_s;
    Summary prefill_tok_s, decode_tok_s, ttft_ms;
    double peak_rss_mb = 0;
    std::string status = "ok";  // ok | diverged | failed
    std::optional<double> agreement;
    std::optional<std::string> error;  // failed runs: the first error line
    std::optional<std::vector<std::pair<std::string, double>>> profile;  // ms per token per op
};

std::string utc_now();
std::string to_json(const Record& r);
std::string csv_header();
std::string to_csv(const Record& r);

// "<UTC date>-<host>": the name, without extension, of the results files a run on this machine writes today.
std::string results_stem(const BuildInfo& build);

// Appends r to <dir>/<stem>.jsonl and <dir>/<stem>.csv.
void append_record(const Record& r, const std::string& dir, const std::string& stem);

// Appends one line to a file, atomically (the whole file is rewritten through a rename).
void append_line(const std::string& path, const std::string& line);

}  // namespace wb
