#include "harness/machine.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/json.h"

namespace wb {

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(colon + 2);
        }
    }
    return "unknown";
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

void write_file_atomically(const std::string& path, const std::string& text) {
    const std::filesystem::path target(path);
    if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
    const std::string tmp = path + ".tmp." + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw std::runtime_error(path + ": cannot write");
    }
    std::filesystem::rename(tmp, target);
}

void write_machine_json(const MachineLimits& m, const std::string& path) {
    JsonWriter j;
    j.begin_object().field("cpu", m.cpu).begin_array("read_bandwidth");
    for (const auto& b : m.read_bandwidth) {
        j.begin_object().field("bytes", static_cast<long long>(b.bytes)).field("threads", b.threads).field("gbs", b.gbs).end_object();
    }
    j.end_array().key("fma_gflops").begin_object();
    for (const auto& [t, v] : m.fma_gflops) j.field(std::to_string(t), v);
    j.end_object().key("bf16_gflops").begin_object();
    for (const auto& [t, v] : m.bf16_gflops) j.field(std::to_string(t), v);
    j.end_object().key("int8_gops").begin_object();
    for (const auto& [t, v] : m.int8_gops) j.field(std::to_string(t), v);
    j.end_object().key("levels").begin_object();
    for (const auto& [level, peaks] : m.levels) {
        j.key(level).begin_object();
        for (const auto& [peak, by_threads] : peaks) {
            j.key(peak).begin_object();
            for (const auto& [t, v] : by_threads) j.field(std::to_string(t), v);
            j.end_object();
        }
        j.end_object();
    }
    j.end_object().end_object();
    write_file_atomically(path, j.str() + "\n");
}

}  // namespace wb
