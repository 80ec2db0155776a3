// Included by the kernel sources that are compiled once per instruction-set level (CMake's workbench_level()):
// WB_ISA_NS names the level's namespace (isa_avx2) and WB_ISA its kernels/isa.h enumerator (avx2). Each copy of
// such a source lives in wb::WB_ISA_NS, so the copies never share a symbol.
#pragma once

#include "kernels/isa.h"
#include "kernels/registry.h"

#if !defined(WB_ISA_NS) || !defined(WB_ISA)
#error "this source is compiled per level: CMake's workbench_level() defines WB_ISA_NS and WB_ISA"
#endif

namespace wb::WB_ISA_NS {
inline constexpr Isa kIsa = Isa::WB_ISA;
}  // namespace wb::WB_ISA_NS
