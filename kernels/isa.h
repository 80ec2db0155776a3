// Instruction-set levels: the one place that names them and knows which this CPU has.
//
// A kernel's registry row names the level its code was compiled for (kernels/levels/), and a run chooses rows
// up to a cap: the best level the CPU has, or what --isa (or WORKBENCH_ISA, for tests and scripts) asks for.
// The levels form a chain; a row runs when its level is at or below the cap and the CPU has that level's
// features (AVX-VNNI sits below AVX-512 because CPUs that have it without AVX-512 are the commoner kind).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wb {

enum class Isa : std::uint8_t {
    scalar,       // the architecture's baseline: x86-64 (SSE2), aarch64 (NEON)
    avx2,         // AVX2 + FMA + F16C (x86-64-v3)
    avx_vnni,     // x86-64-v3 + AVX-VNNI: 256-bit vpdpbusd
    avx512,       // AVX-512 F, BW, VL, DQ, CD (x86-64-v4)
    avx512_vnni,  // + AVX-512 VNNI: 512-bit vpdpbusd
    avx512_bf16,  // + AVX-512 VNNI and BF16: vdpbf16ps
};

struct IsaLevel {
    Isa isa;
    const char* name;         // as --isa takes it: "avx-vnni"
    const char* description;  // one line: the features it needs
};

// Every level, lowest first.
std::span<const IsaLevel> isa_levels();
const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);

// Whether this CPU (and its operating system) can run code compiled for the level.
bool cpu_has(Isa isa);
// The highest level this CPU has.
Isa best_isa();
// "scalar, avx2, ..." for the levels this CPU has.
std::string cpu_isa_names();

// A cap from a user's word: throws std::invalid_argument with one line naming the known levels, or the ones
// this CPU has when it lacks the one asked for.
Isa checked_isa(std::string_view name);

// The cap a run takes unless told otherwise: best_isa(), or WORKBENCH_ISA's level when that is set (checked as
// checked_isa does).
Isa default_isa();

// Whether a row compiled for `row` runs under `cap` on this CPU.
bool runs_under(Isa row, Isa cap);

}  // namespace wb
