// Synthetic models: deterministic random weights of a standard shape, in memory or written as a file.
#pragma once

#include <cstdint>
#include <string>

#include "model/checkpoint.h"
#include "model/formats/llama_layout.h"

namespace wb {

// Matrices N(0, 0.02), norm weights 1, classifier row of token 1 (BOS) zero so sampling rarely ends a
// generation early; rows in llama_tensors order (to be taken in that order: the values are one stream).
// Same values for the same config and seed, whatever the file format.
RowSource synthetic_rows(const Config& c, std::uint64_t seed);

// A llama2.c v0 file; throws LoadError for a config v0 cannot carry (Llama 3's RoPE).
void write_synthetic(const Config& c, std::uint64_t seed, const std::string& path);
// The same model in memory (any config).
Checkpoint synthetic_checkpoint(const Config& c, std::uint64_t seed, const std::string& name);
// An fp32 model in memory whose rows come from `rows` (taken in llama_tensors order).
Checkpoint checkpoint_from_rows(const Config& c, const RowSource& rows, const std::string& name);

}  // namespace wb
