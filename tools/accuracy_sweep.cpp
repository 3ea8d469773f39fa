// The float32 accuracy of every elementwise built-in, forward and backward,
// over every float (all 2^32 bit patterns but NaNs, or every STRIDE-th),
// against the function's float64 kernel (see accuracy_sweep.hpp). Prints a
// markdown table for ACCURACY.md: the maximum error in ULP of the correctly
// rounded float64 value, where it occurs, and for the backward how many
// points exceed 8 ULP by more than 1e-7 absolute (the issue's "or 1e-7
// absolute near zero").
//
//   build/tools/actjit_accuracy [--stride N] [--only NAME,...] [--threads T]
//
// With --f64: the float64 kernels against LANGUAGE.md's definitions
// evaluated in MPFR (mpfr_sweep.hpp) over N sampled doubles (default 2^20).
//
//   build/tools/actjit_accuracy --f64 [--points N] [--only NAME,...] [--threads T]
#include <cstdio>

#include "tools/accuracy_sweep.hpp"
#include "tools/cli_args.hpp"
#ifdef ACTJIT_HAVE_MPFR
#include "tools/mpfr_sweep.hpp"
#endif

namespace {

int sweep_f64(size_t points, const std::vector<std::string>& only, unsigned threads) {
#ifdef ACTJIT_HAVE_MPFR
  actjit::Runtime rt;
  std::vector<double> x = actjit::mpfr_sweep::inputs(points);
  std::printf("| function | f64 forward max ULP | at x | f64 backward max ULP | at x | backward points > 8 ULP and > 1e-15 abs | inputs | skipped |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& spec : actjit::mpfr_sweep::specs()) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    actjit::mpfr_sweep::Result r = actjit::mpfr_sweep::run(rt, spec, x, threads);
    std::printf("| %s | %.2f | %.17g | %.2f | %.17g | %llu | %llu | %llu |\n", spec.name, r.forward.ulp, r.forward.at,
                r.backward.ulp, r.backward.at, (unsigned long long)r.backward.over, (unsigned long long)r.forward.inputs,
                (unsigned long long)r.skipped);
    std::fflush(stdout);
  }
  return 0;
#else
  (void)points, (void)only, (void)threads;
  std::fputs("error: --f64 needs MPFR (apt-get install libmpfr-dev, then rebuild)\n", stderr);
  return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t stride = 1;
  size_t points = size_t(1) << 20;
  bool f64 = false;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] { return actjit::cli::option_value(argc, argv, i); };
    if (a == "--stride") {
      stride = std::max<uint64_t>(1, std::stoull(value()));
    } else if (a == "--f64") {
      f64 = true;
    } else if (a == "--points") {
      points = std::max<size_t>(1, std::stoull(value()));
    } else if (a == "--only") {
      only = actjit::cli::split_list(value());
    } else if (a == "--threads") {
      threads = std::max(1u, unsigned(std::stoul(value())));
    } else if (a == "--help" || a == "-h") {
      std::puts("usage: actjit_accuracy [--stride N] [--only NAME,...] [--threads T]\n"
                "       actjit_accuracy --f64 [--points N] [--only NAME,...] [--threads T]\n"
                "Max ULP error of every elementwise built-in in float32 (forward and backward, dy = 1)\n"
                "over every N-th float bit pattern (default: all), against its float64 kernel;\n"
                "with --f64, of the float64 kernels over N sampled doubles (default 2^20) against\n"
                "the definitions of LANGUAGE.md's catalogue evaluated in MPFR.");
      return 0;
    } else {
      std::fprintf(stderr, "error: unknown option '%s' (--help lists them)\n", a.c_str());
      return 2;
    }
  }
  actjit::set_threads(1);  // the sweep splits the range itself
  if (f64) return sweep_f64(points, only, threads);
  actjit::Runtime rt;
  std::printf("| function | f32 forward max ULP | at x | f32 backward max ULP | at x | backward points > 8 ULP and > 1e-7 abs | inputs |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& name : actjit::sweep::catalogue_names()) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    actjit::Kernel k32 = rt.compile(name, actjit::DType::F32);
    if (k32.rowwise()) continue;
    actjit::sweep::Result r = actjit::sweep::run(k32, rt.compile(name, actjit::DType::F64), stride, threads);
    std::printf("| %s | %.2f | %.9g | %.2f | %.9g | %llu | %llu |\n", name.c_str(), r.forward.ulp, double(r.forward.at),
                r.backward.ulp, double(r.backward.at), (unsigned long long)r.backward.over,
                (unsigned long long)r.forward.inputs);
    std::fflush(stdout);
  }
  return 0;
}
