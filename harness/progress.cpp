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

std::string progress_line(int k, int n, std::string_view label, double elapsed, std::optional<double> left) {
    std::string line(1, '[');
    line.append(std::to_string(k)).append("/").append(std::to_string(n)).append("] ").append(label);
    if (left) line += " (" + format_duration(elapsed) + " in, about " + format_duration(*left) + " left)";
    return line;
}

Progress::Progress(Clock clock) : clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        };
    }
    t0_ = clock_();
}

void Progress::plan(std::string_view kind, double work) {
    auto it = kinds_.find(kind);
    if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), Kind{}).first;
    it->second.planned += work;
    jobs_++;
}

void Progress::finish_current() {
    if (started_ == 0) return;
    auto it = kinds_.find(current_kind_);
    if (it == kinds_.end()) it = kinds_.emplace(current_kind_, Kind{}).first;
    it->second.finished += current_work_;
    it->second.seconds += clock_() - current_start_;
}

std::string Progress::start(std::string_view label, std::string_view kind, double work) {
    finish_current();
    current_kind_ = kind;
    current_work_ = work;
    current_start_ = clock_();
    started_++;
    return progress_line(started_, std::max(jobs_, started_), label, current_start_ - t0_, left());
}

std::optional<double> Progress::left() const {
    double finished = 0, seconds = 0;
    for (const auto& [name, k] : kinds_) {
        finished += k.finished;
        seconds += k.seconds;
    }
    if (finished <= 0 || seconds <= 0) return std::nullopt;
    const double overall = seconds / finished;
    double left = 0;
    for (const auto& [name, k] : kinds_) {
        const double rate = k.finished > 0 ? k.seconds / k.finished : overall;
        left += std::max(0.0, k.planned - k.finished) * rate;
    }
    return left;
}

std::string Progress::summary() const {
    return std::to_string(started_) + " of " + std::to_string(jobs_) + " jobs in " + format_duration(clock_() - t0_);
}

}  // namespace wb
