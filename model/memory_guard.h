// Refusing, with a clear message, to load a model the machine cannot hold (or write a file its disk
// cannot hold) instead of being killed part way.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/transformer.h"

namespace wb {

// Not enough memory or disk: one line naming the model or file and the figures.
struct ResourceError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// How a model holds its weights: the matrices (classifier included) by stored type, what else is fp32.
struct WeightFootprint {
    struct Matrices {
        DType type;
        std::uint64_t elements = 0;
        std::uint64_t bytes = 0;  // as stored
    };
    std::vector<Matrices> matrices;  // one entry per type
    std::uint64_t fp32_bytes = 0;    // the embedding lookup table (unless it is the fp32 classifier) and the norms
};
WeightFootprint footprint(const Checkpoint& ck);
// The types w's matrices are stored in, the one with the most elements first.
std::vector<DType> stored_types(const WeightFootprint& w);
// Bytes per weight the variant's kernels read over w's matrices, averaged by element count (4.5 to 6.56 for a
// Q4_K_M file run as stored).
double streamed_bytes_per_weight(const WeightFootprint& w, const Kernels& k);
WeightFootprint fp32_footprint(const Config& c);  // an fp32 model of this shape

// Bytes a run keeps resident.
struct MemoryNeed {
    std::uint64_t weights = 0;   // the checkpoint's pages (mapped or in memory) plus what prepare() materialises
    std::uint64_t kv_cache = 0;  // layers x sequences x context x (key, value) rows of kv_dim in the cache's type
    std::uint64_t scratch = 0;   // activations for Transformer::kMaxBatch rows, logits of every sequence, RoPE table
    std::uint64_t total() const { return weights + kv_cache + scratch; }
};

// A model holding its weights as `w` run with this matmul kernel and a KV cache of this shape: prepare() may copy
// a matrix of a type (into its own layout, or dequantised to fp32 for a kernel that does not take the type).
MemoryNeed memory_need(const Config& c, const WeightFootprint& w, const MatmulKernel& matmul, CacheShape cache = {});
// The same, each matrix prepared by the variant's kernel for its stored type.
MemoryNeed memory_need(const Config& c, const WeightFootprint& w, const Kernels& kernels, CacheShape cache = {});
// An fp32 checkpoint of this shape.
MemoryNeed memory_need(const Config& c, const MatmulKernel& matmul, CacheShape cache = {});
// The same model stored in int8 (Q8_0: one byte per matrix element plus a scale per group).
MemoryNeed q8_memory_need(const Config& c, CacheShape cache = {});

// MemAvailable from /proc/meminfo; nullopt when it cannot be read.
std::optional<std::uint64_t> available_memory();
// Bytes a file written at path may take: the free space of its filesystem plus the file it would replace;
// nullopt when its directory cannot be examined.
std::optional<std::uint64_t> disk_space_for(const std::string& path);

// Throws ResourceError naming `name` when memory_need(c, w, matmul, cache) exceeds `available` bytes, saying
// whether the int8 form of the model would fit.
void require_memory(const std::string& name, const Config& c, const WeightFootprint& w, const MatmulKernel& matmul,
                    std::uint64_t available, CacheShape cache = {});
void require_memory(const std::string& name, const Config& c, const WeightFootprint& w, const Kernels& kernels,
                    std::uint64_t available, CacheShape cache = {});
void require_memory(const std::string& name, const Config& c, const MatmulKernel& matmul, std::uint64_t available,
                    CacheShape cache = {});
// Throws ResourceError naming path when `bytes` exceed `free` bytes of disk.
void require_disk(const std::string& path, std::uint64_t bytes, std::uint64_t free);

}  // namespace wb
