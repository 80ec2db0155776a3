// Synthetic checkpoints: deterministic random weights of a standard shape, in v0 layout.
#pragma once

#include <cstdint>
#include <string>

#include "model/checkpoint.h"

namespace wb {

// Matrices N(0, 0.02), norm weights 1, classifier row of token 1 (BOS) zero so sampling rarely
// ends a generation early. Same bytes for the same config and seed.
void write_synthetic(const Config& c, std::uint64_t seed, const std::string& path);
Checkpoint synthetic_checkpoint(const Config& c, std::uint64_t seed, const std::string& name);

}  // namespace wb
