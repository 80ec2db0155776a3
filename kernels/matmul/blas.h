// What OpenBLAS chose on this machine, for the records: matmul.blas runs at that core's speed.
#pragma once

#include <string>

namespace wb {

// The kernel core OpenBLAS's run-time dispatch picked for this CPU ("Haswell", "SkylakeX", ...); the environment
// variable OPENBLAS_CORETYPE overrides the pick.
std::string blas_core();

}  // namespace wb
