// The machine kernels are compiled for: the host CPU and its features, and
// the vector width the kernels use (AVX-512 -> 512 bits, AVX -> 256, else 128).
#pragma once

#include <string>

namespace actjit::jit {

struct TargetInfo {
  std::string triple;
  std::string cpu;       // e.g. "znver4"
  std::string features;  // LLVM feature string, e.g. "+avx512f,+avx2,..."
  unsigned vector_bits = 128;
};

/// The host, as LLVM detects it. ACTJIT_VECTOR_BITS=128|256|512 in the
/// environment lowers the vector width (for testing other widths).
const TargetInfo& host_target();

}  // namespace actjit::jit
