// Where a long run is: one line per job, "[k/N] label (2 min 10 s in, about 4 min left)". Each job has a
// kind (what runs, e.g. a variant at a thread count) and a relative cost (e.g. weights × tokens × runs); the
// time left is the planned work of each kind still to do at that kind's measured seconds per unit of cost,
// so a slow variant's later jobs are costed at its own pace rather than the run's average.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace wb {

// "0.4 s", "45 s", "3 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

// "[k/n] label (1 min 10 s in, about 4 min left)"; without an estimate "[k/n] label".
std::string progress_line(int k, int n, std::string_view label, double elapsed, std::optional<double> left);

class Progress {
public:
    using Clock = std::function<double()>;  // seconds since some fixed point
    explicit Progress(Clock clock = {});

    // Adds a job to the plan (before the first start).
    void plan(std::string_view kind, double work);
    // Starts the next job (the one before it counts as finished) and returns its progress line.
    std::string start(std::string_view label, std::string_view kind, double work);
    // Seconds left by the measured rates: each kind's unfinished work at its own seconds per unit, a kind not yet
    // measured at the rate of all finished jobs; nullopt before any job has finished.
    std::optional<double> left() const;
    // "N of M jobs in 12 min 30 s"
    std::string summary() const;

private:
    struct Kind {
        double planned = 0, finished = 0, seconds = 0;
    };
    void finish_current();

    Clock clock_;
    std::map<std::string, Kind, std::less<>> kinds_;
    int jobs_ = 0, started_ = 0;
    std::string current_kind_;
    double current_work_ = 0, current_start_ = 0, t0_;
};

}  // namespace wb
