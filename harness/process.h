// Running another program (a baseline) and measuring it: exit status, output, peak memory.
#pragma once

#include <csignal>
#include <string>
#include <vector>

namespace wb {

struct ProcessResult {
    int exit_code;  // 128 + signal when killed
    std::string out, err;
    double peak_rss_mb;
};

// Runs argv (no shell) with extra environment entries ("NAME=value"); stdout and stderr captured.
// While it runs, *child_pid holds its pid (so a signal handler can stop it), else 0.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          volatile std::sig_atomic_t* child_pid);

// This process's peak resident memory since the last reset (Linux VmHWM).
void reset_peak_rss();
double peak_rss_mb();

}  // namespace wb
