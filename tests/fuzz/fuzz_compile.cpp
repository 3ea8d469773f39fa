// libFuzzer target: parse -> analyse -> simplify -> differentiate -> JIT ->
// run. Every input must give a diagnostic or kernels; the kernels must agree
// with the scalar reference evaluator on a few points (same NaN-ness, and
// close values where the evaluator's result is finite and well conditioned),
// and the float32 kernels give NaN at a finite x only where the float64 ones
// do (the runtime's float64 pass over watched lanes, ir::may_lose_nan).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/ir/eval.hpp"
#include "compiler/ir/row.hpp"
#include "compiler/pipeline.hpp"

namespace {
actjit::Runtime& runtime() {
  static actjit::Runtime rt = [] {
    actjit::Limits l;
    l.max_source_bytes = 4096;  // keep each run short
    l.max_kernel_nodes = 2000;
    l.max_compile_seconds = 5;
    l.max_cached_kernels = 64;
    actjit::Runtime rt(l);
    rt.set_cache_dir("");  // thousands of throwaway functions: no disk cache
    return rt;
  }();
  return rt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string src(reinterpret_cast<const char*>(data), size);
  actjit::Kernel k;
  try {
    k = runtime().compile(src, actjit::DType::F64);
  } catch (const actjit::Error& e) {
    if (e.rendered().rfind("error: ", 0) != 0) std::abort();
    return 0;
  }
  actjit::CompileOptions opts;
  opts.max_kernel_nodes = 2000;
  auto p = actjit::build_program(src, actjit::catalogue(), opts);
  if (!p) std::abort();  // the runtime compiled it, so the front end must too
  std::vector<double> x{-3.5, -1.0, -0.0, 0.25, 2.0, 40.0, 1e10, NAN, INFINITY}, y(x.size()), dx(x.size()),
      ones(x.size(), 1.0);
  std::vector<double> dparams(k.params().size());
  if (k.rowwise()) {
    // x as one row: either the function takes rows of this length (and the
    // kernel agrees with the row reference evaluator on NaN-ness), or the
    // call is refused as misuse.
    size_t out = k.output_cols(x.size());
    if (out == 0) {
      try {
        k.forward(x, y);
      } catch (const std::invalid_argument&) {
        return 0;
      }
      std::abort();
    }
    std::vector<double> x8(x.begin(), x.begin() + 6);  // finite, ordinary values
    out = k.output_cols(x8.size());
    if (out == 0) return 0;
    std::vector<double> y8(out), dy8(out, 1.0), dx8(x8.size());
    k.forward(x8, y8);
    k.backward(x8, dy8, dx8, {}, dparams);
    auto want = actjit::ir::evaluate_row<double>(p->graph, std::vector<actjit::ir::NodeId>{p->value}, x8,
                                                 k.default_params());
    // A NaN mismatch with the double reference is checked again in long
    // double: the kernels take log(sum(exp(x - max))) as log1p of the
    // other terms' sum, which the double reference rounds to log(1) = 0
    // (and (-3.5)^-3.6e-17 is NaN where (-3.5)^0 is 1).
    std::vector<double> defaults = k.default_params();
    std::vector<long double> x8l(x8.begin(), x8.end()), params_l(defaults.begin(), defaults.end());
    auto want_l = actjit::ir::evaluate_row<long double>(p->graph, std::vector<actjit::ir::NodeId>{p->value}, x8l, params_l);
    for (size_t i = 0; i < out; ++i) {
      double w = want[0][want[0].size() == 1 ? 0 : i];
      long double wl = want_l[0][want_l[0].size() == 1 ? 0 : i];
      if (std::isnan(w) != std::isnan(y8[i]) && std::isnan(wl) != std::isnan(y8[i]) && std::fabs(w) < 1e300) std::abort();
    }
    return 0;
  }
  k.forward(x, y);
  k.backward(x, ones, dx, {}, dparams);
  // The float32 kernels give NaN from a finite x only where float64 does:
  // either the NaN is the function's own, which both precisions meet alike
  // (ir::may_lose_nan), or the kernel watches for it and the runtime
  // recomputes the lane in float64.
  actjit::Kernel k32;
  try {
    k32 = runtime().compile(src, actjit::DType::F32);
  } catch (const actjit::Error&) {
    std::abort();  // compiled for float64, so it must for float32
  }
  std::vector<float> x32(x.begin(), x.end()), y32(x.size()), dx32(x.size()), ones32(x.size(), 1.0f);
  k32.forward(x32, y32);
  k32.backward(x32, ones32, dx32);
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && ((std::isnan(y32[i]) && !std::isnan(y[i])) || (std::isnan(dx32[i]) && !std::isnan(dx[i]))))
      std::abort();
  std::vector<double> params = k.default_params();
  for (size_t i = 0; i < x.size(); ++i) {
    double want = actjit::ir::evaluate<double>(p->graph, std::vector<actjit::ir::NodeId>{p->value}, x[i], params)[0];
    if (std::isnan(want) != std::isnan(y[i]) && std::isfinite(x[i]) && std::fabs(x[i]) < 100) {
      // The kernels' vector math and libm may disagree only at the edges of
      // their ranges; a NaN mismatch on an ordinary input is a bug, unless
      // long double sides with the kernel: a negative base's power whose
      // exponent rounds to an integer in double only ((-1)^-mish(19), where
      // mish(19) = 19 - 1.2e-15 rounds to 19).
      std::vector<long double> params_l(params.begin(), params.end());
      long double want_l = actjit::ir::evaluate<long double>(p->graph, std::vector<actjit::ir::NodeId>{p->value},
                                                             (long double)x[i], params_l)[0];
      if (std::isnan(want_l) != std::isnan(y[i])) std::abort();
    }
  }
  return 0;
}
