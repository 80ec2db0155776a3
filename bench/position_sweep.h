// bench_all --profile's position sweep: decode steps at growing positions on the stories15M shape (its context
// stretched), the time of each operation at each, and the first position where attention costs more than all the
// matmuls; one position_profile record (harness/SCHEMA.md).
#pragma once

#include <functional>
#include <string>

#include "harness/record.h"

namespace wb::bench_all {

struct SweepRun {
    int threads;
    std::string command;       // for the record
    BuildInfo build;
    std::string records_path;  // the .jsonl the record is appended to
    std::function<void(const std::string& variant, const std::string& what)> announce;  // starts the progress line
    std::function<void()> check_stop;                                                   // throws to abandon the sweep
};

// Relative cost of the sweep for bench_all's time-left estimate (weights x positions, as its other jobs).
double position_sweep_work();
void position_sweep(const SweepRun& s);

}  // namespace wb::bench_all
