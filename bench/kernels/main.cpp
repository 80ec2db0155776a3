// bench_kernels: every registered kernel alone, over the shapes that matter (Google Benchmark).
// Usual Google Benchmark flags apply, e.g. --benchmark_filter=matmul.simd --benchmark_out=results/x.json, and
// --isa LEVEL runs each kernel at most at that instruction-set level (the label of each result names the level).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string_view>

#include "bench/kernels/registrations.h"
#include "cli/args.h"

// --isa LEVEL (or --isa=LEVEL) is taken out before Google Benchmark reads the rest.
static int take_isa_argument(int argc, char** argv) {
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const std::string_view a = argv[i];
        if (a == "--isa" && i + 1 < argc) {
            wb::cli::isa_argument(argv[++i]);
        } else if (a.starts_with("--isa=")) {
            wb::cli::isa_argument(a.substr(6));
        } else if (a == "--isa") {
            throw wb::cli::UsageError("--isa needs a value");
        } else {
            argv[kept++] = argv[i];
        }
    }
    return kept;
}

static int kernels_main(int argc, char** argv) {
    argc = take_isa_argument(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    wb::bench::register_matmul_benchmarks();
    wb::bench::register_attention_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

int main(int argc, char** argv) { return wb::cli::run_main("bench_kernels", kernels_main, argc, argv); }
