// Matmul benchmarks: every registered kernel x the weight shapes of four models x m x threads.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "bench/kernels/registrations.h"
#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "model/config.h"

namespace wb::bench {

namespace {

struct WeightCase {
    std::string name;  // "stories110M.wq"
    int d, n;
};

std::vector<WeightCase> weight_cases() {
    std::vector<WeightCase> cases;
    for (const char* model : {"stories15M", "stories110M", "tinyllama-1.1B", "llama2-7B-layer"}) {
        const Config c = *find_shape(model);
        const std::string m = model == std::string("llama2-7B-layer") ? "llama2-7B" : model;
        cases.push_back({m + ".wq", c.dim, c.dim});  // also wo
        if (c.kv_dim() != c.dim) cases.push_back({m + ".wk", c.kv_dim(), c.dim});  // also wv
        cases.push_back({m + ".w1", c.hidden_dim, c.dim});  // also w3
        cases.push_back({m + ".w2", c.dim, c.hidden_dim});
        cases.push_back({m + ".cls", c.vocab_size, c.dim});
    }
    return cases;
}

std::vector<float> random_floats(std::size_t count) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> v(count);
    for (float& f : v) f = dist(rng);
    return v;
}

bool parallel(const MatmulKernel& k) {
    const std::string name = k.name;
    return name.starts_with("matmul.tbb") || name == "matmul.blas";
}

// The reference and forced-fallback kernels are measured where they are cheap enough to matter.
bool worth_running(const MatmulKernel& k, const WeightCase& w, int m, int threads) {
    const std::string name = k.name;
    if (threads > 1 && !parallel(k)) return false;
    if (name == "matmul.naive") return m == 1 || static_cast<double>(w.d) * w.n * m < 3e8;
    if (name == "matmul.simd") return m <= 16;
    return true;
}

void run_case(benchmark::State& state, const MatmulKernel* k, WeightCase w, int m, int threads) {
    const std::vector<float> W = random_floats(static_cast<std::size_t>(w.d) * w.n);
    const std::vector<float> x = random_floats(static_cast<std::size_t>(m) * w.n);
    std::vector<float> y(static_cast<std::size_t>(m) * w.d);
    ExecContext ctx(threads);
    const PackedWeight packed = k->prepare(WeightView{W.data(), nullptr, w.d, w.n}, ctx);
    state.SetLabel(isa_name(k->isa));
    for (auto _ : state) {
        k->run(packed, x.data(), y.data(), m, ctx);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double weights = static_cast<double>(w.d) * w.n;
    const double bytes = weights * k->bytes_per_weight();
    state.counters["GFLOPS"] = benchmark::Counter(2.0 * weights * m / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["working_set"] = bytes;
}

}  // namespace

void register_matmul_benchmarks() {
    for (const MatmulKernel* k : matmul_kernels()) {
        if (!k->available() || find_matmul(k->name) != k) continue;  // each name once, at its best level under the cap
        for (const WeightCase& w : weight_cases()) {
            for (const int m : {1, 16, 64, 128}) {
                for (const int threads : {1, 2}) {
                    if (!worth_running(*k, w, m, threads)) continue;
                    const std::string name = std::string(k->name) + "/" + w.name + "/m:" + std::to_string(m) +
                                             "/threads:" + std::to_string(threads);
                    auto* b = benchmark::RegisterBenchmark(name.c_str(), run_case, k, w, m, threads);
                    b->Unit(benchmark::kMicrosecond);
                    if (threads > 1) b->UseRealTime();
                }
            }
        }
    }
}

}  // namespace wb::bench
