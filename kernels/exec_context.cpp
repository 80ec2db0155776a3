#include "kernels/exec_context.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
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

std::shared_ptr<void> ExecContext::weight_buffer(std::size_t bytes) {
    constexpr std::size_t kPage = 2u << 20, kMinChunk = 16u << 20;
    bytes = (bytes + 63) / 64 * 64;
    if (chunk_ == nullptr || chunk_used_ + bytes > chunk_size_) {
        const std::size_t size = std::max(kMinChunk, (bytes + kPage - 1) / kPage * kPage);
        void* p = std::aligned_alloc(kPage, size);
        if (p == nullptr) throw std::bad_alloc();
        madvise(p, size, MADV_HUGEPAGE);  // advice only: without transparent huge pages the chunk keeps small pages
        chunk_ = std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
        chunk_size_ = size;
        chunk_used_ = 0;
    }
    std::byte* at = chunk_.get() + chunk_used_;
    chunk_used_ += bytes;
    return std::shared_ptr<void>(chunk_, at);
}

void ExecContext::parallel_for(int items, double item_bytes, const std::function<void(int, int, int)>& body) {
    if (items <= 0) return;
    if (threads_ == 1 || items == 1 || items * item_bytes < min_parallel_bytes) {
        body(0, items, 0);
        return;
    }
    const int piece = (items + threads_ - 1) / threads_;
    arena_->execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<int>(0, items, piece),
            [&](const tbb::blocked_range<int>& r) { body(r.begin(), r.end(), tbb::this_task_arena::current_thread_index()); },
            tbb::static_partitioner());
    });
}

namespace {

float* grow(std::size_t n, auto& b) {
    if (b.size < n) {
        const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (p == nullptr) throw std::bad_alloc();
        b.data = {p, [](float* q) { std::free(q); }};
        b.size = n;
    }
    return b.data.get();
}

}  // namespace

float* ExecContext::scratch(std::size_t n, int slot) { return grow(n, scratch_.at(static_cast<std::size_t>(slot))); }

float* ExecContext::shared_scratch(std::size_t n) { return grow(n, shared_); }

}  // namespace wb
