// Each kernel family registers its Google Benchmark cases from the registry; main() calls them all.
#pragma once

namespace wb::bench {

void register_matmul_benchmarks();
void register_attention_benchmarks();

}  // namespace wb::bench
