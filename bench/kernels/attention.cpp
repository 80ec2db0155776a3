// Attention kernels alone: every registered kernel over head sizes, context positions, query rows
// and thread counts, plus a 512-token prefill against 512 single-token decode calls.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bench/kernels/registrations.h"
#include "kernels/exec_context.h"
#include "kernels/registry.h"
#include "model/transformer.h"

namespace wb::bench {
namespace {

struct AttentionShape {
    const char* label;
    int n_heads;
    int n_kv_heads;
    int head_size;

    int dim() const { return n_heads * head_size; }
    int kv_dim() const { return n_kv_heads * head_size; }
};

// dim 768 at three head sizes (multi-head), TinyLlama-1.1B's grouped-query layer, and stories260K's heads of 8.
constexpr AttentionShape kShapes[] = {
    {"hs48", 16, 16, 48},
    {"hs64", 12, 12, 64},
    {"hs128", 6, 6, 128},
    {"tinyllama", 32, 4, 64},
    {"stories260K", 8, 4, 8},
};
constexpr AttentionShape kTinyLlama = kShapes[3];

// Queries for m rows and a KV cache filled up to row pos + m - 1, random normal values.
struct AttentionOperands {
    std::vector<float> q, k, v, out;

    AttentionOperands(const AttentionShape& s, int pos, int m) {
        std::mt19937 rng(42);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        q.resize(static_cast<std::size_t>(m) * s.dim());
        k.resize(static_cast<std::size_t>(pos + m) * s.kv_dim());
        v.resize(k.size());
        out.resize(q.size());
        for (auto* buffer : {&q, &k, &v}) {
            for (float& x : *buffer) x = normal(rng);
        }
    }

    // Rows first_row .. first_row+m-1 of q and out, one sequence at cache position pos.
    AttentionArgs args(const AttentionShape& s, int pos, int m, int first_row = 0) {
        const std::size_t offset = static_cast<std::size_t>(first_row) * s.dim();
        span = {0, m, 0, pos};
        return {q.data() + offset, k.data(), v.data(), out.data() + offset, m, {&span, 1}, 0,
                s.n_heads,         s.n_kv_heads, s.head_size};
    }
    AttentionSpan span{};

    double bytes() const { return 4.0 * static_cast<double>(q.size() + k.size() + v.size() + out.size()); }
};

// Counters per call: flops of scores and weighted sum (2 * 2 * keys * head_size per head and row), KV bytes read.
void set_counters(benchmark::State& state, double flops, double kv_bytes, double working_set) {
    state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GBps"] = benchmark::Counter(kv_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["working_set"] = benchmark::Counter(working_set);
}

void bench_call(benchmark::State& state, const AttentionKernel* kernel, AttentionShape s, int pos, int m,
                int threads) {
    ExecContext ctx(threads);
    AttentionOperands ops(s, pos, m);
    const AttentionArgs args = ops.args(s, pos, m);
    state.SetLabel(isa_name(kernel->isa));
    for (auto _ : state) {
        kernel->run(args, ctx);
        benchmark::ClobberMemory();
    }
    set_counters(state, 4.0 * pos * s.head_size * s.n_heads * m, 2.0 * pos * s.kv_dim() * 4, ops.bytes());
}

// Decode at depth with the cache stored in each type a kernel reads, on Llama 3.2 1B's attention (32 query heads
// sharing 8 kv heads of 64): one query row against `pos` cached positions, rows quantised as the forward pass
// stores them. Each call reads the next of kLayers layers' caches, so the cache comes from DRAM as it does in a
// decode step, where a layer's keys and values were last read a whole token ago.
constexpr AttentionShape kLlama32 = {"llama3.2-1B", 32, 8, 64};
constexpr int kLayers = 16;

void bench_cached(benchmark::State& state, const AttentionKernel* kernel, DType kv_type, int pos, int threads) {
    const AttentionShape& s = kLlama32;
    ExecContext ctx(threads);
    AttentionOperands ops(s, pos, 1);
    const std::size_t row = static_cast<std::size_t>(row_bytes(kv_type, s.kv_dim()));
    const std::size_t layer = (pos + 1) * row;
    std::vector<std::byte> k(layer * kLayers), v(k.size());
    for (int t = 0; t <= pos; t++) {
        traits(kv_type).quantize_row(ops.k.data() + static_cast<std::size_t>(t) * s.kv_dim(), k.data() + t * row, s.kv_dim());
        traits(kv_type).quantize_row(ops.v.data() + static_cast<std::size_t>(t) * s.kv_dim(), v.data() + t * row, s.kv_dim());
    }
    for (int l = 1; l < kLayers; l++) {
        std::copy(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(layer), k.begin() + static_cast<std::ptrdiff_t>(l * layer));
        std::copy(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(layer), v.begin() + static_cast<std::ptrdiff_t>(l * layer));
    }
    AttentionArgs args = ops.args(s, pos, 1);
    args.kv_type = kv_type;
    state.SetLabel(isa_name(kernel->isa));
    int l = 0;
    for (auto _ : state) {
        args.k_cache = k.data() + l * layer;
        args.v_cache = v.data() + l * layer;
        kernel->run(args, ctx);
        benchmark::ClobberMemory();
        l = (l + 1) % kLayers;
    }
    set_counters(state, 4.0 * pos * s.head_size * s.n_heads, 2.0 * pos * static_cast<double>(row),
                 2.0 * static_cast<double>(k.size()));
}

// 512 prompt tokens at positions 0 .. 511: one batched call (prefill512) or 512 single-row calls (decode512).
constexpr int kPrompt = 512;

void bench_prompt(benchmark::State& state, const AttentionKernel* kernel, bool batched, int threads) {
    const AttentionShape& s = kTinyLlama;
    ExecContext ctx(threads);
    AttentionOperands ops(s, 0, kPrompt);
    state.SetLabel(isa_name(kernel->isa));
    for (auto _ : state) {
        if (batched) {
            kernel->run(ops.args(s, 0, kPrompt), ctx);
        } else {
            for (int p = 0; p < kPrompt; p++) kernel->run(ops.args(s, p, 1, p), ctx);
        }
        benchmark::ClobberMemory();
    }
    const double keys = kPrompt * (kPrompt + 1) / 2.0;  // summed over the rows
    set_counters(state, 4.0 * keys * s.head_size * s.n_heads, 2.0 * keys * s.kv_dim() * 4, ops.bytes());
}

}  // namespace

void register_attention_benchmarks() {
    constexpr int kPositions[] = {128, 512, 1024, 2048, 4096};
    constexpr int kRows[] = {1, 64};
    constexpr int kThreads[] = {1, 2};
    for (const AttentionKernel* kernel : attention_kernels()) {
        if (!kernel->available() || find_attention(kernel->name) != kernel) continue;  // each name at its best level
        const std::string kernel_name = kernel->name;
        for (const AttentionShape& s : kShapes) {
            for (int pos : kPositions) {
                for (int m : kRows) {
                    for (int t : kThreads) {
                        const std::string name = kernel_name + "/" + s.label + "/pos:" + std::to_string(pos) +
                                                 "/m:" + std::to_string(m) + "/threads:" + std::to_string(t);
                        auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_call, kernel, s, pos, m, t);
                        b->Unit(benchmark::kMicrosecond);
                        if (t > 1) b->UseRealTime();
                    }
                }
            }
        }
        for (const DType kv_type : kKvTypes) {
            if (!kernel->reads(kv_type)) continue;
            for (int pos : {4096, 16384}) {
                for (int t : kThreads) {
                    const std::string name = kernel_name + "/" + kLlama32.label + "/kv:" + kv_type_name(kv_type) +
                                             "/pos:" + std::to_string(pos) + "/m:1/layers:" + std::to_string(kLayers) +
                                             "/threads:" + std::to_string(t);
                    auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_cached, kernel, kv_type, pos, t);
                    b->Unit(benchmark::kMicrosecond);
                    if (t > 1) b->UseRealTime();
                }
            }
        }
        for (int t : kThreads) {
            for (bool batched : {true, false}) {
                const std::string name = kernel_name + (batched ? "/prefill512/m:512" : "/decode512/m:1") +
                                         "/threads:" + std::to_string(t);
                auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_prompt, kernel, batched, t);
                b->Unit(benchmark::kMillisecond);
                if (t > 1) b->UseRealTime();
            }
        }
    }
}

}  // namespace wb::bench
