// The C and Python programs bench_all measures beside the variants, as data: llama2.c's run.c built three ways
// (bench/baselines/c, flags from bench/CMakeLists.txt), and the NumPy and pure-Python ports (bench/baselines/python).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace wb::bench_all {

struct Baseline {
    std::string name;
    std::vector<std::string> command;  // the program and its leading arguments; run.c's arguments follow
    std::string threads_env;           // the variable that sets its thread count; empty: single-threaded
    std::string compiler, flags;       // how it is built or run, for its records
};

inline constexpr int kPythonTokens = 8;                 // pure Python: a short prompt and generation
inline constexpr std::uint64_t kPythonMaxParams = 30'000'000;  // and only on models it finishes in seconds

// The rows, with the C programs in bin_dir (beside bench_all).
std::vector<Baseline> baselines(const std::string& bin_dir);

// Single-threaded baselines run at 1 thread only; pure Python only on models it finishes in seconds.
bool baseline_runs_at(const Baseline& b, const Config& c, int threads);

}  // namespace wb::bench_all
