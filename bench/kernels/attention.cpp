#include "bench/kernels/registrations.h"

namespace wb::bench {

void register_attention_benchmarks() {}

}  // namespace wb::bench
