// probe_machine: this machine's ceilings, for reading every kernel figure against them:
// read bandwidth by working-set size (1 and 2 threads), and the peak fp32 FMA, bf16 dot and int8 dot throughput
// of every instruction-set level the CPU has (AVX2, AVX-VNNI, AVX-512, AVX-512 VNNI and BF16).
// Writes results/machine.json (see harness/SCHEMA.md) and prints a table.
#include <immintrin.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "harness/json.h"
#include "harness/machine.h"
#include "kernels/isa.h"

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

// Sums a buffer with the widest loads the CPU has, four independent accumulators; returns the sum to keep it alive.
[[gnu::target("avx512f")]] float read_pass_avx512(const float* p, std::size_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t i = 0; i + 64 <= n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

[[gnu::target("avx2")]] float read_pass_avx2(const float* p, std::size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t i = 0; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return lanes[0] + lanes[7];
}

float read_pass_sse2(const float* p, std::size_t n) {
    __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t i = 0; i + 16 <= n; i += 16) {
        a0 = _mm_add_ps(a0, _mm_load_ps(p + i));
        a1 = _mm_add_ps(a1, _mm_load_ps(p + i + 4));
        a2 = _mm_add_ps(a2, _mm_load_ps(p + i + 8));
        a3 = _mm_add_ps(a3, _mm_load_ps(p + i + 12));
    }
    return _mm_cvtss_f32(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
}

using ReadPass = float (*)(const float*, std::size_t);

ReadPass widest_read_pass() {
    if (wb::cpu_has(wb::Isa::avx512)) return read_pass_avx512;
    if (wb::cpu_has(wb::Isa::avx2)) return read_pass_avx2;
    return read_pass_sse2;
}

// Reads `streams` equal parts of the buffer side by side, a 1 KiB block of each in turn, the way a matvec walks
// several weight rows at once: the prefetchers then follow several streams, and one core draws more than from one.
constexpr std::size_t kStreamBlock = 256;  // floats

// Floats each of `streams` parts of n holds: whole blocks.
std::size_t stream_part(std::size_t n, int streams) { return n / streams / kStreamBlock * kStreamBlock; }

float read_streams(ReadPass pass, const float* p, std::size_t n, int streams) {
    const std::size_t part = stream_part(n, streams);
    float sum = 0;
    for (std::size_t i = 0; i < part; i += kStreamBlock) {
        for (int s = 0; s < streams; s++) sum += pass(p + s * part + i, kStreamBlock);
    }
    return sum;
}

// GB/s reading `bytes` in total, split evenly over `threads`: the best of several timed rounds, each reading the
// thread's part as 1, 4 and 8 side-by-side streams (whichever draws more on this machine).
double read_bandwidth(std::size_t bytes, int threads) {
    const std::size_t per_thread = bytes / threads / sizeof(float) / 64 * 64;
    const ReadPass pass = widest_read_pass();
    std::vector<float*> bufs(threads);
    timed_on_threads(threads, [&](int t) {  // first touch by the reading thread
        bufs[t] = static_cast<float*>(std::aligned_alloc(64, per_thread * sizeof(float)));
        for (std::size_t i = 0; i < per_thread; i++) bufs[t][i] = 1.0f;
    });
    const int passes = static_cast<int>(std::max<std::size_t>(1, (256u << 20) / bytes));
    double best = 0;
    std::vector<float> sink(threads);
    for (const int streams : {1, 4, 8}) {
        const std::size_t part = stream_part(per_thread, streams);
        if (part == 0) continue;
        for (int round = 0; round < 5; round++) {
            const double secs = timed_on_threads(threads, [&](int t) {
                for (int p = 0; p < passes; p++) {
                    sink[t] += streams == 1 ? pass(bufs[t], per_thread) : read_streams(pass, bufs[t], per_thread, streams);
                }
            });
            const std::size_t read = streams == 1 ? per_thread : part * streams;
            best = std::max(best, static_cast<double>(read) * sizeof(float) * threads * passes / secs / 1e9);
        }
    }
    for (float* b : bufs) std::free(b);
    if (sink[0] == 42.0f) std::puts("");
    return best;
}

// With --keep-best: every figure becomes the better of this probe's and the one FILE holds from the same CPU (a
// probe at the start of a long benchmark run and one at its end): the machine drifts, and a ceiling is the most
// it has shown. A missing or unreadable file, or another CPU's, is replaced.
void keep_best_of(wb::MachineLimits& m, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const std::optional<wb::JsonValue> old = wb::parse_json(text);
    const wb::JsonValue* cpu = old ? old->find("cpu") : nullptr;
    if (cpu == nullptr || cpu->string != m.cpu) {
        std::fprintf(stderr, "probe_machine: no earlier probe of this CPU in %s to keep the best of\n", path.c_str());
        return;
    }
    if (const wb::JsonValue* runs = old->find("read_bandwidth")) {
        for (const wb::JsonValue& e : runs->array) {
            const wb::JsonValue *bytes = e.find("bytes"), *threads = e.find("threads"), *gbs = e.find("gbs");
            if (bytes == nullptr || threads == nullptr || gbs == nullptr) continue;
            for (auto& b : m.read_bandwidth) {
                if (b.bytes == static_cast<std::size_t>(bytes->number) && b.threads == static_cast<int>(threads->number)) {
                    b.gbs = std::max(b.gbs, gbs->number);
                }
            }
        }
    }
    auto best_by_threads = [](std::map<int, double>& now, const wb::JsonValue* was) {
        if (was == nullptr) return;
        for (const auto& [threads, value] : was->object) {
            const auto at = now.find(std::stoi(threads));
            if (at != now.end()) at->second = std::max(at->second, value.number);
        }
    };
    best_by_threads(m.fma_gflops, old->find("fma_gflops"));
    best_by_threads(m.bf16_gflops, old->find("bf16_gflops"));
    best_by_threads(m.int8_gops, old->find("int8_gops"));
    if (const wb::JsonValue* levels = old->find("levels")) {
        for (auto& [level, peaks] : m.levels) {
            const wb::JsonValue* was = levels->find(level);
            for (auto& [peak, by_threads] : peaks) best_by_threads(by_threads, was ? was->find(peak) : nullptr);
        }
    }
    std::fprintf(stderr, "probe_machine: kept the better of each figure and %s's\n", path.c_str());
}

// Peaks of one unit: `chains` independent accumulators, each advanced by `step` per iteration; `ops` operations per
// step (2 per multiply-add). The loops run on every thread together; the result is the aggregate rate in G/s.
constexpr long kIters = 50'000'000;

template <class Body>
double peak(int threads, double ops_per_iteration, Body body) {
    const double secs = timed_on_threads(threads, [&](int) { body(kIters); });
    return ops_per_iteration * kIters * threads / secs / 1e9;
}

// Each chain's result goes to a volatile sink so the loops are not folded away.
volatile float g_sink_f;
volatile int g_sink_i;

[[gnu::target("avx512f")]] void fma512(long iters) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
    for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    for (int i = 0; i < 12; i++) g_sink_f = _mm512_reduce_add_ps(acc[i]);
}

[[gnu::target("avx2,fma")]] void fma256(long iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i));
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
    for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    for (int i = 0; i < 12; i++) g_sink_f = _mm256_cvtss_f32(acc[i]);
}

[[gnu::target("avx512f,avx512bf16")]] void bf16dot512(long iters) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.999f), _mm512_set1_ps(0.5f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(2e-4f));
    for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    for (int i = 0; i < 12; i++) g_sink_f = _mm512_reduce_add_ps(acc[i]);
}

[[gnu::target("avx512f,avx512vnni")]] void vnni512(long iters) {
    __m512i acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
    for (int i = 0; i < 12; i++) g_sink_i = _mm512_reduce_add_epi32(acc[i]);
}

[[gnu::target("avx2,avxvnni")]] void vnni256(long iters) {
    __m256i acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_epi32(i);
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
    for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
    }
    for (int i = 0; i < 12; i++) g_sink_i = _mm256_cvtsi256_si32(acc[i]);
}

// The multiply-add the kernels use without VNNI: vpmaddubsw to int16 pairs, vpmaddwd by ones, vpaddd.
[[gnu::target("avx512bw")]] void widening512(long iters) {
    __m512i acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
    __m512i a = _mm512_set1_epi8(3);
    const __m512i b = _mm512_set1_epi8(-2), ones = _mm512_set1_epi16(1);
    for (long it = 0; it < iters; it++) {
        __asm__ volatile("" : "+v"(a));  // a fresh operand each iteration, so the products are not hoisted
        for (int i = 0; i < 12; i++) acc[i] = _mm512_add_epi32(acc[i], _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), ones));
    }
    for (int i = 0; i < 12; i++) g_sink_i = _mm512_reduce_add_epi32(acc[i]);
}

[[gnu::target("avx2")]] void widening256(long iters) {
    __m256i acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_epi32(i);
    __m256i a = _mm256_set1_epi8(3);
    const __m256i b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
    for (long it = 0; it < iters; it++) {
        __asm__ volatile("" : "+x"(a));  // a fresh operand each iteration, so the products are not hoisted
        for (int i = 0; i < 12; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
    }
    for (int i = 0; i < 12; i++) g_sink_i = _mm256_cvtsi256_si32(acc[i]);
}

// Each level's peaks on 1 .. max_threads threads into m.levels, and the best level's into the flat fields.
void measure_peaks(wb::MachineLimits& m, int max_threads) {
    using wb::Isa;
    struct Unit {
        Isa level;
        const char* peak;
        double ops;  // per iteration of 12 chains
        void (*body)(long);
    };
    const Unit units[] = {
        {Isa::avx2, "fma_gflops", 2.0 * 8 * 12, fma256},
        {Isa::avx2, "int8_gops", 2.0 * 32 * 12, widening256},
        {Isa::avx_vnni, "int8_gops", 2.0 * 32 * 12, vnni256},
        {Isa::avx512, "fma_gflops", 2.0 * 16 * 12, fma512},
        {Isa::avx512, "int8_gops", 2.0 * 64 * 12, widening512},
        {Isa::avx512_vnni, "int8_gops", 2.0 * 64 * 12, vnni512},
        {Isa::avx512_bf16, "bf16_gflops", 2.0 * 32 * 12, bf16dot512},
    };
    for (const Unit& u : units) {
        if (!wb::cpu_has(u.level)) continue;
        for (int t = 1; t <= max_threads; t++) {
            const double v = peak(t, u.ops, u.body);
            m.levels[wb::isa_name(u.level)][u.peak][t] = v;
            std::fprintf(stderr, "%-12s %d thread(s): %-12s %8.1f G/s\n", wb::isa_name(u.level), t, u.peak, v);
            std::map<int, double>& best = std::string(u.peak) == "fma_gflops" ? m.fma_gflops
                                        : std::string(u.peak) == "bf16_gflops" ? m.bf16_gflops : m.int8_gops;
            best[t] = v;  // units run lowest level first, so the flat fields end with the best level's
        }
    }
}

int probe_main(int argc, char** argv) {
    std::string out = "results/machine.json";
    bool keep_best = false;
    wb::cli::Args args(argc, argv);
    while (args.next()) {
        if (args.current() == "--help") {
            std::printf("usage: probe_machine [--keep-best] [-o FILE]\nMeasures read bandwidth by working-set size, peak fp32 FMA, bf16 dot\n"
                        "and int8 dot throughput with 1 and 2 threads; writes FILE (default results/machine.json).\n"
                        "--keep-best: each figure is the better of this probe's and FILE's, when FILE is of this CPU\n"
                        "(make bench probes before and after its runs: the machine drifts, a ceiling is the most it showed).\n");
            return 0;
        } else if (args.current() == "--keep-best") {
            keep_best = true;
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
    measure_peaks(m, max_threads);
    if (keep_best) keep_best_of(m, out);
    wb::write_machine_json(m, out);
    std::fprintf(stderr, "probe_machine: wrote %s\n", out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("probe_machine", probe_main, argc, argv); }
