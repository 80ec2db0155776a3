// bench_all's command line: the variants, thread counts and models to run, the baselines and peers beside them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "harness/peers.h"

namespace wb::bench_all {

struct Options {
    std::vector<std::string> variants;  // empty: every available one
    std::vector<int> threads;
    std::vector<cli::ModelSpec> models;
    std::vector<Peer> peers;
    int prompt_tokens = 64, gen_tokens = 128, repetitions = 5, rounds = 1;
    bool baselines = true, profile = false, quick = false;
    DType kv_type = DType::f32;  // the workbench variants' KV cache
    std::string output = "results";
    std::string command;  // argv, for the records
};

inline constexpr int kGateTokens = 32;
inline constexpr int kSweepContext = 8192;  // the stories15M shape, its context stretched for the position sweep

// The options of argv, defaults filled in (models, thread counts, every available variant); --help prints the
// usage and exits 0; bad use throws cli::UsageError.
Options parse(int argc, char** argv);

}  // namespace wb::bench_all
