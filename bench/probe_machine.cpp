// probe_machine: this machine's ceilings, for reading every kernel figure against them:
// read bandwidth by working-set size (1 and 2 threads), peak fp32 FMA, bf16 dot and int8 dot throughput.
// Writes results/machine.json (see harness/SCHEMA.md) and prints a table.
#include <immintrin.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "harness/machine.h"

namespace {

using clock_type = std::chrono::steady_clock;

// Runs body(t) on `threads` OS threads that start together; returns the wall seconds of the slowest.
template <class Body>
double timed_on_threads(int threads, Body body) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    clock_type::time_point t0;
    for (int t = 0; t < threads; t++) {
        pool.emplace_back([&, t] {
            ready++;
            while (!go.load()) {
            }
            body(t);
        });
    }
    while (ready.load() < threads) {
    }
    t0 = clock_type::now();
    go = true;
    for (auto& th : pool) th.join();
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Sums a buffer with AVX-512 loads, four independent accumulators; returns the sum to keep it alive.
float read_pass(const float* p, std::size_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t i = 0; i + 64 <= n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// GB/s reading `bytes` in total, split evenly over `threads`, best of several timed rounds.
double read_bandwidth(std::size_t bytes, int threads) {
    const std::size_t per_thread = bytes / threads / sizeof(float) / 64 * 64;
    std::vector<float*> bufs(threads);
    timed_on_threads(threads, [&](int t) {  // first touch by the reading thread
        bufs[t] = static_cast<float*>(std::aligned_alloc(64, per_thread * sizeof(float)));
        for (std::size_t i = 0; i < per_thread; i++) bufs[t][i] = 1.0f;
    });
    const int passes = static_cast<int>(std::max<std::size_t>(1, (256u << 20) / bytes));
    double best = 0;
    std::vector<float> sink(threads);
    for (int round = 0; round < 5; round++) {
        const double secs = timed_on_threads(threads, [&](int t) {
            for (int p = 0; p < passes; p++) sink[t] += read_pass(bufs[t], per_thread);
        });
        best = std::max(best, static_cast<double>(per_thread) * sizeof(float) * threads * passes / secs / 1e9);
    }
    for (float* b : bufs) std::free(b);
    if (sink[0] == 42.0f) std::puts("");
    return best;
}

// Independent FMA chains in registers: 2 * 16 * 12 flops per iteration.
double fma_gflops(int threads) {
    const long iters = 50'000'000;
    const double secs = timed_on_threads(threads, [&](int) {
            __m512 acc[12];
            for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
            const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
            for (long it = 0; it < iters; it++) {
                for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
            }
            float s = 0;
            for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(acc[i]);
            if (s == 42.0f) std::puts("");
    });
    return 2.0 * 16 * 12 * iters * threads / secs / 1e9;
}

// Independent vdpbf16ps chains: 16 lanes x 2 bf16 products summed into fp32 (64 flops) per instruction; 0 without
// AVX512-BF16.
double bf16_gflops(int threads) {
#if defined(__AVX512BF16__)
    const long iters = 50'000'000;
    const double secs = timed_on_threads(threads, [&](int) {
            __m512 acc[12];
            for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
            const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.999f), _mm512_set1_ps(0.5f));
            const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(2e-4f));
            for (long it = 0; it < iters; it++) {
                for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
            }
            float s = 0;
            for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(acc[i]);
            if (s == 42.0f) std::puts("");
    });
    return 64.0 * 12 * iters * threads / secs / 1e9;
#else
    (void)threads;
    return 0.0;
#endif
}

// Independent vpdpbusd chains: 64 multiply-adds (128 int8 ops) per instruction; 0 without VNNI.
double int8_gops(int threads) {
#if defined(__AVX512VNNI__)
    const long iters = 50'000'000;
    const double secs = timed_on_threads(threads, [&](int) {
            __m512i acc[12];
            for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
            const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
            for (long it = 0; it < iters; it++) {
                for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
            }
            int s = 0;
            for (int i = 0; i < 12; i++) s += _mm512_reduce_add_epi32(acc[i]);
            if (s == 42) std::puts("");
    });
    return 128.0 * 12 * iters * threads / secs / 1e9;
#else
    (void)threads;
    return 0.0;
#endif
}

int probe_main(int argc, char** argv) {
    std::string out = "results/machine.json";
    wb::cli::Args args(argc, argv);
    while (args.next()) {
        if (args.current() == "--help") {
            std::printf("usage: probe_machine [-o FILE]\nMeasures read bandwidth by working-set size, peak fp32 FMA, bf16 dot\n"
                        "and int8 dot throughput with 1 and 2 threads; writes FILE (default results/machine.json).\n");
            return 0;
        } else if (args.current() == "-o") {
            out = args.value();
        } else {
            throw wb::cli::UsageError("unknown argument '" + std::string(args.current()) + "'");
        }
    }
    const std::filesystem::path dir = std::filesystem::absolute(out).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || access(dir.c_str(), W_OK) != 0) throw wb::cli::UsageError("-o " + out + ": cannot write into " + dir.string());
    wb::MachineLimits m;
    m.cpu = wb::cpu_model();
    const int max_threads = std::min(2, static_cast<int>(std::thread::hardware_concurrency()));
    for (std::size_t bytes = 16u << 10; bytes <= (1u << 30); bytes *= 4) {
        for (int t = 1; t <= max_threads; t++) {
            const double gbs = read_bandwidth(bytes, t);
            m.read_bandwidth.push_back({bytes, t, gbs});
            std::fprintf(stderr, "read %8.1f KiB, %d thread(s): %7.1f GB/s\n", bytes / 1024.0, t, gbs);
        }
    }
    for (int t = 1; t <= max_threads; t++) {
        m.fma_gflops[t] = fma_gflops(t);
        m.bf16_gflops[t] = bf16_gflops(t);
        m.int8_gops[t] = int8_gops(t);
        std::fprintf(stderr, "%d thread(s): fp32 FMA %.1f GFLOP/s, bf16 dot %.1f GFLOP/s, int8 dot %.1f GOP/s\n", t,
                     m.fma_gflops[t], m.bf16_gflops[t], m.int8_gops[t]);
    }
    wb::write_machine_json(m, out);
    std::fprintf(stderr, "probe_machine: wrote %s\n", out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("probe_machine", probe_main, argc, argv); }
