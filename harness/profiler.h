// Per-operation wall time, accumulated over a run when a profiler is attached to the context.
#pragma once

#include <array>
#include <chrono>

namespace wb {

enum class Op { qkv, o, ffn_up_gate, ffn_down, classifier, attention, rmsnorm, rope, softmax, swiglu, count };

const char* op_name(Op op);

class Profiler {
public:
    void add(Op op, double seconds) { seconds_[static_cast<int>(op)] += seconds; }
    double seconds(Op op) const { return seconds_[static_cast<int>(op)]; }
    void reset() { seconds_.fill(0.0); }

private:
    std::array<double, static_cast<int>(Op::count)> seconds_{};
};

// Times its scope into the profiler; costs one branch when there is none.
class OpTimer {
public:
    OpTimer(Profiler* p, Op op) : p_(p), op_(op) {
        if (p_) start_ = std::chrono::steady_clock::now();
    }
    ~OpTimer() {
        if (p_) p_->add(op_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    OpTimer(const OpTimer&) = delete;
    OpTimer& operator=(const OpTimer&) = delete;

private:
    Profiler* p_;
    Op op_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace wb
