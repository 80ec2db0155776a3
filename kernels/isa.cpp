#include "kernels/isa.h"

#include <cstdlib>
#include <stdexcept>

namespace wb {

static const IsaLevel kLevels[] = {
#if defined(__x86_64__)
    {Isa::scalar, "scalar", "x86-64 baseline (SSE2)"},
#else
    {Isa::scalar, "scalar", "the architecture's baseline"},
#endif
    {Isa::avx2, "avx2", "AVX2, FMA and F16C (x86-64-v3)"},
    {Isa::avx_vnni, "avx-vnni", "x86-64-v3 and AVX-VNNI (256-bit vpdpbusd)"},
    {Isa::avx512, "avx512", "AVX-512 F, BW, VL, DQ and CD (x86-64-v4)"},
    {Isa::avx512_vnni, "avx512-vnni", "x86-64-v4 and AVX-512 VNNI"},
    {Isa::avx512_bf16, "avx512-bf16", "x86-64-v4, AVX-512 VNNI and AVX-512 BF16"},
};

std::span<const IsaLevel> isa_levels() { return kLevels; }

const char* isa_name(Isa isa) {
    for (const IsaLevel& l : kLevels) {
        if (l.isa == isa) return l.name;
    }
    return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
    for (const IsaLevel& l : kLevels) {
        if (name == l.name) return l.isa;
    }
    return std::nullopt;
}

bool cpu_has(Isa isa) {
#if defined(__x86_64__)
    // libgcc's checks include the operating system's saving of the wider registers (XGETBV).
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
                    __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                    __builtin_cpu_supports("avx512cd");
    switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return v3;
    case Isa::avx_vnni: return v3 && __builtin_cpu_supports("avxvnni");
    case Isa::avx512: return v4;
    case Isa::avx512_vnni: return v4 && __builtin_cpu_supports("avx512vnni");
    case Isa::avx512_bf16: return v4 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16");
    }
    return false;
#else
    return isa == Isa::scalar;
#endif
}

Isa best_isa() {
    Isa best = Isa::scalar;
    for (const IsaLevel& l : kLevels) {
        if (cpu_has(l.isa)) best = l.isa;
    }
    return best;
}

std::string cpu_isa_names() {
    std::string names;
    for (const IsaLevel& l : kLevels) {
        if (!cpu_has(l.isa)) continue;
        if (!names.empty()) names += ", ";
        names += l.name;
    }
    return names;
}

Isa checked_isa(std::string_view name) {
    const std::optional<Isa> isa = parse_isa(name);
    if (!isa) {
        std::string known;
        for (const IsaLevel& l : kLevels) known += (known.empty() ? "" : ", ") + std::string(l.name);
        throw std::invalid_argument("unknown instruction-set level '" + std::string(name) + "' (known: " + known + ")");
    }
    if (!cpu_has(*isa)) {
        throw std::invalid_argument("this CPU lacks " + std::string(name) + " (it has: " + cpu_isa_names() + ")");
    }
    return *isa;
}

Isa default_isa() {
    const char* forced = std::getenv("WORKBENCH_ISA");
    if (forced == nullptr || *forced == '\0') return best_isa();
    try {
        return checked_isa(forced);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("WORKBENCH_ISA: ") + e.what());
    }
}

bool runs_under(Isa row, Isa cap) { return row <= cap && cpu_has(row); }

}  // namespace wb
