// Where a long run is: one line per job, "[k/N] label (2 min 10 s in, about 4 min left)", the time
// left estimated from the work finished so far. A job's work is its relative cost (e.g. weights ×
// tokens × runs), so a run that moves from small models to big ones does not promise too much.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wb {

// "0.4 s", "45 s", "3 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

// Seconds left when `done` of `total` work took `elapsed` seconds; nullopt before any work is done.
std::optional<double> time_left(double done, double total, double elapsed);

// "[k/n] label (1 min 10 s in, about 4 min left)"; without an estimate "[k/n] label".
std::string progress_line(int k, int n, std::string_view label, double elapsed, std::optional<double> left);

class Progress {
public:
    using Clock = std::function<double()>;  // seconds since some fixed point
    Progress(int jobs, double work, Clock clock = {});

    // Starts the next job (the one before it counts as finished) and returns its progress line.
    std::string start(std::string_view label, double work);
    // "N jobs in 12 min 30 s"
    std::string summary() const;

private:
    Clock clock_;
    int jobs_, started_ = 0;
    double total_, finished_ = 0, current_ = 0, t0_;
};

}  // namespace wb
