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

struct BuildInfo {
    std::string git_sha, compiler, flags, cpu, host;
};
BuildInfo build_info();  // of this binary, the source tree it came from and this machine

struct Record {
    std::string timestamp;  // UTC ISO 8601
    std::string command;    // the command line that produced it
    BuildInfo build;
    std::string impl;     // "workbench" or "baseline"
    std::string variant;  // variant or baseline name
    std::optional<std::string> matmul, attention;
    int threads = 1;
    std::string model, model_source;
    long long model_bytes = 0;
    int prompt_tokens = 0, gen_tokens = 0, repetitions = 0;
    Summary prefill_tok_s, decode_tok_s, ttft_ms;
    double peak_rss_mb = 0;
    std::string status = "ok";  // ok | diverged | failed
    std::optional<double> agreement;
    std::optional<std::vector<std::pair<std::string, double>>> profile;  // ms per token per op
};

std::string utc_now();
std::string to_json(const Record& r);
std::string csv_header();
std::string to_csv(const Record& r);

// Appends r to <dir>/<stem>.jsonl and <dir>/<stem>.csv.
void append_record(const Record& r, const std::string& dir, const std::string& stem);

// Appends one line to a file, atomically (the whole file is rewritten through a rename).
void append_line(const std::string& path, const std::string& line);

}  // namespace wb
