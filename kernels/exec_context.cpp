#include "kernels/exec_context.h"

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include <tbb/task_arena.h>

namespace wb {

int max_threads() {
    const unsigned cores = std::thread::hardware_concurrency();
    return 4 * static_cast<int>(cores == 0 ? 1 : cores);
}

ExecContext::ExecContext(int threads) : threads_(threads) {
    if (threads < 1 || threads > max_threads()) {
        throw std::invalid_argument("thread count " + std::to_string(threads) + " is out of range 1.." +
                                    std::to_string(max_threads()));
    }
    arena_ = std::make_unique<tbb::task_arena>(threads);
    scratch_.resize(static_cast<std::size_t>(threads));
}

ExecContext::~ExecContext() = default;

float* ExecContext::scratch(std::size_t n, int slot) {
    Buffer& b = scratch_.at(static_cast<std::size_t>(slot));
    if (b.size < n) {
        const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (p == nullptr) throw std::bad_alloc();
        b.data = {p, [](float* q) { std::free(q); }};
        b.size = n;
    }
    return b.data.get();
}

}  // namespace wb
