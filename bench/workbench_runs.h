// What bench_all, bench_batched and bench_depth share about a run: the variants a model runs when none are named,
// the common and kernel fields of its record, and the deterministic tokens the throughput benchmarks feed.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "harness/record.h"
#include "model/memory_guard.h"
#include "model/transformer.h"
#include "variants/variants.h"

namespace wb {

// The variants to run on a model of these matrices: those named, else the one its stored types call for (said on
// stderr as "PROGRAM: variant ...: why" unless quiet).
inline std::vector<std::string> workbench_variants(const std::vector<std::string>& named, const WeightFootprint& w,
                                                   const char* program, bool quiet) {
    if (!named.empty()) return named;
    const DefaultChoice choice = default_variant_for(stored_types(w));
    if (!quiet) std::fprintf(stderr, "%s: variant %s: %s (--variants overrides)\n", program, choice.variant.c_str(), choice.reason.c_str());
    return {choice.variant};
}

// The fields of a record of `kind` that every benchmark fills alike: when, by which command and build, who ran
// (impl, variant, threads) and on which model (its name, file or "synthetic", and its fp32 matrix bytes).
inline Record run_record(const std::string& kind, const std::string& command, const BuildInfo& build,
                         const std::string& impl, const std::string& variant, int threads, const cli::ModelSpec& spec,
                         const Config& c) {
    Record r;
    r.kind = kind;
    r.timestamp = utc_now();
    r.command = command;
    r.build = build;
    r.impl = impl;
    r.variant = variant;
    r.threads = threads;
    r.model = spec.name;
    r.model_source = spec.path ? *spec.path : "synthetic";
    r.model_bytes = static_cast<long long>(c.matmul_params() * 4);
    return r;
}

// A workbench record's kernel fields: the kernel of most of the weights, what it streams and holds, the attention
// kernel, the level, the cache type, and whether the run is lossy (a lossy kernel, or a cache other than f32:
// correctness gates compare with naive on an f32 cache).
inline void describe_workbench_run(Record& r, const Kernels& k, const WeightFootprint& w, DType kv_type) {
    const MatmulKernel& main = k.matmul_for(stored_types(w).front());
    r.matmul = main.name;
    r.attention = k.attention->name;
    r.bytes_per_weight = static_cast<float>(streamed_bytes_per_weight(w, k));
    r.weights_held = holding_name(main.holding);
    r.lossy = k.lossy() || kv_type != DType::f32;
    r.kv_type = kv_type_name(kv_type);
    r.isa = isa_name(k.isa());
    r.weight_type = traits(main.streams).name;
}

// Token i of sequence s of a benchmark's synthetic input: BOS, then a deterministic spread over the vocabulary.
inline int synthetic_token(int s, int i, int vocab) {
    if (i == 0) return 1;
    return static_cast<int>((7919ull * static_cast<unsigned long long>(s + 1) + 104729ull * static_cast<unsigned long long>(i)) %
                            static_cast<unsigned long long>(vocab));
}

}  // namespace wb
