// Refusing, with a clear message, to load a model the machine cannot hold (or write a file its disk
// cannot hold) instead of being killed part way.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "kernels/kernel.h"
#include "model/config.h"

namespace wb {

// Not enough memory or disk: one line naming the model or file and the figures.
struct ResourceError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Bytes a run keeps resident.
struct MemoryNeed {
    std::uint64_t weights = 0;   // the checkpoint's fp32 pages (mapped or in memory) plus packed copies
    std::uint64_t kv_cache = 0;  // layers x seq_len x kv_dim x (key, value) x fp32
    std::uint64_t scratch = 0;   // activations for Transformer::kMaxBatch positions, logits, RoPE table
    std::uint64_t total() const { return weights + kv_cache + scratch; }
};

// An fp32 checkpoint of this shape run with this matmul kernel (whose prepare() may copy every matrix).
MemoryNeed memory_need(const Config& c, const MatmulKernel& matmul);
// The same model stored in int8 (Q8_0: one byte per matrix element plus a scale per group).
MemoryNeed q8_memory_need(const Config& c);

// MemAvailable from /proc/meminfo; nullopt when it cannot be read.
std::optional<std::uint64_t> available_memory();
// Bytes a file written at path may take: the free space of its filesystem plus the file it would replace;
// nullopt when its directory cannot be examined.
std::optional<std::uint64_t> disk_space_for(const std::string& path);

// Throws ResourceError naming `name` when memory_need(c, matmul) exceeds `available` bytes, saying
// whether the int8 form of the model would fit.
void require_memory(const std::string& name, const Config& c, const MatmulKernel& matmul, std::uint64_t available);
// Throws ResourceError naming path when `bytes` exceed `free` bytes of disk.
void require_disk(const std::string& path, std::uint64_t bytes, std::uint64_t free);

}  // namespace wb
