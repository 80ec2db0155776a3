// Everything a kernel may use besides its operands: threads, scratch memory, and the forward pass's observer.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <tbb/task_arena.h>

namespace wb {

class Observer;

class ExecContext {
public:
    explicit ExecContext(int threads);
    ~ExecContext();
    ExecContext(const ExecContext&) = delete;
    ExecContext& operator=(const ExecContext&) = delete;

    int threads() const { return threads_; }
    tbb::task_arena& arena() { return *arena_; }

    // A float buffer of at least n elements, 64-byte aligned, owned by the context.
    // slot in [0, threads()): one per concurrently running task (e.g. the arena's thread index).
    float* scratch(std::size_t n, int slot = 0);

    Observer* observer = nullptr;  // sees every operation's output (profiler, tracer); null means off

private:
    struct Buffer {
        std::unique_ptr<float[], void (*)(float*)> data{nullptr, nullptr};
        std::size_t size = 0;
    };
    int threads_;
    std::unique_ptr<tbb::task_arena> arena_;
    std::vector<Buffer> scratch_;
};

// The largest thread count a run may ask for: a few times the cores, for oversubscription studies.
int max_threads();

}  // namespace wb
