// Everything a kernel may use besides its operands: threads, scratch memory, and the forward pass's observer.
#pragma once

#include <cstddef>
#include <functional>
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

    // A float buffer of at least n elements, 64-byte aligned, owned by the context.
    // slot in [0, threads()): one per concurrently running task (e.g. the arena's thread index).
    float* scratch(std::size_t n, int slot = 0);
    // A float buffer of at least n elements, 64-byte aligned, that every task of a parallel_for may write in parts
    // of its own and the caller reads after it: results a kernel merges once the tasks are done.
    float* shared_scratch(std::size_t n);

    // Memory for a weight prepare() re-lays out, 64-byte aligned, carved from chunks of 2 MiB pages
    // (madvise(MADV_HUGEPAGE)): one TLB entry covers what 512 small pages took. A chunk lives as long as
    // any weight in it; the context starts a new one when a weight does not fit in the rest of the last.
    std::shared_ptr<void> weight_buffer(std::size_t bytes);

    // Calls body(begin, end, slot) over items [0, items), slot being the running thread's index (for scratch()).
    // item_bytes is one item's cost in bytes it streams. Work below min_parallel_bytes runs on the calling thread;
    // larger work is cut into one equal piece per thread, which costs a fraction of the balancing partitioner's
    // fork and join (the pieces stream memory at the same rate, so there is little to balance).
    void parallel_for(int items, double item_bytes, const std::function<void(int, int, int)>& body);

    // Below this many bytes of work a parallel region costs more than it saves (a fork and join is 0.5-2 us,
    // a core streams 64 KiB from L2 in about as long). Tests set 0 to run every parallel path.
    double min_parallel_bytes = 256.0 * 1024.0;

    Observer* observer = nullptr;  // sees every operation's output (profiler, tracer); null means off

private:
    struct Buffer {
        std::unique_ptr<float[], void (*)(float*)> data{nullptr, nullptr};
        std::size_t size = 0;
    };
    int threads_;
    std::unique_ptr<tbb::task_arena> arena_;
    std::vector<Buffer> scratch_;
    Buffer shared_;
    std::shared_ptr<std::byte> chunk_;  // weight_buffer's current chunk
    std::size_t chunk_size_ = 0, chunk_used_ = 0;
};

// The largest thread count a run may ask for: a few times the cores, for oversubscription studies.
int max_threads();

}  // namespace wb
