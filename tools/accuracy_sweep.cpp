// The float32 accuracy of every elementwise built-in, forward and backward,
// over every float (all 2^32 bit patterns but NaNs, or every STRIDE-th),
// against the function's float64 kernel (see accuracy_sweep.hpp). Prints a
// markdown table for ACCURACY.md: the maximum error in ULP of the correctly
// rounded float64 value, where it occurs, and for the backward how many
// points exceed 8 ULP by more than 1e-7 absolute (the issue's "or 1e-7
// absolute near zero").
//
//   build/tools/actjit_accuracy [--stride N] [--only NAME,...] [--threads T]
#include <cstdio>

#include "tools/accuracy_sweep.hpp"
#include "tools/cli_args.hpp"

int main(int argc, char** argv) {
  uint64_t stride = 1;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] { return actjit::cli::option_value(argc, argv, i); };
    if (a == "--stride") {
      stride = std::max<uint64_t>(1, std::stoull(value()));
    } else if (a == "--only") {
      only = actjit::cli::split_list(value());
    } else if (a == "--threads") {
      threads = std::max(1u, unsigned(std::stoul(value())));
    } else if (a == "--help" || a == "-h") {
      std::puts("usage: actjit_accuracy [--stride N] [--only NAME,...] [--threads T]\n"
                "Max ULP error of every elementwise built-in in float32 (forward and backward, dy = 1)\n"
                "over every N-th float bit pattern (default: all), against its float64 kernel.");
      return 0;
    } else {
      std::fprintf(stderr, "error: unknown option '%s' (--help lists them)\n", a.c_str());
      return 2;
    }
  }
  actjit::set_threads(1);  // the sweep splits the range itself
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
