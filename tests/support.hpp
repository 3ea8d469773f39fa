// Helpers shared by the tests: building programs, evaluating them with the
// scalar reference evaluator, and comparing floating-point values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/ir/eval.hpp"
#include "compiler/jit/target.hpp"
#include "compiler/lower/target_cpu.hpp"
#include "compiler/pipeline.hpp"

namespace actjit::test {

/// Builds a program from source against the catalogue; fails the test on error.
inline Program program(const std::string& source) {
  auto p = build_program(source, catalogue());
  if (!p) throw std::runtime_error("unexpected error: " + render(source, p.error()));
  return std::move(*p);
}

/// The error a source produces, rendered ("error: L:C: ...\n...\n   ^\n"),
/// or "" when it compiles.
inline std::string error_of(const std::string& source) {
  auto p = build_program(source, catalogue());
  return p ? "" : render(source, p.error());
}

/// Value of node `id` of `p` at x with the default parameters, in T.
template <class T>
T eval(const Program& p, ir::NodeId id, T x, const std::vector<double>& params = {}) {
  std::vector<T> ps;
  for (size_t j = 0; j < p.function.params.size(); ++j)
    ps.push_back(T(params.empty() ? p.function.params[j].default_value : params[j]));
  return ir::evaluate<T>(p.graph, std::vector<ir::NodeId>{id}, x, ps)[0];
}

/// Distance in units in the last place between two finite values.
template <class T>
double ulp_distance(T a, T b) {
  if (a == b) return 0;
  int e;
  std::frexp(std::max(std::fabs(a), std::fabs(b)), &e);
  int digits = std::numeric_limits<T>::digits;
  int min_exp = std::numeric_limits<T>::min_exponent;
  return std::fabs(double(a) - double(b)) / std::ldexp(1.0, std::max(e, min_exp) - digits);
}

/// The error of `got` in units in the last place of T at the exact value
/// (subnormal ULPs included; NaN and infinities: 0 where they agree, else inf).
template <class T>
double ulp_error(T got, long double exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0 : INFINITY;
  T rounded = T(exact);
  if (std::isinf(rounded) || std::isinf(got)) return got == rounded ? 0 : INFINITY;
  if (std::isnan(got)) return INFINITY;
  int e;
  std::frexp(std::fabs(rounded) > 0 ? rounded : std::numeric_limits<T>::min(), &e);
  int emin = std::numeric_limits<T>::min_exponent;
  long double ulp = std::ldexp(1.0L, std::max(e, emin) - std::numeric_limits<T>::digits);
  return double(std::fabs((long double)got - exact) / ulp);
}

/// Same value, treating all NaNs as equal and +-0 as equal.
template <class T>
bool same(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

/// Whether this process's float kernels take gelu's erfcx table (erf.cpp,
/// table_erfc_target): 512-bit AVX-512 ones, or 256-bit ones with AVX2 and
/// FMA — not where ACTJIT_VECTOR_BITS asks for SSE's 128 bits.
inline bool table_erfc_kernels() {
  const char* bits = std::getenv("ACTJIT_VECTOR_BITS");
  if (bits && std::atoi(bits) > 0 && std::atoi(bits) < 256) return false;
  return __builtin_cpu_supports("avx512f") || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
}

/// Whether float64 kernels here take erfc(y / sqrt 2) from the inline table
/// (erf.cpp's kErfcxTable64: 512-bit registers with AVX-512F) rather than
/// SLEEF's erfc.
inline bool table_erfc_f64_kernels() {
  const char* bits = std::getenv("ACTJIT_VECTOR_BITS");
  if (bits && std::atoi(bits) > 0 && std::atoi(bits) < 512) return false;
  return __builtin_cpu_supports("avx512f");
}

/// Whether float kernels here take exp's table form (exp.cpp, table_form:
/// 512-bit registers with AVX-512F; the same condition as the float64 erfc
/// table's).
inline bool table_exp_kernels() { return table_erfc_f64_kernels(); }

/// Whether kernels here take products by powers of two as vscalef
/// (lower::scale_by_powers_of_two: 512-bit registers with AVX-512F on an
/// AMD Zen).
inline bool scalef_kernels() { return table_erfc_f64_kernels() && lower::amd_zen(jit::host_target().cpu); }

/// Whether every elementwise kernel here streams its stores out of cache
/// (lower::streaming_stores_pay: targets other than AMD Zen), not only the
/// light ones.
inline bool every_kernel_streams() { return !lower::amd_zen(jit::host_target().cpu); }

/// Whether float kernels here take correction quotients from a refined
/// reciprocal (vmath::Ctx::div_damped: 512-bit registers with AVX-512F,
/// not on AMD Zen).
inline bool damped_divisions() { return table_exp_kernels() && !lower::amd_zen(jit::host_target().cpu); }

/// One runtime (JIT engine and cache) shared by a test program's cases.
inline Runtime& shared_runtime() {
  static Runtime rt;
  return rt;
}

/// The catalogue's elementwise activation names (definitions not starting
/// with '_'); with `rowwise`, the row-wise ones (softmax, ...) instead.
inline std::vector<std::string> catalogue_names(bool rowwise = false) {
  std::vector<std::string> out;
  for (auto& d : catalogue().definitions())
    if (d.def->name[0] != '_' && program(d.def->name).row.rowwise == rowwise) out.push_back(d.def->name);
  if (!rowwise) out.push_back("tanh");
  return out;
}

}  // namespace actjit::test
