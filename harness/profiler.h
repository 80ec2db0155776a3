// Per-operation wall time, accumulated over a run: an observer of the forward pass (model/observer.h).
#pragma once

#include <array>
#include <chrono>

#include "model/observer.h"

namespace wb {

class Profiler : public Observer {
public:
    void before(Stage, int) override { start_ = std::chrono::steady_clock::now(); }
    void after(Stage s, int, int, Tensor) override {
        add(stage_info(s).op, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    void add(Op op, double seconds) { seconds_[static_cast<int>(op)] += seconds; }
    double seconds(Op op) const { return seconds_[static_cast<int>(op)]; }
    void reset() { seconds_.fill(0.0); }

private:
    std::array<double, static_cast<int>(Op::count)> seconds_{};
    std::chrono::steady_clock::time_point start_;
};

}  // namespace wb
