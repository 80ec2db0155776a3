#include "harness/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace wb {

std::string format_duration(double seconds) {
    char buf[48];
    const long s = std::lround(std::max(0.0, seconds));
    if (seconds < 9.95) {
        std::snprintf(buf, sizeof buf, "%.1f s", std::max(0.0, seconds));
    } else if (s < 60) {
        std::snprintf(buf, sizeof buf, "%ld s", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%ld min %02ld s", s / 60, s % 60);
    } else {
        const long m = std::lround(seconds / 60);
        std::snprintf(buf, sizeof buf, "%ld h %02ld min", m / 60, m % 60);
    }
    return buf;
}

std::optional<double> time_left(double done, double total, double elapsed) {
    if (done <= 0 || elapsed <= 0) return std::nullopt;
    return elapsed / done * std::max(0.0, total - done);
}

std::string progress_line(int k, int n, std::string_view label, double elapsed, std::optional<double> left) {
    std::string line(1, '[');
    line.append(std::to_string(k)).append("/").append(std::to_string(n)).append("] ").append(label);
    if (left) line += " (" + format_duration(elapsed) + " in, about " + format_duration(*left) + " left)";
    return line;
}

Progress::Progress(int jobs, double work, Clock clock) : clock_(std::move(clock)), jobs_(jobs), total_(work) {
    if (!clock_) {
        clock_ = [] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        };
    }
    t0_ = clock_();
}

std::string Progress::start(std::string_view label, double work) {
    finished_ += current_;
    current_ = work;
    started_++;
    const double elapsed = clock_() - t0_;
    return progress_line(started_, jobs_, label, elapsed, time_left(finished_, total_, elapsed));
}

std::string Progress::summary() const {
    return std::to_string(started_) + " of " + std::to_string(jobs_) + " jobs in " + format_duration(clock_() - t0_);
}

}  // namespace wb
