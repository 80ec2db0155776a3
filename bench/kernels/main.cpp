// bench_kernels: every registered kernel alone, over the shapes that matter (Google Benchmark).
// Usual Google Benchmark flags apply, e.g. --benchmark_filter=matmul.simd --benchmark_out=results/x.json
#include <benchmark/benchmark.h>

#include "bench/kernels/registrations.h"

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    wb::bench::register_matmul_benchmarks();
    wb::bench::register_attention_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
