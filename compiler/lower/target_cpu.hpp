// Facts about target CPUs that the lowering's machine-specific choices go by.
#pragma once

#include <string_view>

namespace actjit::lower {

/// Whether `cpu`, an LLVM target-cpu name, is an AMD Zen (znver*): where
/// the choices measured on Zen 4 and 5 apply (vscalef products, splat
/// constants as registers, plain stores for heavy kernels out of cache,
/// float divisions kept as divisions). Intel's AVX-512 cores
/// (sapphirerapids, measured in the sixty-first sitting) and the generic
/// x86-64-v4 take the other side of each.
inline bool amd_zen(std::string_view cpu) { return cpu.starts_with("znver"); }

}  // namespace actjit::lower
