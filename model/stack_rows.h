// Fused projections' weights: several matrices' rows stacked into one (Q, K and V; gate and up), so one matmul
// call runs them. A forward-pass concern, kept apart from the weight-type table it reads.
#pragma once

#include <memory>
#include <span>

#include "types/weight_types.h"

namespace wb {

struct StackedWeight {
    WeightView view;
    std::shared_ptr<void> storage;  // owns the view's bytes
};

// The rows of parts[0], parts[1], ... stacked in order into one weight (the forward pass's fused projections:
// Q, K and V, gate and up). Every part has the same n. Kept in the parts' type when they share one (q8_v2 when
// every part is whole scale groups), else dequantised to fp32. The view's bytes are owned by `storage`.
// Throws std::invalid_argument for no parts or parts of different widths.
StackedWeight stack_rows(std::span<const WeightView> parts);

}  // namespace wb
