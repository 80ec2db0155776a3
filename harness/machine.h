// The machine a result came from and the ceilings probe_machine measured on it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace wb {

struct MachineLimits {
    struct Bandwidth {
        std::size_t bytes;
        int threads;
        double gbs;
    };
    std::string cpu;
    std::vector<Bandwidth> read_bandwidth;
    std::map<int, double> fma_gflops;  // by thread count
    std::map<int, double> bf16_gflops;  // vdpbf16ps; 0 without AVX512-BF16
    std::map<int, double> int8_gops;
    // The same peaks per instruction-set level the CPU has (kernels/isa.h names): level -> peak name -> threads -> value,
    // so a kernel is read against the units of the level it ran at.
    std::map<std::string, std::map<std::string, std::map<int, double>>> levels;
};

std::string cpu_model();  // /proc/cpuinfo's model name
std::string host_name();

// Written atomically (temporary file, then rename).
void write_machine_json(const MachineLimits& m, const std::string& path);

// Writes text to path through a temporary file and a rename, so readers never see half a file.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace wb
